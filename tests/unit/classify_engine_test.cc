// The classifier engine (policy/classify): tokens, folding, stems, the
// lexicon's entry kinds and checks, `when:` expressions, windows and scopes.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "policy/classify/expression.h"
#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "policy/classify/stemmer.h"
#include "policy/classify/text_fold.h"
#include "tests/support/lexicon_samples.h"

namespace mm::classify {
namespace {

const std::string kUnitLexicon = std::string(MM_TEST_DATA) + "/classify_unit/concepts.yaml";

std::shared_ptr<const Lexicon> unit_lexicon() {
    static const auto lx = load_lexicon_file(kUnitLexicon).value();
    return lx;
}

std::vector<std::string> concepts_in(const std::string& text, LangMask langs = kAllLangs) {
    return lexicon_samples::concepts_in(*unit_lexicon(), text, langs);
}
using lexicon_samples::lexicon_error;

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::shared_ptr<const RuleSet> one_rule(const std::string& when, Scope scope = Scope::paragraph,
                                        int window = 30, std::uint8_t senders = kAnySender) {
    Expression::ParseError error;
    std::vector<ConceptRule> rules{{"r", Expression::parse(when, &error), scope, window, senders}};
    return RuleSet::compile(unit_lexicon(), std::move(rules)).value();
}

bool fires(const RuleSet& rules, const std::string& text, std::uint8_t sender = kAnySender) {
    const TextInput in{text, false};
    return !rules.match(std::span<const TextInput>(&in, 1), {0, sender}).empty();
}

// ---- tokens ----------------------------------------------------------------

TEST(ClassifyTokenizer, SentencesEndAtStopsNotInsideNumbersOrDomains) {
    const TextInput in{"Price 3.50 at shop-example.com today. Next one! Third?", false};
    Document d = tokenize(std::span<const TextInput>(&in, 1));
    ASSERT_EQ(d.tokens.size(), 11u);
    EXPECT_EQ(d.folded_of(d.tokens[1]), "3");
    EXPECT_EQ(d.tokens[0].sentence, d.tokens[7].sentence);       // "today"
    EXPECT_EQ(d.tokens[8].sentence, d.tokens[7].sentence + 1);   // "Next"
    EXPECT_EQ(d.tokens[10].sentence, d.tokens[8].sentence + 1);  // "Third"
    EXPECT_EQ(d.tokens[10].paragraph, d.tokens[0].paragraph);
}

TEST(ClassifyTokenizer, ParagraphsEndAtAnEmptyLineNotAtALineBreak) {
    const TextInput in{"Hello Bob,\nthanks\n \t\nNew paragraph", false};
    Document d = tokenize(std::span<const TextInput>(&in, 1));
    ASSERT_EQ(d.tokens.size(), 5u);
    EXPECT_EQ(d.tokens[0].paragraph, d.tokens[2].paragraph);
    EXPECT_EQ(d.tokens[2].sentence, d.tokens[0].sentence);
    EXPECT_EQ(d.tokens[3].paragraph, d.tokens[2].paragraph + 1);
    EXPECT_EQ(d.tokens[3].sentence, d.tokens[2].sentence + 1);
}

TEST(ClassifyTokenizer, SpansPointIntoTheTextAndSubjectJoinsTheNextText) {
    const TextInput in[] = {{"Über uns", true}, {"Body text", false}, {"Other part", false}};
    Document d = tokenize(in);
    ASSERT_EQ(d.tokens.size(), 6u);
    EXPECT_EQ(in[0].text.substr(d.tokens[0].begin, d.tokens[0].end - d.tokens[0].begin), "Über");
    EXPECT_EQ(d.folded_of(d.tokens[0]), "uber");
    EXPECT_NE(d.tokens[1].paragraph, d.tokens[2].paragraph);  // subject is its own paragraph
    EXPECT_EQ(d.tokens[1].message, d.tokens[2].message);
    EXPECT_NE(d.tokens[3].message, d.tokens[4].message);
}

// Every token names its folded form among the document's distinct ones:
// equal forms one index (whatever the case, accents or text), different
// forms another, also when they share their first and last eight bytes.
TEST(ClassifyTokenizer, EqualFoldedFormsShareASpelling) {
    std::vector<std::string> words = {"a",
                                      "ab",
                                      "ba",
                                      "abc",
                                      "acb",
                                      "abcd",
                                      "abdc",
                                      "abcdefgh",
                                      "abcdefgi",
                                      "abcdefghXijklmnop",
                                      "abcdefghYijklmnop",
                                      "abcdefghijklmnop",
                                      "Grüße",
                                      "grusse",
                                      "GRUSSE",
                                      "Über",
                                      "uber",
                                      "ubER",
                                      "0",
                                      "00",
                                      "000"};
    for (int k = 0; k < 600; ++k) words.push_back("w" + std::to_string(k * 7919));
    std::string text;
    for (int round = 0; round < 3; ++round)
        for (const std::string& w : words) text += w + " ";
    const TextInput in[] = {{text, true}, {"ABCDEFGHXIJKLMNOP uber", false}};
    Document d = tokenize(in);
    std::map<std::string, std::uint32_t> seen;
    std::set<std::uint32_t> ids;
    for (const Token& t : d.tokens) {
        const std::string f(d.folded_of(t));
        auto [it, fresh] = seen.emplace(f, t.spelling);
        EXPECT_EQ(it->second, t.spelling) << f;
        if (fresh) {
            EXPECT_TRUE(ids.insert(t.spelling).second) << f;
        }
        ASSERT_LT(t.spelling, d.spellings.size());
        EXPECT_EQ(d.folded_of(d.tokens[d.spellings[t.spelling]]), f);
    }
    EXPECT_EQ(d.spellings.size(), seen.size());
    EXPECT_EQ(seen.size(), words.size() - 4);  // grusse, GRUSSE, uber, ubER fold onto others
}

TEST(ClassifyTokenizer, ApostrophesAndHyphensSeparateWords) {
    EXPECT_EQ(fold_words("l'avis e-mail"), (std::vector<std::string>{"l", "avis", "e", "mail"}));
}

// ---- folding and stems -----------------------------------------------------

TEST(ClassifyFold, CaseAndAccentsFolded) {
    EXPECT_EQ(fold_word("Évaluée"), "evaluee");
    EXPECT_EQ(fold_word("GRÜSSE"), "grusse");
    EXPECT_EQ(fold_word("Grüße"), "grusse");
    EXPECT_EQ(fold_word("reseña"), "resena");
    EXPECT_EQ(fold_word("cœur"), "coeur");
}

TEST(ClassifyStem, InflectionsShareAStem) {
    Stemmers s;
    auto stem = [&](Lang l, const char* w) { return std::string(s.stem(l, fold_word(w))); };
    const Lang de = *lang_from_code("de"), fr = *lang_from_code("fr"), en = 0;
    EXPECT_EQ(stem(de, "Bewertungen"), stem(de, "Bewertung"));
    EXPECT_EQ(stem(fr, "rembourserons"), stem(fr, "remboursement"));
    EXPECT_EQ(stem(en, "reviews"), stem(en, "review"));
    EXPECT_EQ(stem(en, "reviewing"), stem(en, "reviewed"));
}

// ---- entry kinds -------------------------------------------------------------

TEST(ClassifyLexicon, StemEntryMatchesInflections) {
    EXPECT_TRUE(has(concepts_in("Bitte schreiben Sie eine Bewertung"), "REVIEW"));
    EXPECT_TRUE(has(concepts_in("Ihre Bewertungen helfen uns"), "REVIEW"));
    EXPECT_TRUE(has(concepts_in("nous vous rembourserons"), "REWARD"));
    EXPECT_TRUE(has(concepts_in("Leave us your reviews"), "REVIEW"));
    EXPECT_FALSE(has(concepts_in("a preview of the item"), "REVIEW"));
}

TEST(ClassifyLexicon, PhraseNeedsConsecutiveWordsInOneSentence) {
    EXPECT_TRUE(has(concepts_in("here is a gift card"), "REWARD"));
    EXPECT_TRUE(has(concepts_in("two gift cards"), "REWARD"));
    EXPECT_FALSE(has(concepts_in("a gift for your card"), "REWARD"));
    EXPECT_FALSE(has(concepts_in("a gift. Card"), "REWARD"));
}

TEST(ClassifyLexicon, GapAllowsUpToThreeWords) {
    EXPECT_TRUE(has(concepts_in("please leave five stars"), "REVIEW"));
    EXPECT_TRUE(has(concepts_in("please leave us all five stars"), "REVIEW"));
    EXPECT_FALSE(has(concepts_in("please leave us all our nice five stars"), "REVIEW"));
}

TEST(ClassifyLexicon, PrefixSuffixExactKinds) {
    EXPECT_TRUE(has(concepts_in("Ein Einkaufsgutschein für Sie"), "REWARD"));  // *gutschein
    EXPECT_TRUE(has(concepts_in("Ihre Kundenbewertung zählt"), "REVIEW"));     // *bewertung
    EXPECT_TRUE(has(concepts_in("visit our webshops"), "SHOP"));               // webshop*
    EXPECT_TRUE(has(concepts_in("Ihr Feedback", 1u << 1), "REVIEW"));          // =feedback
    EXPECT_TRUE(has(concepts_in("your parcel"), "DELIVERY"));                  // =parcel
    EXPECT_FALSE(has(concepts_in("your parcels"), "DELIVERY"));
}

TEST(ClassifyLexicon, ShapesCoverTheTokensTheyOverlap) {
    EXPECT_TRUE(has(concepts_in("we send you 10 € back"), "AMOUNT"));
    EXPECT_TRUE(has(concepts_in("we send you $5"), "AMOUNT"));
    EXPECT_FALSE(has(concepts_in("order 10 items"), "AMOUNT"));
}

TEST(ClassifyLexicon, LanguagesLimitTheLexicons) {
    const LangMask en = 1u << 0;
    EXPECT_FALSE(has(concepts_in("eine Bewertung", en), "REVIEW"));
    EXPECT_TRUE(has(concepts_in("eine Bewertung", 1u << 1), "REVIEW"));
}

// ---- lexicon checks ------------------------------------------------------------

TEST(ClassifyLexiconErrors, MissingLanguageNamesFileLineColumnConceptAndLanguage) {
    EXPECT_EQ(lexicon_error("languages: [en, de]\nconcepts:\n  REVIEW:\n    en: [review]\n"),
              "c.yaml:3:3: concept REVIEW: language 'de' is missing (every concept with words "
              "lists every language)");
}

TEST(ClassifyLexiconErrors, EmptyLanguage) {
    EXPECT_EQ(
        lexicon_error("languages: [en, de]\nconcepts:\n  REVIEW:\n    en: [review]\n    de: []\n"),
        "c.yaml:3:3: concept REVIEW: language 'de' is empty");
}

TEST(ClassifyLexiconErrors, ShortStemStopwordAndBareStar) {
    const std::string head = "languages: [en]\nconcepts:\n  X:\n    en: [";
    EXPECT_EQ(lexicon_error(head + "ab]\n"),
              "c.yaml:4:10: concept X en 'ab': the stem 'ab' is shorter than 3 letters");
    EXPECT_EQ(lexicon_error(head + "the]\n"),
              "c.yaml:4:10: concept X en 'the': a stopword matches nearly every text");
    EXPECT_EQ(lexicon_error(head + "'*']\n"),
              "c.yaml:4:10: concept X en '*': a bare '*' or '=' matches every word");
    EXPECT_EQ(lexicon_error(head + "'gif*']\n"),
              "c.yaml:4:10: concept X en 'gif*': 'gif': at least 4 letters besides '*'");
    EXPECT_EQ(lexicon_error(head + "'of the']\n"),
              "c.yaml:4:10: concept X en 'of the': a phrase of stopwords and short words matches "
              "too much");
}

TEST(ClassifyLexiconErrors, UnknownKeysAndLanguagesAndBadShapes) {
    EXPECT_EQ(lexicon_error("languages: [en, xx]\nconcepts: {}\n"),
              "c.yaml:1:17: languages: unknown language 'xx' (known: en, de, fr, it, es)");
    EXPECT_EQ(lexicon_error("languages: [en]\nconcepts:\n  X:\n    words: [a]\n"),
              "c.yaml:4:5: concept X: unknown key 'words' (expected description, shape, speaker, "
              "masks or a language code)");
    EXPECT_EQ(lexicon_error("languages: [en]\nconcepts:\n  X:\n    shape: ['(']\n"),
              "c.yaml:4:13: concept X shape: missing ): (");
    EXPECT_EQ(lexicon_error("languages: [en]\nconcepts:\n  lower:\n    en: [review]\n"),
              "c.yaml:3:3: concept 'lower': names are UPPER_SNAKE_CASE");
}

TEST(ClassifyLexiconErrors, KeysListedTwice) {
    const std::string head = "languages: [en]\nconcepts:\n  X:\n    en: [review]\n";
    EXPECT_EQ(lexicon_error(head + "    shape: ['a1']\n    shape: ['b2']\n"),
              "c.yaml:6:5: concept X shape: listed twice");
    EXPECT_EQ(lexicon_error(head + "    description: a\n    description: b\n"),
              "c.yaml:6:5: concept X description: listed twice");
    EXPECT_EQ(lexicon_error(head + "    en: [rating]\n"), "c.yaml:5:5: concept X en: listed twice");
    EXPECT_EQ(lexicon_error("languages: [en]\nconcepts:\n  X:\n    en: [review]\n"
                            "  X:\n    en: [rating]\n"),
              "c.yaml:5:3: concept 'X' defined twice");
}

// ---- expressions -----------------------------------------------------------------

TEST(ClassifyExpression, PrecedenceNotThenAndThenOr) {
    Expression::ParseError error;
    Expression e = Expression::parse("A | B & !C", &error);
    ASSERT_TRUE(e.ok()) << error.message;
    auto bits = [&](bool a, bool b, bool c) {
        return std::uint64_t{a} | (std::uint64_t{b} << 1) | (std::uint64_t{c} << 2);
    };
    EXPECT_TRUE(e.eval(bits(true, false, true)));
    EXPECT_TRUE(e.eval(bits(false, true, false)));
    EXPECT_FALSE(e.eval(bits(false, true, true)));
    EXPECT_EQ(e.positive(), 0b011u);
    Expression g = Expression::parse("(A | B) & !C", &error);
    EXPECT_FALSE(g.eval(bits(true, false, true)));
    EXPECT_TRUE(g.eval(bits(true, false, false)));
}

TEST(ClassifyExpression, ErrorsSayWhere) {
    Expression::ParseError error;
    EXPECT_FALSE(Expression::parse("A & ", &error).ok());
    EXPECT_EQ(error.offset, 4u);
    EXPECT_FALSE(Expression::parse("A & review", &error).ok());
    EXPECT_EQ(error.message, "concept names are UPPER_SNAKE_CASE");
    EXPECT_EQ(error.offset, 4u);
    EXPECT_FALSE(Expression::parse("(A | B", &error).ok());
    EXPECT_EQ(error.message, "missing ')'");
    EXPECT_FALSE(Expression::parse("A B", &error).ok());
    EXPECT_EQ(error.offset, 2u);
    EXPECT_FALSE(Expression::parse("!A", &error).ok());
    EXPECT_EQ(error.message, "needs at least one concept outside '!'");
}

TEST(ClassifyRuleSet, UnknownConceptNamesTheRule) {
    Expression::ParseError error;
    std::vector<ConceptRule> rules{{"r1", Expression::parse("REVIEW & REWARDS", &error)}};
    std::size_t bad = 9;
    auto r = RuleSet::compile(unit_lexicon(), std::move(rules), &bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "rule r1: unknown concept 'REWARDS'");
    EXPECT_EQ(bad, 0u);
}

// ---- windows and scopes --------------------------------------------------------------

TEST(ClassifyRuleSet, CoOccurrenceAcrossSentencesWithinAParagraph) {
    auto rules = one_rule("REVIEW & (REWARD | AMOUNT)");
    EXPECT_TRUE(fires(*rules, "Please leave a review. We will send you a gift card."));
    EXPECT_FALSE(fires(*rules, "Please leave a review.\n\nWe will send you a gift card."));
    auto sentence = one_rule("REVIEW & REWARD", Scope::sentence);
    EXPECT_FALSE(fires(*sentence, "Please leave a review. We will send you a gift card."));
    auto message = one_rule("REVIEW & REWARD", Scope::message);
    EXPECT_TRUE(fires(*message, "Please leave a review.\n\nWe will send you a gift card."));
}

TEST(ClassifyRuleSet, WindowCountsWords) {
    auto rules = one_rule("REVIEW & REWARD", Scope::paragraph, 5);
    EXPECT_TRUE(fires(*rules, "a review and then a voucher"));
    EXPECT_FALSE(fires(*rules, "a review and one two three four five six a voucher"));
}

TEST(ClassifyRuleSet, NegationMeansAbsentFromTheWindow) {
    auto rules = one_rule("REVIEW & !REWARD");
    EXPECT_TRUE(fires(*rules, "please leave a review"));
    EXPECT_FALSE(fires(*rules, "please leave a review for a voucher"));
    EXPECT_TRUE(fires(*rules, "please leave a review.\n\nHere is a voucher."));
}

TEST(ClassifyRuleSet, SendersAndExplanation) {
    auto rules = one_rule("REVIEW & REWARD", Scope::paragraph, 30, kSeller);
    const std::string text = "Für eine kurze Bewertung schenken wir Ihnen einen Gutschein.";
    EXPECT_FALSE(fires(*rules, text, kBuyer));
    const TextInput in{text, false};
    auto hits = rules->match(std::span<const TextInput>(&in, 1), {0, kSeller});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].language, "de");
    ASSERT_EQ(hits[0].concepts.size(), 2u);
    EXPECT_EQ(hits[0].concepts[0].name, "REVIEW");
    const auto& w = hits[0].concepts[1].words.at(0);
    EXPECT_EQ(text.substr(w.begin, w.end - w.begin), "Gutschein");
}

