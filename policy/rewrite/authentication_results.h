// Sender authenticity from Authentication-Results (RFC 8601).
//
// The envelope sender of a party's message is checked at RCPT against the
// party's addresses, but an envelope can be forged.  The MTA in front of the
// milter (OpenDKIM, OpenDMARC, a policy daemon for SPF) records what it
// verified in Authentication-Results fields under its own authserv-id; the
// policy (authentication:) names the ids to believe.  Fields under any other
// id were written by someone else, often the sender: they are never
// believed, and removed when the header policy would deliver them.
//
// With require_alignment, a party's message needs an SPF, DKIM or DMARC
// pass from a trusted field whose domain (smtp.mailfrom, header.d or
// header.i, header.from) has the same registrable domain (public suffix
// list; DMARC's relaxed alignment) as the party's address.
//
// The field is read by a tokenizer for RFC 8601's grammar (comments,
// quoted strings, folding), not by patterns: a comment or a quoted string
// that looks like "dkim=pass" is not one.  Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/message.h"

namespace mm::policy {

struct AuthenticationPolicy {
    enum class Action { reject, quarantine };
    std::vector<std::string> trusted_authserv_ids;  // lower case; empty: the section is off
    bool require_alignment = false;
    Action action = Action::reject;

    bool enabled() const { return !trusted_authserv_ids.empty(); }
    bool operator==(const AuthenticationPolicy&) const = default;
};

// One resinfo: "dkim=pass header.d=example.com".
struct AuthResult {
    std::string method;  // lower case, without a version: "spf", "dkim", "dmarc"
    std::string result;  // lower case: "pass", "fail", "none", ...
    // "ptype.property" (lower case) and its value as written (quotes removed).
    std::vector<std::pair<std::string, std::string>> properties;

    const std::string* property(std::string_view key) const;
};

struct AuthResults {
    std::string authserv_id;          // lower case
    std::vector<AuthResult> results;  // empty for "none"
};

// One field's value; nullopt when it does not follow the grammar.
std::optional<AuthResults> parse_authentication_results(std::string_view value);

struct SenderAuthentication {
    // Occurrences (1-based) of Authentication-Results whose authserv-id is
    // not trusted, or that cannot be read.
    std::vector<int> untrusted;
    int trusted = 0;
    // The first aligned pass, "dkim header.d=example.com"; empty: none.
    std::string aligned_pass;
};

// The message's Authentication-Results judged under `policy`; `domain` is
// the party's (lower case), empty when alignment is not asked for.
SenderAuthentication judge_authentication(const Message& message,
                                          const AuthenticationPolicy& policy,
                                          std::string_view domain);

// The registrable domain of `domain` (public suffix list), the name itself
// when it has none (a public suffix, a single label).
std::string organizational_domain(std::string_view domain);

}  // namespace mm::policy
