// Header privacy: which of the sender's header fields reach the other side,
// and what To/Cc may contain there.
//
// The default is an allow-list (HeaderPolicy::Mode::allow): every header that
// is not kept is removed, so a header nobody thought of (a new ARC-*, a
// vendor's X-*) cannot leak the sender's host, address or client.  A
// block-list mode stays for operators who want it.
//
// Some headers are never removed by header_removals(), whatever the lists say,
// because another step owns them:
//   From                         rebuilt from the directory (evaluate)
//   To, Cc, Bcc                  recipient_header_edits() below
//   Message-ID, In-Reply-To,     the threading rewrite (Message-ID replaced by
//   References                   a marketplace one, the others mapped back)
//   X-Marketplace-*              always removed by evaluate (forged verdicts)
// So the edits of header_removals() never touch the same name as any other
// edit evaluate produces for those fields.
//
// Pure functions; thread-safe (GMime must be initialised: ensure_gmime()).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/message.h"
#include "policy/verdict.h"

namespace mm::policy {

struct HeaderPolicy {
    enum class Mode { allow, block };
    Mode mode = Mode::allow;
    // Allow mode: the headers that pass.  Lower-case names, or prefixes
    // ending in '*' ("content-*").
    //
    // Chosen to be what mail clients need to show, thread and auto-reply
    // correctly, and nothing that names a host, an address or a client:
    //   - x-auto-response-suppress, precedence, auto-submitted: kept, they stop
    //     auto-replies (which carry signatures) and vacation loops.
    //   - importance, priority, x-priority: flags only.
    //   - accept-language: a language tag the reply should use.
    //   - thread-topic: NOT kept.  Outlook's second copy of the first
    //     Subject of the thread, which a check on Subject would not see.
    //   - thread-index: NOT kept.  Opaque base64 from the sender's client (a
    //     timestamp and the sender-side conversation GUID, which would let the
    //     two sides correlate threads across pairs); clients thread on
    //     In-Reply-To/References, which the marketplace maps.
    // An operator can add either to `keep`.
    std::vector<std::string> keep = {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "mime-version",
        "content-*",
        "in-reply-to",
        "references",
        "message-id",
        "auto-submitted",
        "x-auto-response-suppress",
        "precedence",
        "importance",
        "priority",
        "x-priority",
        "accept-language",
    };
    // Block mode: the headers removed (same syntax).  Allow mode: an extra
    // deny list applied after `keep` (a header in both is removed).
    std::vector<std::string> remove;
    // Inline parts' Content-IDs (and the HTML's cid: URLs) rewritten to
    // neutral ids under the marketplace domain (policy/mime/content_ids.h):
    // clients make them from the sender's host name.  Off by default in
    // block mode, like every other header that is not listed.
    bool neutral_content_ids = true;

    bool operator==(const HeaderPolicy&) const = default;
};

const char* to_string(HeaderPolicy::Mode mode);

// True when `pattern` ("received", "content-*") selects header `name`
// (case-insensitive; the pattern is lower case).
bool header_pattern_matches(std::string_view pattern, std::string_view name);

// True for the headers header_removals() never removes (see above).
bool header_owned_elsewhere(std::string_view name);

// True when `name` passes to the other side under `policy` (protected
// headers always do: their own step rewrites them).
bool header_passes(const HeaderPolicy& policy, std::string_view name);

// Removals of every header that does not pass: for each name, highest
// occurrence first, names in the order first seen.  Never a header that
// header_owned_elsewhere().
std::vector<HeaderEdit> header_removals(const Message& message, const HeaderPolicy& policy);

// The same plan for the names `select` picks (asked once per distinct name).
// Linear in the number of headers (header_names()).
std::vector<HeaderEdit> header_removals_where(const Message& message,
                                              const std::function<bool(std::string_view)>& select);

// One of this pair's aliases as the recipient should see it.
struct AliasMailbox {
    std::string address;       // full address, "3f9a0c6e1d2b4a77@marketplace.example"
    std::string display_name;  // the marketplace's name for the party behind it; may be empty
};

struct RecipientEdits {
    std::vector<HeaderEdit> edits;  // To, Cc and Bcc only
    int removed_addresses = 0;      // mailboxes dropped from To/Cc, other pairs' aliases included
    int removed_other_aliases = 0;  // of which: addresses in the marketplace domain
    int renamed = 0;                // alias display names replaced by the directory's
    bool changed() const { return !edits.empty(); }
};

// To and Cc as the recipient sees them: only this pair's two aliases.
//
// Every other mailbox is dropped: real addresses (a real address beside an
// alias lets "reply all" bypass the marketplace), other pairs' aliases (never
// delivered to that pair) and anything else.  Groups are flattened to the
// aliases they contain (a group's name is the sender's text).  An alias keeps
// no display name but the directory's: a name the sender typed could carry
// an address or a phone number.  `addressed` is the alias the message was
// sent to; it always ends up in To (added there, and dropped from Cc, when
// the sender did not put it in To).  Several To (or Cc) fields are merged into
// one.  Bcc fields are removed.  A header whose addresses are already clean
// gets no edit; a changed one is re-encoded by GMime (RFC 2047 names).
//
// `domain` is the marketplace domain, used only to count other pairs'
// aliases apart in removed_other_aliases.
RecipientEdits recipient_header_edits(const Message& message, const std::string& domain,
                                      const AliasMailbox& addressed, const AliasMailbox& other);

}  // namespace mm::policy
