// lexicon_samples.h: helpers for the classifier's unit tests that load a
// small inline lexicon and ask what it matches or which error it gives.
#pragma once

#include <yaml-cpp/yaml.h>

#include <span>
#include <string>
#include <vector>

#include "policy/classify/expression.h"
#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "policy/classify/tokenizer.h"

namespace mm::classify::lexicon_samples {

// The error load_lexicon gives for an inline document ("" if it loads),
// positions counted in a file named c.yaml.
inline std::string lexicon_error(const std::string& yaml) {
    auto r = load_lexicon(YAML::Load(yaml), "c.yaml");
    return r ? "" : r.error().message;
}

// The concepts `lexicon` matches in `text` (names, in order, repeated per match).
inline std::vector<std::string> concepts_in(const Lexicon& lexicon, const std::string& text,
                                            LangMask langs = kAllLangs) {
    const TextInput in{text, false};
    std::span<const TextInput> texts(&in, 1);
    const Document doc = tokenize(texts);
    std::vector<std::string> out;
    for (const ConceptMatch& m : lexicon.match(doc, texts, langs))
        out.push_back(lexicon.concepts()[m.concept_id].name);
    return out;
}

// A rule named "r" with only a `when:` expression (the defaults otherwise).
inline ConceptRule when_rule(const std::string& expression) {
    Expression::ParseError error;
    ConceptRule r;
    r.id = "r";
    r.when = Expression::parse(expression, &error);
    return r;
}

}  // namespace mm::classify::lexicon_samples
