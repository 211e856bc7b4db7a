// The sender authenticity stage (policy.yaml authentication:,
// authentication_results.h).
#include "policy/rewrite/authentication_results.h"
#include "policy/stages/stage.h"
#include "util/address.h"

namespace mm::policy::stages {
namespace {

constexpr const char* kField = "Authentication-Results";

std::string domain_part(std::string_view address) {
    const std::size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : to_lower(address.substr(at + 1));
}

}  // namespace

// Authentication-Results from an authserv-id the policy does not name are
// never delivered (the header policy removes them all unless it keeps the
// field; then this stage removes the untrusted ones).  With
// require_alignment, a party's message (not a bounce: those are the bounce
// stage's) needs a trusted pass aligned with the address it was sent from,
// which RCPT already matched to the party.
StageResult check_sender_authentication(const StageInput& in, Verdict& draft) {
    const Policy& policy = in.context.policy;
    const AuthenticationPolicy& auth = policy.authentication;
    if (!auth.enabled()) return proceed();
    const bool judged = auth.require_alignment && !in.envelope.sender.empty();
    const std::string domain = judged ? domain_part(in.envelope.sender) : std::string();
    const SenderAuthentication found = judge_authentication(in.message, auth, domain);

    StageResult result = proceed();
    if (!found.untrusted.empty() && header_passes(policy.headers, kField)) {
        for (auto it = found.untrusted.rbegin(); it != found.untrusted.rend(); ++it)
            draft.edits.headers.push_back({HeaderEdit::Op::remove, kField, *it, {}});
        draft.rules.push_back({"auth.untrusted", "removed " +
                                                     std::to_string(found.untrusted.size()) + " " +
                                                     kField + " from untrusted authserv-ids"});
        result = modify();
    }
    if (!judged) return result;
    if (!found.aligned_pass.empty()) {
        draft.rules.push_back({"auth.aligned", found.aligned_pass});
        return result;
    }
    draft.rules.push_back(
        {"auth.alignment", "no SPF, DKIM or DMARC pass for " + organizational_domain(domain) +
                               " from a trusted authserv-id (" + std::to_string(found.trusted) +
                               " trusted field(s))"});
    if (auth.action == AuthenticationPolicy::Action::quarantine)
        return hold("held for review (rule auth.alignment)");
    return refuse({"550", "5.7.1",
                   "The sender of this message could not be authenticated (no SPF or DKIM pass "
                   "for the sender's domain)",
                   "auth.alignment"});
}

}  // namespace mm::policy::stages
