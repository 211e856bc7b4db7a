// The `marketplace:` section of policy.yaml as the marketplace rules read it:
// the [Important] tag and what its misuse gets, the opt-out window and
// exempt order kinds, the unsolicited and repeat limits, how the order id is
// found, the trusted seller tooling, the contact reasons and the reply texts.
//
// Loaded once (load_marketplace_section), then immutable: any number of
// threads may share one.  Every policy string that names an action is an
// enum by the time the loader returns.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rules/content_rule.h"
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
    // The opt-out does not apply to a thread the buyer wrote in this recently.
    int buyer_window_days = 30;
    // Order kinds the opt-out does not apply to.
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
// at the offending node (a bad pattern at its own line and column); `out` is
// left as it was then.
void load_marketplace_section(const yaml::Entry& e, MarketplacePolicy& out);
// Its keys, documented (yaml_schema.h).
std::vector<yaml::KeyInfo> marketplace_section_schema();

}  // namespace mm::policy
