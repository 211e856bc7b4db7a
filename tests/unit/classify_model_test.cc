// `model:` on a content rule: a word model over the folded words and their
// first five characters, each distinct feature once per unit; the rule
// fires at the threshold; the explanation names the strongest features;
// `check` reports a bad model file at its line.
#include <gtest/gtest.h>

#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "policy/classify/word_model.h"
#include "policy/policy.h"
#include "tests/support/test_support.h"

namespace mm {
namespace {

using classify::WordModel;

const std::string kUnitLexicon = std::string(MM_TEST_DATA) + "/classify_unit/concepts.yaml";

std::shared_ptr<const classify::Lexicon> unit_lexicon() {
    static const auto lx = classify::load_lexicon_file(kUnitLexicon).value();
    return lx;
}

std::shared_ptr<const WordModel> model(const std::string& text) {
    auto m = WordModel::parse(text, "m.tsv");
    EXPECT_TRUE(m) << m.error().message;
    return m ? m.value() : nullptr;
}

std::string parse_error(const std::string& text) {
    auto m = WordModel::parse(text, "m.tsv");
    return m ? "" : m.error().message;
}

std::vector<classify::ConceptHit> hits(std::shared_ptr<const WordModel> m, double threshold,
                                       const std::string& text,
                                       classify::Scope scope = classify::Scope::message) {
    classify::ConceptRule r;
    r.id = "r";
    r.model = {std::move(m), threshold, scope};
    auto set = classify::RuleSet::compile(unit_lexicon(), {r}).value();
    const classify::TextInput in{text, false};
    return set->match(std::span<const classify::TextInput>(&in, 1), {});
}

const char* const kClub =
    "# a comment\n"
    "bias\t-2\n"
    "w:club\t1.5\n"
    "p:membe\t1\n"
    "w:exclusive\t0.75\n"
    "w:sorry\t-3\n";

TEST(ClassifyModel, Loads) {
    auto m = model(kClub);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->bias(), -2);
    EXPECT_EQ(m->size(), 4u);
    EXPECT_EQ(m->weight("w:club"), 1.5f);
    EXPECT_EQ(m->weight("p:membe"), 1.0f);
    EXPECT_EQ(m->weight("w:membe"), 0.0f);  // a prefix is not a word
    EXPECT_EQ(m->weight("w:nothing"), 0.0f);
}

// The table grows as entries are read (it is no longer sized from the
// file's line count): thousands of entries are all found after it grew, and
// a file that is mostly blank lines loads its few entries.
TEST(ClassifyModel, EveryEntryIsFoundAfterTheTableGrew) {
    std::string text = "bias\t0\n";
    for (int i = 0; i < 5000; ++i)
        text += "w:word" + std::to_string(i) + "\t" + std::to_string(i) + "\n";
    auto m = model(text);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->size(), 5000u);
    for (int i = 0; i < 5000; ++i)
        ASSERT_EQ(m->weight("w:word" + std::to_string(i)), static_cast<float>(i)) << i;
    EXPECT_EQ(m->weight("w:word5000"), 0.0f);
    auto comments = model(std::string(1 << 20, '\n') + "# x\nbias\t1\nw:club\t2\n");
    ASSERT_TRUE(comments);
    EXPECT_EQ(comments->size(), 1u);
    EXPECT_EQ(comments->weight("w:club"), 2.0f);
}

TEST(ClassifyModel, FeaturesAreTheFoldedWordAndItsFirstFiveCharacters) {
    EXPECT_EQ(classify::word_features("members"),
              (std::vector<std::string>{"w:members", "p:membe"}));
    EXPECT_EQ(classify::word_features("membe"), (std::vector<std::string>{"w:membe"}));
    // Characters, not bytes.
    EXPECT_EQ(classify::word_features("ßßßßßß"), (std::vector<std::string>{"w:ßßßßßß", "p:ßßßßß"}));
    EXPECT_TRUE(classify::word_features("2026").empty());
    const classify::TextInput in{"Members, MEMBERSHIP! Club 2026. Clubs\n\nÉté", false};
    const auto doc = classify::tokenize(std::span<const classify::TextInput>(&in, 1));
    EXPECT_EQ(classify::unit_features(doc, classify::Scope::message),
              (std::vector<std::vector<std::string>>{
                  {"w:members", "p:membe", "w:membership", "w:club", "w:clubs", "w:ete"}}));
    EXPECT_EQ(classify::unit_features(doc, classify::Scope::paragraph).size(), 2u);
}