TEST(ClassifyRuleSet, LanguageDetectionKeepsEnglishWordsInOtherLanguages) {
    auto rules = one_rule("REVIEW & REWARD");
    EXPECT_TRUE(fires(*rules,
                      "Wir würden uns über ein review freuen und senden Ihnen dann einen "
                      "Gutschein für die nächste Bestellung, das ist doch schön"));
}

// The caller's CPU budget (budget.h): the loops over a message's words
// report their work as they go, and a spent budget stops them.
int g_budget_calls = 0;
void count_budget_call() {
    ++g_budget_calls;
}
struct BudgetSpent {};
void spend_budget() {
    throw BudgetSpent{};
}

std::string review_and_reward_words(int n) {
    std::string text;
    for (int i = 0; i < n; ++i) text += i % 2 ? "review " : "gift card " + std::to_string(i) + " ";
    return text;
}

TEST(ClassifyBudget, TheLoopsReportTheirWorkAsTheyGo) {
    const int words = 100'000;
    const std::string text = review_and_reward_words(words);
    const TextInput in{text, false};
    g_budget_calls = 0;
    const Analysis a = analyse(unit_lexicon(), std::span<const TextInput>(&in, 1), kAllLangs,
                               {&count_budget_call});
    const auto calls_in_analysis = g_budget_calls;
    // The tokenizer and the matcher, each at least once per stride of tokens.
    EXPECT_GE(calls_in_analysis, 2 * (words / static_cast<int>(BudgetStride::kDefaultStride)));
    EXPECT_FALSE(a.matches.empty());
    auto rules = one_rule("REVIEW & REWARD");
    EXPECT_EQ(rules->match(a, kAnySender, &count_budget_call).size(), 1u);
    EXPECT_GT(g_budget_calls, calls_in_analysis);  // the rules' walk over the matches
}

