// `masks:` on a concept: a match of a masked concept that overlaps a match of
// the masking one is dropped before any rule sees it.  A refusal that names
// the channel ("cannot accept a transfer") neutralises that word only; the
// same word elsewhere in the message still counts, unlike a `!X` exclusion,
// which switches the rule off in its whole window.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "policy/classify/expression.h"
#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "policy/classify/tokenizer.h"
#include "tests/support/lexicon_samples.h"

namespace mm::classify {
namespace {

const std::string kLexicon =
    "languages: [en]\n"
    "concepts:\n"
    "  PAY:\n"
    "    en: [transfer, \"transfer to me\"]\n"
    "  ASK:\n"
    "    en: [contact]\n"
    "  REFUSED:\n"
    "    description: a refusal that names the channel\n"
    "    masks: [PAY, ASK]\n"
    "    en: [\"cannot accept ... transfer\", \"cannot accept transfers by\"]\n"
    "  QUOTED:\n"
    "    description: the refusal quoted, which is no refusal\n"
    "    masks: [REFUSED]\n"
    "    en: [\"you say we cannot\"]\n";

std::shared_ptr<const Lexicon> lexicon() {
    static const auto lx = load_lexicon(YAML::Load(kLexicon), "c.yaml").value();
    return lx;
}

int id_of(const std::string& name) {
    return lexicon()->find(name);
}

using lexicon_samples::lexicon_error;
ConceptRule when(const std::string& expression) {
    ConceptRule r = lexicon_samples::when_rule(expression);
    r.scope = Scope::message;
    r.window = 30;
    return r;
}

bool fires(const std::vector<std::string>& texts) {
    auto set = RuleSet::compile(lexicon(), {when("PAY & ASK")}).value();
    std::vector<TextInput> in;
    for (const std::string& t : texts) in.push_back({t, false});
    return !set->match(std::span<const TextInput>(in), {}).empty();
}

std::vector<std::string> concepts_in(const std::string& text) {
    return lexicon_samples::concepts_in(*lexicon(), text);
}

TEST(ClassifyMasks, ParsedFromTheLexicon) {
    const auto& refused = lexicon()->concepts()[static_cast<std::size_t>(id_of("REFUSED"))];
    ASSERT_EQ(refused.masks.size(), 2u);
    EXPECT_EQ(refused.masks[0], id_of("PAY"));
    EXPECT_EQ(refused.masks[1], id_of("ASK"));
    EXPECT_TRUE(lexicon()->concepts()[static_cast<std::size_t>(id_of("PAY"))].masks.empty());
}

TEST(ClassifyMasks, BadMasksAreRefusedAtTheirPlace) {
    const std::string head = "languages: [en]\nconcepts:\n  X:\n    en: [review]\n";
    EXPECT_EQ(lexicon_error(head + "    masks: [Y]\n"),
              "c.yaml:5:13: concept X masks: unknown concept 'Y'");
    EXPECT_EQ(lexicon_error(head + "    masks: [X]\n"), "c.yaml:5:13: concept X masks itself");
    EXPECT_EQ(lexicon_error(head + "    masks: X\n"),
              "c.yaml:5:12: concept X masks: expected a list");
    EXPECT_EQ(lexicon_error(head + "    masks: [Y, Y]\n  Y:\n    en: [stars]\n"),
              "c.yaml:5:16: concept X masks Y twice");
    EXPECT_EQ(lexicon_error(head + "    masks: [Y]\n    masks: [Y]\n  Y:\n    en: [stars]\n"),
              "c.yaml:6:5: concept X masks: listed twice");
    // A concept defined after the one that masks it is found.
    EXPECT_EQ(lexicon_error(head + "    masks: [Y]\n  Y:\n    en: [stars]\n"), "");
}

TEST(ClassifyMasks, OnlyTheWordsInsideTheMaskingPhraseAreDropped) {
    EXPECT_EQ(concepts_in("We cannot accept a transfer."), std::vector<std::string>{"REFUSED"});
    EXPECT_EQ(concepts_in("We cannot accept a transfer, but a transfer works."),
              (std::vector<std::string>{"REFUSED", "PAY"}));
    // Overlapping is enough: "transfer to me" runs past the refusal.
    EXPECT_EQ(concepts_in("We cannot accept a transfer to me."),
              std::vector<std::string>{"REFUSED"});
}

TEST(ClassifyMasks, ARuleSeesOnlyTheMatchesLeft) {
    EXPECT_FALSE(fires({"We cannot accept a transfer for this table. Just contact us."}));
    EXPECT_TRUE(fires({"We cannot accept a card for this table. A transfer is fine, contact us."}));
    EXPECT_TRUE(
        fires({"We cannot accept a transfer for this table, but my friend takes a "
               "transfer. Just contact us."}));
}

TEST(ClassifyMasks, AMaskedMaskingMatchMasksNothing) {
    EXPECT_EQ(concepts_in("As you say we cannot accept a transfer."),
              (std::vector<std::string>{"QUOTED", "PAY"}));
    EXPECT_TRUE(fires({"As you say we cannot accept a transfer. Contact us."}));
}

TEST(ClassifyMasks, AMaskDoesNotReachIntoAnotherText) {
    EXPECT_FALSE(fires({"We cannot accept a transfer", "Contact us about the table."}));
    EXPECT_TRUE(fires({"We cannot accept a transfer", "A transfer is fine: contact us."}));
    // A refusal cut by the end of the subject covers nothing of the body.
    EXPECT_TRUE(fires({"We cannot accept a", "transfer, contact us."}));
}

}  // namespace
}  // namespace mm::classify
