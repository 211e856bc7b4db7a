// The stages of evaluate() (evaluate.h), and what they share.
//
// A stage reads the message, appends its rule hits and edits to the draft
// verdict (and the facts later stages read: parties, thread, findings) and
// returns what it proposes: a decision with its reply, and whether the
// pipeline stops there.  A stage never sets the draft's decision; evaluate()
// folds the proposals in one place, by the precedence documented in
// evaluate.h.  Internal to evaluate; pure but for store reads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alias/party.h"
#include "policy/envelope.h"
#include "policy/evaluate.h"
#include "policy/message.h"
#include "policy/rewrite/header_privacy.h"
#include "policy/verdict.h"
#include "util/result.h"

namespace mm::policy::stages {

struct StageInput {
    const Envelope& envelope;
    const Message& message;
    const EvalContext& context;
    // The pair the transaction carries; null for mail that is not the
    // marketplace's (identify_pair stops the pipeline then, so every stage
    // after it may rely on it).
    const alias::ResolvedAlias* pair = nullptr;
};

// What a stage proposes.  accept: nothing to say about the decision.
struct StageResult {
    Decision decision = Decision::accept;
    std::string smtp_code;
    std::string enhanced_code;
    std::string reply_text;
    // The later stages do not run.  A refusal always stops (evaluate.h).
    bool stop = false;
};

using Stage = StageResult (*)(const StageInput& input, Verdict& draft);

// A refusal as the SMTP client sees it.  A 4xx code tempfails, a 5xx
// rejects; `rule`, when given, is named at the end of the text so a sender
// can tell the support desk which rule refused it.
struct Refusal {
    std::string code;   // "550"
    std::string xcode;  // "5.7.1"
    std::string text;
    std::string rule;
};

StageResult proceed();
StageResult modify();
StageResult refuse(const Refusal& refusal);
// Held for review.  A hold that stops the pipeline holds the message as
// received; one that lets it go on holds it as it would be delivered
// (evaluate.h).
StageResult hold(std::string reply_text);
// `proposal`, and the later stages do not run.
StageResult stopping(StageResult proposal);
// A store read failed: tempfail, so the MTA retries and the message is judged
// afresh.  What the content stage found is not reported with it.
StageResult store_failure(const Failure& failure, Verdict& draft);

// Each alias recipient replaced by its owner's real address.
void map_recipients(const Envelope& envelope, Edits& edits);
// Removes every header of the sender's that the header policy does not pass;
// the rule hit that names them, if any.
std::optional<RuleHit> remove_unlisted_headers(const Message& message, const HeaderPolicy& policy,
                                               Edits& edits);
std::string join(const std::vector<std::string>& items);

// The content policy on `message` (the one received, or a bounce as rewritten):
// findings reported, a refusal or hold proposed, a new body taken into the
// draft's edits.  `delivery_report`: the report's own parts are judged by
// their bytes (InspectOptions::delivery_report).
StageResult judge_content(const StageInput& input, const Message& message, bool delivery_report,
                          Verdict& draft);

// The stages, in the order evaluate() walks them (evaluate.cc, kStages).
StageResult strip_forged_headers(const StageInput& input, Verdict& draft);  // headers_stage
StageResult identify_pair(const StageInput& input, Verdict& draft);         // addresses_stage
StageResult check_sender_authentication(const StageInput& input, Verdict& draft);  // auth_stage
StageResult handle_null_sender(const StageInput& input, Verdict& draft);           // bounce_stage
StageResult rewrite_sender(const StageInput& input, Verdict& draft);             // addresses_stage
StageResult apply_header_allow_list(const StageInput& input, Verdict& draft);    // headers_stage
StageResult rewrite_recipient_headers(const StageInput& input, Verdict& draft);  // addresses_stage
StageResult map_message_ids(const StageInput& input, Verdict& draft);            // store_stages
StageResult inspect(const StageInput& input, Verdict& draft);                    // content_stage
StageResult run_marketplace_rules(const StageInput& input, Verdict& draft);      // store_stages

}  // namespace mm::policy::stages
