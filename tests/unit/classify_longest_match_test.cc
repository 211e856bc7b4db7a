// Entries of one concept that start on the same token: the rules need one
// match per concept there, but `masks:` masks what overlaps the match's span
// and explanations show its words, so the match kept is the longest.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/tokenizer.h"
#include "tests/support/lexicon_samples.h"

namespace mm::classify {
namespace {

std::shared_ptr<const Lexicon> load(const std::string& yaml) {
    auto r = load_lexicon(YAML::Load(yaml), "c.yaml");
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r.value();
}

// The matches as CONCEPT[words as written].
std::vector<std::string> spans_in(const Lexicon& lexicon, const std::string& text) {
    const TextInput in{text, false};
    std::span<const TextInput> texts(&in, 1);
    const Document doc = tokenize(texts);
    std::vector<std::string> out;
    for (const ConceptMatch& m : lexicon.match(doc, texts, kAllLangs))
        out.push_back(lexicon.concepts()[m.concept_id].name + "[" +
                      text.substr(m.begin, m.end - m.begin) + "]");
    return out;
}

std::shared_ptr<const Lexicon> one_concept(const std::string& a, const std::string& b) {
    return load("languages: [en]\nconcepts:\n  INQUIRY:\n    en: [\"" + a + "\", \"" + b + "\"]\n");
}

using Spans = std::vector<std::string>;

TEST(ClassifyLongestMatch, TheGappedEntryWinsOverItsPrefixInEitherOrder) {
    const std::string text = "The one you asked about is discontinued.";
    for (const auto& lx : {one_concept("you asked", "you asked about ... discontinued"),
                           one_concept("you asked about ... discontinued", "you asked")})
        EXPECT_EQ(spans_in(*lx, text), Spans{"INQUIRY[you asked about is discontinued]"});
}

TEST(ClassifyLongestMatch, AGapTooWideLeavesTheShortEntry) {
    // Five words between "about" and "discontinued": more than `...` allows.
    const std::string text = "you asked about the blue one, it is discontinued";
    for (const auto& lx : {one_concept("you asked", "you asked about ... discontinued"),
                           one_concept("you asked about ... discontinued", "you asked")})
        EXPECT_EQ(spans_in(*lx, text), Spans{"INQUIRY[you asked]"});
}

TEST(ClassifyLongestMatch, ALongerPhraseWinsOverItsPrefixInEitherOrder) {
    const std::string text = "you asked about the blue one, it is discontinued";
    for (const auto& lx : {one_concept("you asked", "you asked about the"),
                           one_concept("you asked about the", "you asked")})
        EXPECT_EQ(spans_in(*lx, text), Spans{"INQUIRY[you asked about the]"});
}

TEST(ClassifyLongestMatch, TheLongerSpanMasksWhatItOverlaps) {
    // The short entry of INQUIRY, listed first, must not hide the long one,
    // whose span reaches the masked word.
    const auto lx = load(
        "languages: [en]\n"
        "concepts:\n"
        "  INQUIRY:\n"
        "    masks: [LAST_OF]\n"
        "    en: [\"you asked\", \"you asked about ... discontinued\"]\n"
        "  LAST_OF:\n"
        "    en: [discontinued]\n");
    EXPECT_EQ(spans_in(*lx, "The one you asked about is discontinued."),
              Spans{"INQUIRY[you asked about is discontinued]"});
    EXPECT_EQ(spans_in(*lx, "you asked about the blue one, it is discontinued"),
              (Spans{"INQUIRY[you asked]", "LAST_OF[discontinued]"}));
}

TEST(ClassifyLongestMatch, TwoConceptsOnOneTokenKeepTheirOwnSpans) {
    // The long entry in the masking concept, the short one in another: both
    // match; the masking span reaches the masked word.
    const auto lx = load(
        "languages: [en]\n"
        "concepts:\n"
        "  ASKED:\n"
        "    en: [\"you asked\"]\n"
        "  INQUIRY:\n"
        "    masks: [LAST_OF]\n"
        "    en: [\"you asked about ... discontinued\"]\n"
        "  LAST_OF:\n"
        "    en: [discontinued]\n");
    EXPECT_EQ(spans_in(*lx, "The one you asked about is discontinued."),
              (Spans{"ASKED[you asked]", "INQUIRY[you asked about is discontinued]"}));
}

}  // namespace
}  // namespace mm::classify
