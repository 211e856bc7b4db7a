#include "policy/evaluate.h"

#include <unordered_map>

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
    stages::strip_forged_headers,         // every message, ours or not
    stages::identify_pair,                // stops for mail that is not the marketplace's
    stages::check_sender_authentication,  // Authentication-Results (opt-in)
    stages::handle_null_sender,           // bounces; an auto-reply goes on
    stages::rewrite_sender,               // envelope and From:
    stages::apply_header_allow_list,      // header_privacy.h
    stages::rewrite_recipient_headers,    // To/Cc
    stages::map_message_ids,              // message_ids.h
    stages::inspect,                      // mime_inspect.h
    stages::run_marketplace_rules,        // marketplace_step.h
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

// Edits are applied in order, each index counted among the headers as the
// earlier edits left them.  Each name keeps the positions of its live
// occurrences, so a message with many headers is not rescanned per edit.
void apply_edits(const Edits& edits, Message& message, Envelope& envelope) {
    std::vector<bool> removed(message.headers.size(), false);
    std::unordered_map<std::string, std::vector<std::size_t>> live;  // lower-case name
    for (std::size_t i = 0; i < message.headers.size(); ++i)
        live[to_lower(message.headers[i].name)].push_back(i);
    for (const auto& e : edits.headers) {
        std::vector<std::size_t>& positions = live[to_lower(e.name)];
        if (e.op == HeaderEdit::Op::add) {
            message.headers.push_back({e.name, e.value});
            removed.push_back(false);
            positions.push_back(message.headers.size() - 1);
            continue;
        }
        if (e.index < 1 || static_cast<std::size_t>(e.index) > positions.size()) continue;
        const auto occurrence = positions.begin() + (e.index - 1);
        if (e.op == HeaderEdit::Op::remove) {
            removed[*occurrence] = true;
            positions.erase(occurrence);
        } else {
            message.headers[*occurrence].value = e.value;
        }
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < message.headers.size(); ++i) {
        if (removed[i]) continue;
        if (kept != i) message.headers[kept] = std::move(message.headers[i]);
        ++kept;
    }
    message.headers.resize(kept);

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