TEST(ClassifyModel, EachErrorAtItsLine) {
    EXPECT_EQ(parse_error("w:club\t1\n"), "m.tsv:1: no bias line");
    EXPECT_EQ(parse_error("bias\t0\nw:club 1\n"), "m.tsv:2: expected FEATURE<TAB>WEIGHT");
    EXPECT_EQ(parse_error("bias\t0\n\nw:club\tnan\n"),
              "m.tsv:3:8: weight is not a finite number: 'nan'");
    EXPECT_EQ(parse_error("bias\t0\nw:club\t1e999\n"),
              "m.tsv:2:8: weight is not a finite number: '1e999'");
    EXPECT_EQ(parse_error("bias\tx\n"), "m.tsv:1:6: weight is not a finite number: 'x'");
    EXPECT_EQ(parse_error("bias\t0\nq:club\t1\n"),
              "m.tsv:2:1: expected bias, w:WORD or p:PREFIX, got 'q:club'");
    EXPECT_EQ(parse_error("bias\t0\np:club\t1\n"), "m.tsv:2:3: a prefix has 5 characters");
    EXPECT_EQ(parse_error("bias\t0\nw:club\t1\nw:club\t2\n"),
              "m.tsv:3:1: duplicate feature 'w:club'");
    EXPECT_EQ(parse_error("bias\t0\nbias\t1\n"), "m.tsv:2:1: second bias");
    EXPECT_NE(WordModel::load_file("/nonexistent/m.tsv").error().message.find("/nonexistent/m.tsv"),
              std::string::npos);
}

TEST(ClassifyModel, ScoresAUnitCountingEachFeatureOnce) {
    auto m = model(kClub);
    // -2 + club 1.5 + membe 1 (members and membership share it) = 0.5.
    auto h = hits(m, 0.5, "Our club: members and membership, club club club.");
    ASSERT_EQ(h.size(), 1u);
    EXPECT_TRUE(h[0].by_model);
    EXPECT_DOUBLE_EQ(h[0].score, 0.5);
    EXPECT_TRUE(hits(m, 0.6, "Our club: members and membership, club club club.").empty());
    // A negative word counts against.
    EXPECT_TRUE(hits(m, 0, "Sorry: our club for members.").empty());
}

TEST(ClassifyModel, FiresAtTheThresholdAndNotBelow) {
    auto m = model(kClub);
    const std::string text = "The club is exclusive.";  // -2 + 1.5 + 0.75 = 0.25
    EXPECT_EQ(hits(m, 0.25, text).size(), 1u);
    EXPECT_TRUE(hits(m, 0.26, text).empty());
    EXPECT_EQ(hits(m, -2, "Nothing here.").size(), 1u);  // the bias alone
}

TEST(ClassifyModel, AddsUpPerScopeUnit) {
    auto m = model(kClub);
    const std::string text = "The club.\n\nIt is exclusive, for members.";
    EXPECT_EQ(hits(m, 1, text).size(), 1u);  // 1.25 over the message
    EXPECT_TRUE(hits(m, 1, text, classify::Scope::paragraph).empty());
    EXPECT_TRUE(hits(m, 0, text, classify::Scope::sentence).empty());
}

TEST(ClassifyModel, RunsOnlyWhenWhenDidNot) {
    classify::ConceptRule r;
    r.id = "r";
    r.when = classify::Expression::parse("REVIEW", nullptr);
    r.model = {model(kClub), 0, classify::Scope::message};
    auto set = classify::RuleSet::compile(unit_lexicon(), {r}).value();
    const classify::TextInput in{"A review of the club, for members.", false};
    auto h = set->match(std::span<const classify::TextInput>(&in, 1), {});
    ASSERT_EQ(h.size(), 1u);
    EXPECT_FALSE(h[0].by_model);
}

