// inspect_content: the MIME-level content policy for one message.
//
// Parses the message with GMime (with our own parser options, collecting the
// parser's warnings), walks every part (multiparts and message/rfc822
// recursively, to policy.attachments.max_depth), and runs the rules:
// attachments (type by bytes, limits), links, content rules and redaction.
// The content rules read the subject, every text part and the text of the
// document attachments that are kept (attachments.text); a hit in an
// attachment's text names the attachment in its excerpt.
// Parts that must go are replaced by a short text/plain notice; text parts
// whose links or text change are re-encoded; every other part keeps its
// bytes.  A new body is produced only when something changed.
//
// Under a LimitScope (policy/limits.h) a message over the MIME bounds is
// refused before it is parsed, and the CPU budget is checked at each part
// and between the costly steps of a text part: both throw LimitExceeded.
//
// No libmilter, no I/O.  Not thread-safe per call (one message tree belongs
// to one call); the classifier and the compiled rules it uses are shared and
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/message.h"
#include "policy/policy.h"
#include "policy/rules/attachment_rule.h"
#include "policy/rules/content_rule.h"
#include "policy/rules/link_rule.h"
#include "policy/rules/privacy_rule.h"
#include "policy/rules/text_scans.h"
#include "policy/verdict.h"

namespace mm::policy {

enum class Direction { seller_to_buyer, buyer_to_seller };

struct AttachmentReport {
    std::string path;  // MIME part number, "1.2"
    std::string filename;
    std::string declared_type;
    std::string detected_type;
    std::uint64_t size = 0;  // decoded bytes
    bool kept = true;
    bool inline_image = false;  // referenced by cid: from the HTML
    std::string rule_id;        // why not kept
    std::string reason;
    // A kept document (PDF, .docx, .odt) whose text was not read, or not
    // all of it: what was not read and why (document_text.h).
    std::string text_note;
};

struct ContentFindings {
    std::vector<AttachmentReport> attachments;
    std::vector<RemovedLink> links;  // at most LinkScan::kMaxRemovedDetails per part
    std::size_t links_removed = 0;   // every removed link counted
    std::vector<ContentHit> content_hits;
    std::vector<Redaction> redactions;
    std::vector<std::string> malformed;  // why the structure cannot be trusted
    std::string subject;                 // decoded
    // Every body text part, UTF-8; an HTML part as text, twice when CSS
    // hides some of it (html_text.h: the full and the visible reading).
    std::vector<std::string> texts;
    // The text of every kept PDF, .docx and .odt attachment (UTF-8), read
    // by the content rules and contact reasons, not by the repeat rule.
    std::vector<std::string> document_texts;
    // The texts as the content rules read them, kept for the contact
    // reasons of the marketplace step (which reads the same texts).
    std::shared_ptr<TextScans> scans = std::make_shared<TextScans>();
    std::uint64_t attachment_bytes = 0;  // decoded total, inline images included
    int forwarded_headers_removed = 0;   // from forwarded messages' own headers
    int content_ids_rewritten = 0;       // Content-IDs that named the sender's host
    // CSS declarations that made words (content:"...") removed (html_css.h).
    std::size_t css_words_removed = 0;
    bool attachment_violation = false;  // some attachment is not allowed
    bool size_violation = false;        // total over max_total_bytes
    // Set only when the body changed: the new body and the top-level header
    // changes (Content-Type, Content-Transfer-Encoding, ...) that go with it.
    std::optional<MessageBody> new_body;  // moved into Verdict::edits by evaluate
    bool body_changed = false;            // new_body was produced
    std::vector<HeaderEdit> header_edits;
};

struct InspectOptions {
    const Policy& policy;
    const AttachmentClassifier& classifier;
    std::string domain;
    Direction direction = Direction::seller_to_buyer;
    // Redact emails and phones in text parts whatever privacy.redact's
    // direction flags say (auto-replies: their signatures).
    bool force_redact = false;
    // A delivery report (multipart/report): its status and returned-header
    // parts (message/delivery-status, text/rfc822-headers and their RFC 6533
    // forms) claim nothing by their declared type; they are judged by their
    // bytes, and kept when those are text or a message.
    bool delivery_report = false;
};

// A decoded zip package and a rewritten body go where the message body's own
// spool settings say (in memory when small, else a spool file).  Throws
// std::runtime_error on spool I/O failure (the milter tempfails).
ContentFindings inspect_content(const Message& message, const InspectOptions& options);

}  // namespace mm::policy
