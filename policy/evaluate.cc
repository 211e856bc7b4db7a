#include "policy/evaluate.h"

#include "policy/stages/stage.h"
#include "util/address.h"

namespace mm::policy {
namespace {

using stages::Stage;
using stages::StageResult;

// The order is part of the behaviour: rule hits and edits are appended in it,
// and a stage may read what an earlier one left in the draft (the pair's
// parties, the thread, the findings).
constexpr Stage kStages[] = {
    stages::strip_forged_headers,       // every message, ours or not
    stages::identify_pair,              // stops for mail that is not the marketplace's
    stages::handle_null_sender,         // bounces; an auto-reply goes on
    stages::rewrite_sender,             // envelope and From:
    stages::apply_header_allow_list,    // header_privacy.h
    stages::rewrite_recipient_headers,  // To/Cc
    stages::map_message_ids,            // message_ids.h
    stages::inspect,                    // mime_inspect.h
    stages::run_marketplace_rules,      // marketplace_step.h
};

int precedence(Decision d) {
    switch (d) {
        case Decision::accept:
            return 0;
        case Decision::modify:
            return 1;
        case Decision::quarantine:
            return 2;
        case Decision::reject:
            return 3;
        case Decision::tempfail:
            return 4;
    }
    return 0;
}

bool is_refusal(Decision d) {
    return d == Decision::reject || d == Decision::tempfail;
}

// The one place the decision is made (evaluate.h): the proposal of highest
// precedence wins, a later one wins a tie.
void fold(const StageResult& proposal, Verdict& verdict) {
    if (precedence(proposal.decision) < precedence(verdict.decision)) return;
    verdict.decision = proposal.decision;
    verdict.smtp_code = proposal.smtp_code;
    verdict.enhanced_code = proposal.enhanced_code;
    verdict.reply_text = proposal.reply_text;
}

}  // namespace

Verdict evaluate(const Envelope& envelope, const Message& message, const EvalContext& ctx) {
    Verdict verdict;
    verdict.decision = Decision::accept;
    const stages::StageInput input{envelope, message, ctx, envelope.alias_recipient()};
    for (Stage stage : kStages) {
        const StageResult proposal = stage(input, verdict);
        fold(proposal, verdict);
        if (!proposal.stop && !is_refusal(proposal.decision)) continue;
        // Nothing is delivered, or the message is held as it was received.
        if (is_refusal(verdict.decision) || proposal.decision == Decision::quarantine)
            verdict.edits = {};
        break;
    }
    return verdict;
}

void apply_edits(const Edits& edits, Message& message, Envelope& envelope) {
    for (const auto& e : edits.headers) {
        if (e.op == HeaderEdit::Op::add) {
            message.headers.push_back({e.name, e.value});
            continue;
        }
        int seen = 0;
        for (auto it = message.headers.begin(); it != message.headers.end(); ++it) {
            if (!iequals(it->name, e.name) || ++seen != e.index) continue;
            if (e.op == HeaderEdit::Op::remove)
                message.headers.erase(it);
            else
                it->value = e.value;
            break;
        }
    }
    if (edits.envelope_from) {
        envelope.sender_raw = *edits.envelope_from;
        envelope.sender = normalize_address(*edits.envelope_from);
    }
    for (const auto& raw : edits.remove_rcpts)
        std::erase_if(envelope.recipients, [&](const Recipient& r) { return r.raw == raw; });
    // A copy: apply_edits leaves `edits` as it was.
    if (edits.body) message.body = edits.body->clone();
    for (const auto& raw : edits.add_rcpts)
        envelope.recipients.push_back({raw, normalize_address(raw), std::nullopt});
}

}  // namespace mm::policy
