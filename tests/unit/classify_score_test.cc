// `score:` on a content rule: weights of the concepts present in a scope
// unit add up, the rule fires at the threshold; the explanation lists what
// added up; `check` points at what is wrong in the score.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "policy/policy.h"
#include "tests/support/test_support.h"

namespace mm {
namespace {

const std::string kUnitLexicon = std::string(MM_TEST_DATA) + "/classify_unit/concepts.yaml";

std::shared_ptr<const classify::Lexicon> unit_lexicon() {
    static const auto lx = classify::load_lexicon_file(kUnitLexicon).value();
    return lx;
}

classify::ConceptRule scored(double threshold, std::vector<std::pair<std::string, double>> weights,
                             classify::Scope scope = classify::Scope::message) {
    classify::ConceptRule r;
    r.id = "r";
    r.score = {threshold, std::move(weights), scope};
    return r;
}

std::vector<classify::ConceptHit> hits(const classify::ConceptRule& rule, const std::string& text) {
    auto set = classify::RuleSet::compile(unit_lexicon(), {rule}).value();
    const classify::TextInput in{text, false};
    return set->match(std::span<const classify::TextInput>(&in, 1), {});
}

TEST(ClassifyScore, FiresAtTheThresholdAndNotBelow) {
    const auto rule = scored(3, {{"REVIEW", 1.5}, {"REWARD", 1.5}, {"SHOP", 1}});
    EXPECT_EQ(hits(rule, "Please leave a review and get a voucher.").size(), 1u);
    EXPECT_TRUE(hits(rule, "Please leave a review on our website.").empty());  // 2.5
    // Each concept counts once however often it matches.
    EXPECT_TRUE(hits(rule, "A review, a rating, more feedback.").empty());
}

TEST(ClassifyScore, NegativeWeightsCountAgainst) {
    const auto rule = scored(3, {{"REVIEW", 1.5}, {"REWARD", 1.5}, {"NEGATIVE", -2}});
    EXPECT_EQ(hits(rule, "A review, and a voucher for you.").size(), 1u);
    EXPECT_TRUE(hits(rule, "A bad review, and a voucher for you.").empty());
}

TEST(ClassifyScore, AddsUpPerScopeUnit) {
    const std::string text = "Please leave a review.\n\nWe send a voucher.";
    EXPECT_EQ(hits(scored(3, {{"REVIEW", 1.5}, {"REWARD", 1.5}}), text).size(), 1u);
    EXPECT_TRUE(
        hits(scored(3, {{"REVIEW", 1.5}, {"REWARD", 1.5}}, classify::Scope::paragraph), text)
            .empty());
}

TEST(ClassifyScore, WhenOrScore) {
    classify::ConceptRule rule = scored(10, {{"REVIEW", 1}});
    classify::Expression::ParseError error;
    rule.when = classify::Expression::parse("DELIVERY & SCHEDULE", &error);
    auto h = hits(rule, "Which day suits you for the delivery?");
    ASSERT_EQ(h.size(), 1u);
    EXPECT_FALSE(h[0].by_score);
    rule.score.threshold = 1;
    h = hits(rule, "A review please.");
    ASSERT_EQ(h.size(), 1u);
    EXPECT_TRUE(h[0].by_score);
}

TEST(ClassifyScore, HitListsConceptsStrongestFirstAndCutsAtTheStrongest) {
    const std::string text = "A bad review. Leave a rating and we refund you on our website.";
    auto h =
        hits(scored(2, {{"REVIEW", 1}, {"REWARD", 2}, {"NEGATIVE", -0.5}, {"SHOP", 0.5}}), text);
    ASSERT_EQ(h.size(), 1u);
    EXPECT_DOUBLE_EQ(h[0].score, 3);
    EXPECT_DOUBLE_EQ(h[0].threshold, 2);
    ASSERT_EQ(h[0].concepts.size(), 4u);
    EXPECT_EQ(h[0].concepts[0].name, "REWARD");
    EXPECT_EQ(h[0].concepts[3].name, "NEGATIVE");
    EXPECT_EQ(text.substr(h[0].begin, h[0].end - h[0].begin), "refund");
    EXPECT_EQ(h[0].concepts[1].words.size(), 2u);  // review, rating
}

TEST(ClassifyScore, CompileErrorsNameTheWeight) {
    std::size_t bad_rule = 9;
    int bad_weight = 9;
    auto r = classify::RuleSet::compile(unit_lexicon(), {scored(2, {{"REVIEW", 1}, {"NOPE", 1}})},
                                        &bad_rule, &bad_weight);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "rule r: score: unknown concept 'NOPE'");
    EXPECT_EQ(bad_rule, 0u);
    EXPECT_EQ(bad_weight, 1);
    r = classify::RuleSet::compile(
        unit_lexicon(), {scored(2, {{"REVIEW", std::numeric_limits<double>::infinity()}})});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "rule r: score: weight is not a finite number for 'REVIEW'");
    r = classify::RuleSet::compile(unit_lexicon(), {scored(0, {{"REVIEW", 1}})});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "rule r: score threshold must be a number above 0");
}