TEST(ClassifyModel, ThresholdMustBeFinite) {
    classify::ConceptRule r;
    r.id = "r";
    r.model = {model(kClub), std::numeric_limits<double>::quiet_NaN(), classify::Scope::message};
    auto set = classify::RuleSet::compile(unit_lexicon(), {r});
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().message, "rule r: model threshold must be a finite number");
}

// ---- in policy.yaml ----------------------------------------------------------------

class ModelPolicy : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_.file(name)) << text;
        return dir_.file(name);
    }
    Result<std::shared_ptr<const policy::Policy>> load(const std::string& model_keys,
                                                       const std::string& tsv = kClub) {
        std::ifstream in(kUnitLexicon);
        std::stringstream lexicon;
        lexicon << in.rdbuf();
        write("concepts.yaml", lexicon.str());
        write("club.tsv", tsv);
        return policy::load_policy(
            write("policy.yaml",
                  "version: t1\nconcepts: concepts.yaml\ncontent:\n  rules:\n"
                  "    - id: promo\n      action: reject\n      senders: [seller]\n" +
                      model_keys));
    }
    std::string error(const std::string& model_keys, const std::string& tsv = kClub) {
        auto p = load(model_keys, tsv);
        return p ? "" : p.error().message;
    }
    mm::testing::TempDir dir_;
};

TEST_F(ModelPolicy, ExplanationListsTheStrongestFeatures) {
    auto p = load("      model:\n        file: club.tsv\n");
    ASSERT_TRUE(p) << p.error().message;
    const std::string text = "Join our Club today: exclusive offers for Members only.";
    auto h = (*p)->content.rules->scan({"", text}, {1, classify::kSeller, 0});
    ASSERT_EQ(h.size(), 1u);
    EXPECT_TRUE(h[0].by_model);
    EXPECT_EQ(policy::describe_hit(h[0]),
              "reject en: model 1.2 ≥ 0: \"club\" +1.5, \"membe*\" +1.0, \"exclusive\" +0.8 — "
              "\"Join our Club today: exclusive offers\"");
    EXPECT_TRUE((*p)->content.rules->scan({"", text}, {1, classify::kBuyer, 0}).empty());
}

TEST_F(ModelPolicy, CheckErrorsPointAtTheFileOrItsLine) {
    const std::string at = dir_.file("policy.yaml") + ":";
    EXPECT_EQ(error("      model:\n        file: nope.tsv\n"),
              at + "9:15: rule promo: model.file: cannot read '" + dir_.file("nope.tsv") + "'");
    EXPECT_EQ(error("      model:\n        file: club.tsv\n", "bias\t0\nw:club\tinf\n"),
              dir_.file("club.tsv") + ":2:8: weight is not a finite number: 'inf'");
    EXPECT_EQ(error("      model:\n        file: club.tsv\n", "w:club\t1\n"),
              dir_.file("club.tsv") + ":1: no bias line");
    EXPECT_EQ(error("      model:\n        file: club.tsv\n        threshold: .nan\n"),
              at + "10:20: content.rules[0].model.threshold: expected a finite number, got '.nan'");
    EXPECT_EQ(error("      model:\n        file: club.tsv\n        scope: everything\n"),
              at + "10:16: content.rules[0].model.scope: unknown scope 'everything' (expected "
                   "sentence, paragraph or message)");
    EXPECT_EQ(error("      model:\n        threshold: 1\n"),
              at + "9:9: missing required key 'file' in 'content.rules[0].model'");
}

TEST_F(ModelPolicy, TheShippedModelLoadsBesideTheShippedPolicy) {
    auto p = policy::load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
    ASSERT_TRUE(p) << p.error().message;
    bool found = false;
    for (const auto& r : (*p)->content.rules->rules())
        found = found || (r.id == "promo.marketing" && r.model.ok());
    EXPECT_TRUE(found);
}

}  // namespace
}  // namespace mm
