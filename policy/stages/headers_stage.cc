// The header stages that are not about addresses: forged X-Marketplace-*
// fields, and the header allow-list (header_privacy.h).
#include <string_view>

#include "policy/stages/stage.h"
#include "util/address.h"

namespace mm::policy::stages {
namespace {

constexpr std::string_view kMarketplacePrefix = "x-marketplace-";

bool is_marketplace_header(std::string_view name) {
    return name.size() >= kMarketplacePrefix.size() &&
           iequals(name.substr(0, kMarketplacePrefix.size()), kMarketplacePrefix);
}

// Appends `removals` to the edits; the names they remove, in the order first
// seen (each name's plan ends with its first occurrence).
std::vector<std::string> append_removals(std::vector<HeaderEdit> removals, Edits& edits) {
    std::vector<std::string> names;
    for (auto& e : removals) {
        if (e.index == 1) names.push_back(e.name);
        edits.headers.push_back(std::move(e));
    }
    return names;
}

}  // namespace

std::optional<RuleHit> remove_unlisted_headers(const Message& message, const HeaderPolicy& policy,
                                               Edits& edits) {
    auto removed = append_removals(header_removals(message, policy), edits);
    if (removed.empty()) return std::nullopt;
    return RuleHit{"headers.identity", "removed " + join(removed)};
}

// Incoming X-Marketplace-* headers are removed from every message, ours or
// not: they could forge an audit verdict.
StageResult strip_forged_headers(const StageInput& in, Verdict& draft) {
    auto removed =
        append_removals(header_removals_where(in.message, is_marketplace_header), draft.edits);
    if (removed.empty()) return proceed();
    draft.rules.push_back({"headers.forged_marketplace", "removed " + join(removed)});
    return modify();
}

// Every header of the sender's that does not pass (allow-list by default).
StageResult apply_header_allow_list(const StageInput& in, Verdict& draft) {
    if (auto hit = remove_unlisted_headers(in.message, in.context.policy.headers, draft.edits))
        draft.rules.push_back(std::move(*hit));
    return proceed();
}

}  // namespace mm::policy::stages
