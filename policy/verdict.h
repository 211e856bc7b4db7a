// Verdict: what policy decided about one message and the edits that carry the
// decision out.  Produced by evaluate() (pure), applied by the milter (or by
// apply_edits() for the `test` subcommand).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alias/delivery.h"
#include "alias/message_id.h"
#include "policy/mime/message_body.h"
#include "policy/thread_info.h"

namespace mm::policy {

struct ContentFindings;     // mime_inspect.h
struct MarketplaceRequest;  // marketplace_step.h

enum class Decision { accept, modify, reject, tempfail, quarantine };
const char* to_string(Decision d);

struct RuleHit {
    std::string id;      // e.g. "alias.rewrite", "rcpt.unknown_alias"
    std::string detail;  // human-readable why; never a real address
};

struct HeaderEdit {
    enum class Op { change, remove, add };
    Op op = Op::add;
    std::string name;
    int index = 1;  // 1-based occurrence, for change/remove
    std::string value;
};

struct Edits {
    std::optional<std::string> envelope_from;  // new MAIL FROM, "<addr>"
    std::vector<std::string> remove_rcpts;     // as received
    std::vector<std::string> add_rcpts;        // "<addr>"
    // In application order: removals of one name come highest index first, so
    // earlier removals never shift the index of later ones.
    std::vector<HeaderEdit> headers;
    // The new body (CRLF), when the content policy changed it.  The header
    // edits then include any top-level Content-* changes that go with it.
    // A MessageBody: a large rewritten body lives in a spool file.
    std::optional<MessageBody> body;

    bool empty() const {
        return !envelope_from && remove_rcpts.empty() && add_rcpts.empty() && headers.empty() &&
               !body;
    }
};

struct Verdict {
    Decision decision = Decision::tempfail;
    std::string smtp_code;      // "550"; empty for accept/modify
    std::string enhanced_code;  // "5.7.1"
    std::string reply_text;     // without the audit id; the milter appends it
    std::vector<RuleHit> rules;
    Edits edits;
    std::string sender_party;  // party ids for the audit trail
    std::string recipient_party;
    // What the content policy saw (attachments, links, content hits), for
    // `test` and the audit trail; null when it did not run.
    std::shared_ptr<const ContentFindings> findings;
    // Machine-generated (a bounce or an auto-reply: Auto-Submitted, vacation
    // responders): never counts as its sender writing in the thread.
    bool auto_reply = false;
    // Message-ID mapping (message_ids.h): the record to commit once the
    // message is delivered (accept, modify, quarantine; never for reject or
    // tempfail), and what the message answers.  Unset / empty when no store
    // was given or the message is not between the parties of a pair.
    std::optional<alias::MessageIdRecord> message_id_record;
    ThreadInfo thread;
    // The message's identity for the MTA's retries (alias/delivery.h), set
    // with message_id_record when the caller gave a delivery key: to record
    // when committing, or, when `retry`, the commit of an earlier attempt of
    // this same message, whose Message-ID it reuses and whose marketplace
    // judgement it replays.
    std::optional<alias::Delivery> delivery;
    bool retry = false;
    // What the milter commits through the marketplace rules once the message
    // is delivered (marketplace_step.h); null when the rules did not run.
    std::shared_ptr<const MarketplaceRequest> marketplace;
};

}  // namespace mm::policy
