// What the content rules and the contact reasons make of one message or
// plain text, without a store or a daemon: the core of `marketplace-milter
// classify` and of the evaluation runner (tests/support/classify_eval.cc).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/mime/mime_inspect.h"
#include "policy/policy.h"

namespace mm::milter {

struct ClassifyOptions {
    classify::LangMask langs = 0;           // 0: chosen per message
    std::optional<policy::Direction> from;  // else X-Direction, else seller-to-buyer
};

struct Classification {
    policy::Direction direction = policy::Direction::seller_to_buyer;
    std::string subject;
    std::vector<std::string> texts;           // the text parts as the rules read them
    std::vector<policy::ContentHit> content;  // content rules that hit
    std::vector<policy::ContentHit> reasons;  // contact reasons recognised
    bool important_tag = false;               // the subject carries it
    bool critical_reason = false;             // a critical reason recognised
    bool refused = false;                     // a content rule rejects or quarantines
    // Tagged, a critical reason recognised and not refused.
    bool passes_as_critical() const { return important_tag && critical_reason && !refused; }
};

// `input` is a message when it starts with a header field, else plain text
// (the body of a text/plain message without a subject).
Result<Classification> classify_input(const policy::Policy& policy,
                                      const policy::AttachmentClassifier& classifier,
                                      std::string_view input, const ClassifyOptions& options);

nlohmann::ordered_json classification_json(const Classification& c, bool explain);
// The verdict in lines for an operator; with `explain` each hit's concepts,
// words and excerpt.
std::string classification_text(const Classification& c, bool explain);

}  // namespace mm::milter
