// rewrite_dsn: a bounce (delivery status notification, RFC 3464) coming back
// to an alias, rewritten so that the alias owner learns nothing of the other
// side: no real address, no mail host of the other side.
//
// The message is parsed with GMime (own parser options) and walked:
//   - message/delivery-status: Final-Recipient, Original-Recipient and
//     X-Actual-Recipient become "rfc822; <counterpart alias>"; Reporting-MTA,
//     Remote-MTA, Received-From-MTA and DSN-Gateway become "dns; <domain>";
//     every other field (Diagnostic-Code, ...) is scrubbed as text; Action and
//     Status are kept;
//   - text/rfc822-headers and the header of a returned message/rfc822: only
//     From, To, Cc, Subject, Date, Message-ID, In-Reply-To, References,
//     MIME-Version and Content-* are kept (Received, Return-Path, DKIM-*,
//     ARC-*, Authentication-Results, X-* ... are dropped), and scrubbed;
//   - every other text part (the human-readable explanation, the returned
//     message's body) is scrubbed.
// "Scrubbed": the counterpart's real addresses (its delivery address and
// approved senders) become its alias, any other address outside the
// marketplace domain is redacted, the other side's mail hosts (from the
// MTA fields, the top-level Received and From headers, the domains of the
// counterpart's addresses) become the marketplace domain and IPv4 literals
// are removed.  A plain-text bounce (old MTAs, qmail) is scrubbed as a whole.
// The top-level From becomes "Mail Delivery System <MAILER-DAEMON@domain>";
// other top-level headers are scrubbed, top-level Received, DKIM-* and ARC-*
// naming the other side's hosts are removed.
//
// Pure, no I/O; thread-safe (one GMime tree per call).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "alias/party.h"
#include "policy/message.h"
#include "policy/verdict.h"

namespace mm::policy {

struct DsnRewrite {
    // Set when the body changed: the new body (CRLF) and, in header_edits, the
    // top-level Content-* changes that go with it.
    std::optional<MessageBody> new_body;
    // Top-level header edits in application order (removals of one name
    // highest index first); includes the From rewrite when is_dsn.
    std::vector<HeaderEdit> header_edits;
    // What was done, for the audit trail (never a real address).
    std::vector<std::string> notes;
    // multipart/report (report-type delivery-status), or a plain-text bounce
    // recognised by its From (MAILER-DAEMON, postmaster) or Subject.
    bool is_dsn = false;
    // The returned message's Message-ID is not one the marketplace sent
    // (only when a known_message callback was given).
    bool backscatter = false;
    // The Message-ID of the returned message (text/rfc822-headers or
    // message/rfc822), without <>; nullopt when the bounce returned no
    // headers (the caller decides what that means).
    std::optional<std::string> returned_message_id;
};

// `pair` is what the alias recipient resolved to: the bounce goes to
// pair.owner, and pair.counterpart is the side whose addresses must vanish.
// `known_message` (optional) answers whether a Message-ID is one the
// marketplace delivered.
DsnRewrite rewrite_dsn(
    const Message& message, const alias::ResolvedAlias& pair, const std::string& domain,
    const std::function<bool(const std::string& message_id)>* known_message = nullptr);

// True for an automatic reply (RFC 3834 Auto-Submitted other than "no",
// X-Autoreply, X-Autorespond, Precedence: auto_reply, or Precedence
// bulk/junk with an "Auto:"-style subject).  X-Auto-Response-Suppress is a
// request, not a sign of one.
bool is_auto_reply(const Message& message);

}  // namespace mm::policy
