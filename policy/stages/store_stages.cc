// The stages that read the store: the Message-ID mapping (message_ids.h) and
// the marketplace rules (marketplace_step.h).  Both only read; the milter
// commits once the message is delivered.
#include <ctime>
#include <memory>

#include "policy/marketplace/marketplace_step.h"
#include "policy/rewrite/message_ids.h"
#include "policy/stages/stage.h"

namespace mm::policy::stages {

// Without a store, Message-ID, In-Reply-To and References are left alone.
StageResult map_message_ids(const StageInput& in, Verdict& draft) {
    const EvalContext& ctx = in.context;
    if (ctx.store == nullptr) return proceed();
    auto ids = plan_message_ids(in.message, *in.pair, ctx.domain, *ctx.store);
    if (!ids) return store_failure(ids.error(), draft);
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
    const std::int64_t now = ctx.now != 0 ? ctx.now : static_cast<std::int64_t>(std::time(nullptr));
    const FindOrder find_order = [&ctx](const std::string& id) {
        return ctx.directory != nullptr ? ctx.directory->find_order(id) : ctx.store->find_order(id);
    };
    auto request = marketplace_request(in.envelope, in.message, *in.pair, draft.findings, draft,
                                       ctx.policy.marketplace, find_order, now);
    if (!request) return store_failure(request.error(), draft);
    auto decision = run_marketplace(*ctx.store, *request, ctx.policy.marketplace, false);
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