// ---- in policy.yaml ----------------------------------------------------------------

class ScorePolicy : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_.file(name)) << text;
        return dir_.file(name);
    }
    Result<std::shared_ptr<const policy::Policy>> load(const std::string& score) {
        std::ifstream in(kUnitLexicon);
        std::stringstream lexicon;
        lexicon << in.rdbuf();
        write("concepts.yaml", lexicon.str());
        return policy::load_policy(
            write("policy.yaml",
                  "version: t1\nconcepts: concepts.yaml\ncontent:\n  rules:\n"
                  "    - id: promo\n      action: reject\n      senders: [seller]\n" +
                      score));
    }
    std::string error(const std::string& score) {
        auto p = load(score);
        return p ? "" : p.error().message;
    }
    mm::testing::TempDir dir_;
};

TEST_F(ScorePolicy, ExplanationListsWhatAddedUp) {
    auto p = load(
        "      score:\n        threshold: 3\n"
        "        weights: {REVIEW: 1.5, REWARD: 2, NEGATIVE: -0.5}\n");
    ASSERT_TRUE(p) << p.error().message;
    auto h = (*p)->content.rules->scan({"", "Leave a review and get a voucher."},
                                       {1, classify::kSeller, 0});
    ASSERT_EQ(h.size(), 1u);
    // The excerpt is cut around the strongest positive match.
    EXPECT_EQ(policy::describe_hit(h[0]),
              "reject en: score 3.5 ≥ 3: REWARD=\"voucher\" +2, REVIEW=\"review\" +1.5 — \"and "
              "get a voucher.\"");
    EXPECT_TRUE((*p)->content.rules
                    ->scan({"", "Leave a review and get a voucher."}, {1, classify::kBuyer, 0})
                    .empty());
}

TEST_F(ScorePolicy, CheckErrorsPointAtTheScore) {
    const std::string at = dir_.file("policy.yaml") + ":";
    EXPECT_EQ(error("      score:\n        threshold: 3\n        weights: {REVIEW: 1, NOPE: 2}\n"),
              at + "10:30: rule promo: score: unknown concept 'NOPE'");
    EXPECT_EQ(error("      score:\n        threshold: 3\n        weights: {REVIEW: .inf}\n"),
              at + "10:27: content.rules[0].score.weights.REVIEW: expected a finite number, got "
                   "'.inf'");
    EXPECT_EQ(error("      score:\n        threshold: 0\n        weights: {REVIEW: 1}\n"),
              at + "9:20: content.rules[0].score.threshold: must be above 0, got 0");
    EXPECT_EQ(error("      score:\n        threshold: 3\n        weights: {}\n"),
              at + "10:18: content.rules[0].score.weights: empty");
    EXPECT_EQ(error("      score:\n        weights: {REVIEW: 1}\n"),
              at + "9:9: missing required key 'threshold' in 'content.rules[0].score'");
}

}  // namespace
}  // namespace mm
