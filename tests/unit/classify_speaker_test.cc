// `speaker:` on a concept: words only a buyer (or a seller) writes.  In mail
// whose sender is known to be the other party the concept counts as absent
// in `when` and `score`, so a seller cannot switch a rule off by writing a
// buyer's "I will leave"; with the sender unknown it counts as usual.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "policy/classify/expression.h"
#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "tests/support/lexicon_samples.h"

namespace mm::classify {
namespace {

const std::string kLexicon =
    "languages: [en]\n"
    "concepts:\n"
    "  REVIEW:\n"
    "    en: [review]\n"
    "  BUYER_WORDS:\n"
    "    description: the buyer's own review\n"
    "    speaker: buyer\n"
    "    en: [\"i will leave\"]\n"
    "  SELLER_WORDS:\n"
    "    speaker: seller\n"
    "    en: [\"our shop\"]\n";

std::shared_ptr<const Lexicon> lexicon() {
    static const auto lx = load_lexicon(YAML::Load(kLexicon), "c.yaml").value();
    return lx;
}

bool fires(const ConceptRule& rule, const std::string& text, std::uint8_t sender) {
    auto set = RuleSet::compile(lexicon(), {rule}).value();
    const TextInput in{text, false};
    return !set->match(std::span<const TextInput>(&in, 1), {0, sender}).empty();
}

using lexicon_samples::lexicon_error;
ConceptRule when(const std::string& expression) {
    return lexicon_samples::when_rule(expression);
}

ConceptRule scored(double threshold, std::vector<std::pair<std::string, double>> weights) {
    ConceptRule r;
    r.id = "r";
    r.score = {threshold, std::move(weights), Scope::message};
    return r;
}

const Lexicon::Concept& concept_named(const std::string& name) {
    return lexicon()->concepts()[static_cast<std::size_t>(lexicon()->find(name))];
}

TEST(ClassifySpeaker, ParsedFromTheLexicon) {
    EXPECT_EQ(concept_named("REVIEW").speaker, Speaker::anyone);
    EXPECT_EQ(concept_named("BUYER_WORDS").speaker, Speaker::buyer);
    EXPECT_EQ(concept_named("SELLER_WORDS").speaker, Speaker::seller);
}

TEST(ClassifySpeaker, AnythingButBuyerOrSellerIsRefusedAtItsPlace) {
    const std::string head = "languages: [en]\nconcepts:\n  X:\n    en: [review]\n";
    EXPECT_EQ(lexicon_error(head + "    speaker: customer\n"),
              "c.yaml:5:14: concept X speaker: expected buyer or seller");
    EXPECT_EQ(lexicon_error(head + "    speaker: [buyer]\n"),
              "c.yaml:5:14: concept X speaker: expected buyer or seller");
    EXPECT_EQ(lexicon_error(head + "    speaker: buyer\n    speaker: seller\n"),
              "c.yaml:6:5: concept X speaker: listed twice");
    EXPECT_EQ(lexicon_error("languages: [en]\nconcepts:\n  X:\n    words: [a]\n"),
              "c.yaml:4:5: concept X: unknown key 'words' (expected description, shape, speaker, "
              "masks or a language code)");
}

TEST(ClassifySpeaker, ABuyersWordsDoNotSwitchOffARuleInASellersMail) {
    const ConceptRule rule = when("REVIEW & !BUYER_WORDS");
    const std::string text = "For a review I will leave a credit on your account.";
    EXPECT_TRUE(fires(rule, text, kSeller));
    EXPECT_FALSE(fires(rule, text, kAnySender));
    EXPECT_FALSE(fires(rule, text, kBuyer));
    EXPECT_TRUE(fires(rule, "A review earns a credit.", kAnySender));
}

TEST(ClassifySpeaker, TheOtherPartysWordsDoNotFireARuleEither) {
    const ConceptRule rule = when("REVIEW & SELLER_WORDS");
    const std::string text = "I wrote a review of our shop.";
    EXPECT_TRUE(fires(rule, text, kSeller));
    EXPECT_TRUE(fires(rule, text, kAnySender));
    EXPECT_FALSE(fires(rule, text, kBuyer));
    // Positive at the trigger: a rule on the silenced concept alone finds nothing.
    EXPECT_FALSE(fires(when("BUYER_WORDS"), "I will leave it there.", kSeller));
    EXPECT_TRUE(fires(when("BUYER_WORDS"), "I will leave it there.", kBuyer));
}

TEST(ClassifySpeaker, AScoreWeightOfTheOtherPartyIsIgnored) {
    const std::string text = "For a review I will leave a credit on your account.";
    const ConceptRule against = scored(2, {{"REVIEW", 2}, {"BUYER_WORDS", -1}});
    EXPECT_TRUE(fires(against, text, kSeller));
    EXPECT_FALSE(fires(against, text, kAnySender));
    const ConceptRule for_it = scored(2, {{"REVIEW", 1}, {"BUYER_WORDS", 1}});
    EXPECT_FALSE(fires(for_it, text, kSeller));
    EXPECT_TRUE(fires(for_it, text, kAnySender));
    EXPECT_TRUE(fires(for_it, text, kBuyer));
}

}  // namespace
}  // namespace mm::classify
