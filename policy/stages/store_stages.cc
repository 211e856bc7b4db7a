// The stages that read the store: the Message-ID mapping (message_ids.h),
// with the delivery an earlier attempt of the message was committed under
// (retry.h), and the marketplace rules (marketplace_step.h).  All only read;
// the milter commits once the message is delivered.
#include <ctime>
#include <memory>

#include "policy/marketplace/marketplace_step.h"
#include "policy/marketplace/retry.h"
#include "policy/rewrite/message_ids.h"
#include "policy/stages/stage.h"

namespace mm::policy::stages {

namespace {

std::int64_t now_of(const EvalContext& ctx) {
    return ctx.now != 0 ? ctx.now : static_cast<std::int64_t>(std::time(nullptr));
}

// The delivery this message is committed under (retry.h): the earlier
// attempt's, if the MTA is retrying one the store committed (for this pair:
// a key is no way into another pair's ids), else a new one.
Result<void> find_delivery(const StageInput& in, Verdict& draft) {
    const EvalContext& ctx = in.context;
    if (ctx.delivery_key.empty()) return {};
    const std::int64_t now = now_of(ctx);
    auto found = ctx.store->find_delivery(ctx.delivery_key, now);
    if (!found) return found.error();
    if (*found && (*found)->pair_id == in.pair->pair.id) {
        draft.delivery = std::move(**found);
        draft.retry = true;
        draft.rules.push_back({"delivery.retry", "committed before at " +
                                                     std::to_string(draft.delivery->created) +
                                                     ", judged as then"});
        return {};
    }
    alias::Delivery fresh;
    fresh.key = ctx.delivery_key;
    fresh.pair_id = in.pair->pair.id;
    fresh.created = now;
    fresh.expires = now + retry_window_s(ctx.policy.marketplace);
    draft.delivery = std::move(fresh);
    return {};
}

}  // namespace

// Without a store, Message-ID, In-Reply-To and References are left alone.
StageResult map_message_ids(const StageInput& in, Verdict& draft) {
    const EvalContext& ctx = in.context;
    if (ctx.store == nullptr) return proceed();
    if (auto found = find_delivery(in, draft); !found) return store_failure(found.error(), draft);
    const std::string reuse = draft.retry ? draft.delivery->marketplace_id : std::string();
    auto ids = plan_message_ids(in.message, *in.pair, ctx.domain, *ctx.store, reuse);
    if (!ids) return store_failure(ids.error(), draft);
    if (draft.delivery && !draft.retry) draft.delivery->marketplace_id = ids->record.marketplace_id;
    draft.edits.headers.insert(draft.edits.headers.end(), ids->edits.begin(), ids->edits.end());
    if (ids->thread.is_reply)
        draft.rules.push_back(
            {"thread.reply", "answers <" + ids->thread.answers_marketplace_id + ">"});
    draft.message_id_record = std::move(ids->record);
    draft.thread = std::move(ids->thread);
    return proceed();
}

// The rules run read-only here, so a dry run and an early refusal see the
// answer delivery would; the milter runs them again when it commits.
StageResult run_marketplace_rules(const StageInput& in, Verdict& draft) {
    const EvalContext& ctx = in.context;
    if (ctx.store == nullptr) return proceed();
    const std::int64_t now = now_of(ctx);
    const FindOrder find_order = [&ctx](const std::string& id) {
        return ctx.directory != nullptr ? ctx.directory->find_order(id) : ctx.store->find_order(id);
    };
    auto request = marketplace_request(in.envelope, in.message, *in.pair, draft.findings, draft,
                                       ctx.policy.marketplace, find_order, now);
    if (!request) return store_failure(request.error(), draft);
    // A retry replays its first judgement (the read-only run never records).
    alias::Delivery* replay = draft.retry ? &*draft.delivery : nullptr;
    auto decision =
        run_marketplace(*ctx.store, *request, ctx.policy.marketplace, false, nullptr, replay);
    if (!decision) return store_failure(decision.error(), draft);

    // apply_marketplace turns the rules' answer into a verdict; it is read
    // here as this stage's proposal, so the fold stays in evaluate().
    Verdict answer;
    answer.decision = Decision::accept;
    apply_marketplace(*decision, answer);
    draft.rules.insert(draft.rules.end(), answer.rules.begin(), answer.rules.end());
    StageResult result;
    result.decision = answer.decision;
    result.smtp_code = std::move(answer.smtp_code);
    result.enhanced_code = std::move(answer.enhanced_code);
    result.reply_text = std::move(answer.reply_text);
    // What the milter commits once the message is delivered.
    if (result.decision != Decision::reject && result.decision != Decision::tempfail)
        draft.marketplace = std::make_shared<const MarketplaceRequest>(std::move(*request));
    return result;
}

}  // namespace mm::policy::stages
