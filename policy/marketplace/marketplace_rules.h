// Marketplace rules (issue "marketplace rules"): opt-out, [Important] and its
// misuse, exempt orders, the per-order limit on unsolicited seller messages,
// repeats, FBA and gift-return threads, and the seller's vacation switch.
//
// Everything here is pure: no I/O, no store, no libmilter.  The store runs
// decide() inside the write transaction of Store::apply_thread_event with the
// thread's current ThreadState, and writes the ThreadUpdate it returns, so
// decide() is fast (one RE2::Set pass per contact reason, one SHA-256 per text
// part) and never throws.  The policy is immutable once loaded and may be
// shared by any number of threads.
//
// Contract with the store (alias/thread_state.h):
//   - nothing is written unless update.allowed;
//   - counts_as_buyer_message: last_buyer_at = now, unsolicited_since_buyer = 0
//     (auto-replies never set it);
//   - unsolicited: unsolicited_since_buyer += 1 (set only for a seller message
//     that does not answer a buyer message the seller has not answered yet);
//   - important_used: important_today += 1 (set for every use of the tag,
//     also on a message that is refused, so misuse is counted: the store should
//     count it even when allowed is false);
//   - fingerprint: remembered with `now` for the repeat rule.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alias/party.h"
#include "alias/thread_state.h"
#include "policy/rules/content_rule.h"
#include "policy/message.h"
#include "policy/verdict.h"
#include "policy/yaml_schema.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace mm::policy {

// The default order-id pattern: Amazon-style 123-1234567-1234567.
inline constexpr std::string_view kDefaultOrderSubjectRegex = R"(\b(\d{3}-\d{7}-\d{7})\b)";

struct MarketplacePolicy {
    enum class ImportantAction { reject, quarantine, flag };

    // Lets a critical message through an opt-out.  Matched anywhere in the
    // subject, ignoring case, brackets included ("[important]" counts,
    // "Important:" does not).
    std::string important_tag = "[Important]";
    // What a tagged message that is not critical gets.
    ImportantAction important_action = ImportantAction::reject;
    // More tagged messages than this from one seller in one (UTC) day: the
    // next ones are quarantined for review.
    int important_daily_threshold = 20;
    // (a) of the opt-out rule: the buyer wrote in the thread this recently.
    int buyer_window_days = 30;
    // (b): order kinds the opt-out does not apply to.
    std::vector<std::string> exempt_order_kinds = {"handmade", "custom", "wine"};
    // Unsolicited seller messages per order until the buyer writes.
    int unsolicited_per_order = 1;
    // The same (normalised) text to the same buyer within this many hours is
    // a repeat.
    int repeat_window_hours = 72;
    // Finds the order id in the subject when there is no X-Marketplace-Order
    // header; its first capture group (else the whole match) is the id.
    std::string order_subject_regex{kDefaultOrderSubjectRegex};
    std::shared_ptr<const re2::RE2> order_subject_re;  // compiled; never null
    // Seller tooling whose X-Marketplace-Contact-Reason header is believed:
    // client IP addresses or CIDR prefixes, and authenticated sender addresses
    // (normalised).  See is_trusted_tooling().
    struct TrustedTooling {
        std::vector<std::string> clients;
        std::vector<std::string> senders;
    } trusted_tooling;
    // Contact reasons: one ContentRule per reason (rule id = reason id, per
    // language RE2 patterns); `critical_reasons` are the ones that make a
    // tagged message critical.  Never null (no rules when not configured).
    std::shared_ptr<const ContentRules> contact_reasons;
    std::vector<std::string> critical_reasons = {"product_customisation", "delivery_scheduling",
                                                 "shipping_address"};
    // The reason that lets an FBA seller start a thread ("" = none).
    std::string fba_product_inquiry_reason = "product_inquiry";
    // Reply texts (one line; the milter appends the audit id).  {order} is
    // replaced by the order id, {tag} by important_tag, {limit} and {hours}
    // by the unsolicited limit and the repeat window.
    struct Messages {
        std::string opted_out =
            "We were unable to deliver the message you sent for order {order} because the buyer "
            "has chosen to opt out of receiving unsolicited messages from sellers. Only critical "
            "messages reach this buyer: put {tag} in the subject and write only about product "
            "customisation, delivery scheduling or a problem with the shipping address.";
        std::string vacation = "The seller is away and is not accepting new messages.";
        std::string important_misuse =
            "This message was not sent as it did not meet the Buyer-Seller Messaging "
            "communication guidelines: {tag} is only for product customisation, delivery "
            "scheduling or a problem with the shipping address.";
        std::string important_quarantine =
            "Held for review: too many {tag} messages from this seller today.";
        std::string unsolicited_limit =
            "This message was not sent as it did not meet the Buyer-Seller Messaging "
            "communication guidelines: at most {limit} unsolicited message(s) for order {order} "
            "until the buyer replies.";
        std::string repeat =
            "This message was not sent as it did not meet the Buyer-Seller Messaging "
            "communication guidelines: the same message was sent to this buyer within the last "
            "{hours} hours.";
        std::string fba_reply_only =
            "This message was not sent: for orders fulfilled by the marketplace (order {order}) "
            "sellers may only reply to the buyer's messages, except for product inquiries.";
        std::string gift_return =
            "This message was not sent: a gift-return conversation (order {order}) can only be "
            "started by the buyer.";
    } messages;

