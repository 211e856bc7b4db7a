// What every fuzz target shares: the shipped policy (etc/policy.yaml, so the
// content rules are the real ones), the attachment classifier, and an
// envelope for a seller writing to a buyer's alias.
#pragma once

#include <memory>
#include <string>

#include "alias/party.h"
#include "policy/envelope.h"
#include "policy/policy.h"
#include "policy/rules/attachment_rule.h"

namespace mm::fuzz {

constexpr const char* kDomain = "marketplace.example";

// Loaded once; aborts if the shipped policy does not load (a broken tree,
// not an input the target should see).
const policy::Policy& shipped_policy();
const policy::AttachmentClassifier& classifier();
// Loads both before the first input: the lexicons and the word model take
// most of a second under ASan, which libFuzzer would otherwise charge to
// whichever input comes first and report as a timeout.
inline void load_shipped_policy() {
    shipped_policy();
    classifier();
}

alias::ResolvedAlias seller_to_buyer_pair();
policy::Envelope envelope_for(const alias::ResolvedAlias& pair, const std::string& sender);

}  // namespace mm::fuzz
