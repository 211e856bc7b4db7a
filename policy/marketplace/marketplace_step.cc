#include "policy/marketplace/marketplace_step.h"

#include <exception>

#include "policy/limits.h"
#include "policy/marketplace/retry.h"
#include "policy/mime/mime_inspect.h"

namespace mm::policy {

Result<MarketplaceRequest> marketplace_request(const Envelope& envelope, const Message& message,
                                               const alias::ResolvedAlias& pair,
                                               std::shared_ptr<const ContentFindings> findings,
                                               const Verdict& verdict,
                                               const MarketplacePolicy& policy,
                                               const FindOrder& find_order, std::int64_t now) {
    MarketplaceRequest r;
    r.sender = pair.counterpart;
    r.recipient = pair.owner;
    r.pair_id = pair.pair.id;
    r.buyer_id = pair.pair.buyer_id;
    r.seller_id = pair.pair.seller_id;
    r.order_id = extract_order_id(message, policy).value_or("");
    if (!r.order_id.empty()) {
        auto order = find_order(r.order_id);
        if (!order) return order.error();
        // An order of another pair is no order of this thread.
        if (*order && (*order)->pair_id == r.pair_id) r.order = **order;
    }
    r.subject = findings->subject;
    r.texts = std::shared_ptr<const std::vector<std::string>>(findings, &findings->texts);
    r.document_texts =
        std::shared_ptr<const std::vector<std::string>>(findings, &findings->document_texts);
    r.scans = findings->scans;
    if (const std::string* reason = message.find("X-Marketplace-Contact-Reason"))
        r.contact_reason_header = *reason;
    r.trusted_tooling = is_trusted_tooling(policy, envelope.client_addr, envelope.auth_sender);
    r.is_reply = verdict.thread.is_reply;
    r.auto_reply = verdict.auto_reply;
    r.now = now;
    return r;
}

Result<MarketplaceDecision> run_marketplace(alias::ThreadStore& store,
                                            const MarketplaceRequest& request,
                                            const MarketplacePolicy& policy, bool commit,
                                            const alias::MessageIdRecord* message_id,
                                            alias::Delivery* delivery) {
    if (delivery != nullptr && !delivery->outcome.empty()) {
        auto replayed = decode_outcome(delivery->outcome);
        if (!replayed)
            return fail(Errc::internal,
                        "delivery " + delivery->key.substr(0, 12) + ": unreadable outcome");
        return std::move(*replayed);
    }
    MarketplaceFacts facts{request.sender.role,
                           request.sender,
                           request.recipient,
                           request.order,
                           request.order_id,
                           request.subject,
                           request.texts ? std::span<const std::string>(*request.texts)
                                         : std::span<const std::string>(),
                           request.contact_reason_header,
                           request.trusted_tooling,
                           request.is_reply,
                           request.auto_reply,
                           request.now,
                           request.document_texts
                               ? std::span<const std::string>(*request.document_texts)
                               : std::span<const std::string>(),
                           request.scans.get()};
    MarketplaceDecision decision;
    const alias::ThreadEvent event{
        .pair_id = request.pair_id,
        .order_id = request.order_id,
        .buyer_id = request.buyer_id,
        .seller_id = request.seller_id,
        .now = request.now,
        .repeat_window_s = static_cast<std::int64_t>(policy.repeat_window_hours) * 3600,
        .commit = commit,
        .message_id = message_id,
        .delivery = commit ? delivery : nullptr,
    };
    // A limit met while reading the contact reasons leaves the store's
    // transaction as a refusal (nothing written), then refuses the message.
    std::exception_ptr over_limit;
    auto update = store.apply_thread_event(event, [&](const alias::ThreadState& state) {
        try {
            decision = decide(facts, state, policy);
        } catch (const LimitExceeded&) {
            over_limit = std::current_exception();
            return alias::ThreadUpdate{};
        }
        if (event.delivery != nullptr) event.delivery->outcome = encode_outcome(decision);
        return decision.update;
    });
    if (over_limit) std::rethrow_exception(over_limit);
    if (!update) return update.error();
    return decision;
}

void apply_marketplace(const MarketplaceDecision& d, Verdict& v) {
    v.rules.insert(v.rules.end(), d.rules.begin(), d.rules.end());
    if (d.decision == Decision::reject) {
        v.decision = Decision::reject;
        v.smtp_code = d.smtp_code.empty() ? "550" : d.smtp_code;
        v.enhanced_code = d.enhanced_code.empty() ? "5.7.1" : d.enhanced_code;
        v.reply_text = d.reply_text;
        v.edits = {};
    } else if (d.decision == Decision::tempfail) {
        v.decision = Decision::tempfail;
        v.smtp_code = "451";
        v.enhanced_code = "4.3.0";
        v.reply_text = "Temporary failure applying the marketplace rules, try again later";
        v.edits = {};
    } else if (d.decision == Decision::quarantine) {
        v.decision = Decision::quarantine;
        v.reply_text = d.reply_text;
    }
}

}  // namespace mm::policy
