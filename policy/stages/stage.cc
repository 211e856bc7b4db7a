#include "policy/stages/stage.h"

#include <utility>

namespace mm::policy::stages {

StageResult proceed() {
    return {};
}

StageResult modify() {
    StageResult r;
    r.decision = Decision::modify;
    return r;
}

StageResult refuse(const Refusal& refusal) {
    StageResult r;
    r.decision = refusal.code.starts_with('4') ? Decision::tempfail : Decision::reject;
    r.smtp_code = refusal.code;
    r.enhanced_code = refusal.xcode;
    r.reply_text = refusal.text;
    if (!refusal.rule.empty()) r.reply_text += " (rule " + refusal.rule + ")";
    return r;
}

StageResult hold(std::string reply_text) {
    StageResult r;
    r.decision = Decision::quarantine;
    r.reply_text = std::move(reply_text);
    return r;
}

StageResult stopping(StageResult proposal) {
    proposal.stop = true;
    return proposal;
}

StageResult store_failure(const Failure& failure, Verdict& draft) {
    draft.rules.push_back({"store.unavailable", failure.message});
    draft.findings.reset();
    return refuse({"451", "4.3.0",
                   "Temporary failure in the marketplace message store, try again later", ""});
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}

}  // namespace mm::policy::stages
