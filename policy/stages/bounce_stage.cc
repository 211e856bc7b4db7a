// Null-sender mail for an alias: bounces (DSNs) and auto-replies.
#include <functional>

#include "policy/rewrite/dsn_rewrite.h"
#include "policy/stages/stage.h"
#include "util/address.h"

namespace mm::policy::stages {
namespace {

// A bounce (DSN) rewritten (dsn_rewrite.h) and delivered to the alias owner
// with the null sender kept, or refused/held as backscatter.
StageResult deliver_dsn(const StageInput& in, DsnRewrite& dsn, Verdict& draft) {
    const Policy& policy = in.context.policy;
    if (dsn.backscatter) {
        draft.rules.push_back(
            {"bounce.backscatter", "the returned message was not delivered by the marketplace"});
        if (policy.bounce_backscatter == BackscatterAction::quarantine)
            return stopping(
                hold("bounce for a message the marketplace did not send held for review"));
        return refuse({"550", "5.7.1",
                       "Delivery status notification for a message the marketplace did not send",
                       "bounce.backscatter"});
    }

    Edits& edits = draft.edits;
    map_recipients(in.envelope, edits);  // the envelope sender stays <>
    // The header policy's removals go first; the rewrite touches only the
    // names that pass, so no field is edited twice.
    auto identity = remove_unlisted_headers(in.message, policy.headers, edits);
    for (const auto& e : dsn.header_edits)
        if (header_passes(policy.headers, e.name)) edits.headers.push_back(e);
    if (dsn.new_body) edits.body = std::move(dsn.new_body);
    draft.rules.push_back(
        {"bounce.rewritten",
         dsn.notes.empty() ? "delivery report for " + in.pair->counterpart.id : join(dsn.notes)});
    if (identity) draft.rules.push_back(std::move(*identity));
    return stopping(modify());
}

// bounces.action rewrite.  An auto-reply sent with the null sender (RFC 3834)
// goes on as mail from the counterpart; anything that is neither that nor a
// DSN is held for review.
StageResult rewrite_null_sender(const StageInput& in, Verdict& draft) {
    const EvalContext& ctx = in.context;
    // Backscatter: the returned message is not one the marketplace delivered
    // for this pair (only known when the Message-ID store is there).
    std::optional<Failure> store_error;
    std::function<bool(const std::string&)> known = [&](const std::string& id) {
        auto found = ctx.store->find_message_id(to_lower(id));
        if (!found) {
            store_error = found.error();
            return true;
        }
        return found.value() && found.value()->pair_id == in.pair->pair.id;
    };
    DsnRewrite dsn =
        rewrite_dsn(in.message, *in.pair, ctx.domain, ctx.store != nullptr ? &known : nullptr);
    if (!dsn.is_dsn) {
        if (is_auto_reply(in.message)) return proceed();
        draft.rules.push_back({"bounce.unrecognised",
                               "null-sender message for an alias that is neither a delivery "
                               "report nor an auto-reply"});
        return stopping(hold("null-sender message for a marketplace alias held for review"));
    }
    draft.auto_reply = true;
    if (store_error) return store_failure(*store_error, draft);
    return deliver_dsn(in, dsn, draft);
}

}  // namespace

StageResult handle_null_sender(const StageInput& in, Verdict& draft) {
    if (!in.envelope.sender.empty()) return proceed();
    const BounceAction action = in.context.policy.bounce_action;
    if (action == BounceAction::rewrite) return rewrite_null_sender(in, draft);
    // A bounce for an alias carries the other side's real address in its
    // report and returned headers: not delivered as it is.
    draft.rules.push_back({"bounce.unrewritten", "null-sender message for an alias"});
    if (action == BounceAction::reject)
        return refuse({"550", "5.7.1",
                       "Delivery status notifications to marketplace aliases are refused", ""});
    return stopping(hold("bounce for a marketplace alias held for review"));
}

}  // namespace mm::policy::stages