TEST(ClassifyBudget, ASpentBudgetStopsTheAnalysisAndTheRules) {
    const std::string text = review_and_reward_words(10);
    const TextInput in{text, false};
    const std::span<const TextInput> texts(&in, 1);
    EXPECT_THROW(analyse(unit_lexicon(), texts, kAllLangs, {&spend_budget}), BudgetSpent);
    auto rules = one_rule("REVIEW & REWARD");
    EXPECT_EQ(rules->match(texts, {}).size(), 1u);
    EXPECT_THROW(rules->match(texts, {kAllLangs, kAnySender, {&spend_budget}}), BudgetSpent);
}

// A word before many different successors: the pairs it starts are still
// found after the matcher's memo of its successors is full.
TEST(ClassifyLexicon, PairsMatchAfterManyDifferentSuccessors) {
    std::string text;
    for (int i = 0; i < 100; ++i) text += "gift " + std::to_string(i) + " ";
    text += "gift card";
    const auto found = concepts_in(text, kAllLangs);
    EXPECT_EQ(std::count(found.begin(), found.end(), "REWARD"), 1);
}

TEST(ClassifyBudget, MoreWordsThanTheBoundAreRefusedNotCut) {
    const std::string text = "one two three four five";
    const TextInput in{text, false};
    const std::span<const TextInput> texts(&in, 1);
    EXPECT_EQ(tokenize(texts, {nullptr, 5}).tokens.size(), 5u);
    try {
        tokenize(texts, {nullptr, 4});
        FAIL() << "no TooManyWords";
    } catch (const TooManyWords& e) {
        EXPECT_EQ(e.limit(), 4u);
        EXPECT_STREQ(e.what(), "more than 4 words");
    }
    EXPECT_THROW(analyse(unit_lexicon(), texts, kAllLangs, {nullptr, 4}), TooManyWords);
}

}  // namespace
}  // namespace mm::classify