    MarketplacePolicy();
};

// policy.yaml `marketplace:` (see etc/policy.yaml).  Throws yaml::SchemaError
// at the offending node (a bad pattern at its own line and column).
void load_marketplace_section(const yaml::Entry& e, MarketplacePolicy& out);

// X-Marketplace-Order (trimmed; letters, digits, '-' and '_', at most 64),
// else the first match of order_subject_regex in the Subject.
std::optional<std::string> extract_order_id(const Message& message,
                                            const MarketplacePolicy& policy);

// Whether the client (IP address as text) or the authenticated sender
// (SASL login or address; "" = none) is trusted seller tooling.
bool is_trusted_tooling(const MarketplacePolicy& policy, std::string_view client_address,
                        std::string_view authenticated_sender);

// The text as the repeat rule compares it: lower-cased, quoted lines ('>')
// dropped, a greeting first line and a signature ("-- " or a closing such as
// "Best regards,") dropped, punctuation and white space collapsed.
std::string normalize_for_fingerprint(std::string_view text);
// SHA-256 (lowercase hex) of normalize_for_fingerprint(text); "" when the
// normalised text is empty (nothing to compare).
std::string fingerprint(std::string_view text);

struct MarketplaceFacts {
    alias::Role writer = alias::Role::buyer;
    const alias::Party& sender;
    const alias::Party& recipient;
    std::optional<alias::Order> order;   // as the store knows it, if any
    std::string order_id;                // extract_order_id(), "" if none
    std::string subject;                 // decoded
    std::span<const std::string> texts;  // decoded text parts (UTF-8), not copied
    std::string contact_reason_header;   // X-Marketplace-Contact-Reason as received
    bool trusted_tooling = false;        // is_trusted_tooling()
    bool is_reply = false;               // ThreadInfo.is_reply
    bool auto_reply = false;             // Verdict.auto_reply
    std::int64_t now = 0;                // unix seconds
};

struct MarketplaceDecision {
    alias::ThreadUpdate update;
    std::string decision = "accept";  // "accept" | "reject" | "quarantine" ("tempfail": internal)
    std::string smtp_code;            // "550" on reject
    std::string enhanced_code;        // "5.7.1" on reject
    std::string reply_text;           // one line, printable ASCII
    std::vector<RuleHit> rules;       // every decision appears here
    // Contact reasons found (trusted header, else patterns), for the audit trail.
    std::vector<std::string> contact_reasons;
};

// Never throws; an internal failure (out of memory) gives "tempfail" 451 4.3.0.
MarketplaceDecision decide(const MarketplaceFacts& facts, const alias::ThreadState& state,
                           const MarketplacePolicy& policy) noexcept;

}  // namespace mm::policy
