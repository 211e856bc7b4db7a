// Retries of a committed message (alias/delivery.h): how long the store
// keeps the judgement, and the judgement as the store keeps it.
//
// The marketplace rules' decision for a committed message is stored with its
// Delivery and replayed when the MTA retries the same message, so the retry
// is judged as the first attempt was (never as a repeat of itself, never a
// second unsolicited message) and writes nothing again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/marketplace/marketplace_policy.h"
#include "policy/marketplace/marketplace_rules.h"

namespace mm::policy {

// Seconds a Delivery is kept: the repeat window, whose fingerprints are what
// a retry would otherwise meet; 72 hours when the repeat rule is off (the
// unsolicited count and the [Important] counter still need it).
std::int64_t retry_window_s(const MarketplacePolicy& policy);

// The decision as JSON, and back; nullopt for a text that is not one.
std::string encode_outcome(const MarketplaceDecision& decision);
std::optional<MarketplaceDecision> decode_outcome(std::string_view text);
// What nlohmann::json's dump() writes for it (keys sorted, no white space):
// encode_outcome writes text that is not ASCII through it, and writes the
// same bytes by hand for the rest, which the tests hold it to.
std::string encode_outcome_by_library(const MarketplaceDecision& decision);

}  // namespace mm::policy
