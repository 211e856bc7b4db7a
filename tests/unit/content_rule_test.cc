// ContentRules and the policy.yaml `content:` section.  The default packs in
// etc/policy.yaml are run over tests/data/content/<rule>/<lang>/{pos,neg}-N.txt:
// a positive must hit its rule, a negative must hit no rule at all.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "policy/policy.h"
#include "policy/rules/content_rule.h"

namespace mm::policy {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Loads `content:` from a YAML text; the error is "LINE:COL: message".
std::string load_content(const std::string& text, ContentPolicy& out) {
    YAML::Node root = YAML::Load(text);
    YAML::Node content = root["content"];
    try {
        load_content_section({"content", YAML::Node("content"), content}, out);
    } catch (const yaml::SchemaError& e) {
        return std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " +
               e.what();
    }
    return "";
}

// The committed policy as the daemon loads it (its rules bound to the
// concepts of etc/concepts.yaml), parsed once: the corpus tests share it.
const Policy& committed() {
    static const std::shared_ptr<const Policy> policy = [] {
        auto p = load_policy((fs::path(MM_SOURCE_DIR) / "etc" / "policy.yaml").string());
        if (!p) throw std::runtime_error("etc/policy.yaml: " + p.error().message);
        return p.value();
    }();
    return *policy;
}

const ContentPolicy& committed_policy() {
    return committed().content;
}

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

size_t utf8_chars(std::string_view s) {
    return static_cast<size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// ---- the corpus ----------------------------------------------------------

struct CorpusCase {
    std::string rule;
    std::string language;
    std::string file;  // pos-N.txt or neg-N.txt
    fs::path path;
    bool positive() const { return file.starts_with("pos-"); }
};
void PrintTo(const CorpusCase& c, std::ostream* os) {
    *os << c.rule << "/" << c.language << "/" << c.file;
}

std::vector<CorpusCase> corpus() {
    std::vector<CorpusCase> out;
    const fs::path root = fs::path(MM_TEST_DATA) / "content";
    if (!fs::exists(root)) return out;
    for (const auto& rule : fs::directory_iterator(root)) {
        if (!rule.is_directory()) continue;
        for (const auto& lang : fs::directory_iterator(rule.path())) {
            if (!lang.is_directory()) continue;
            for (const auto& f : fs::directory_iterator(lang.path())) {
                std::string name = f.path().filename().string();
                if (!name.ends_with(".txt")) continue;
                out.push_back({rule.path().filename().string(), lang.path().filename().string(),
                               name, f.path()});
            }
        }
    }
    std::sort(out.begin(), out.end(),
              [](const CorpusCase& a, const CorpusCase& b) { return a.path < b.path; });
    return out;
}

// "Subject: ..." on the first line, a blank line, then the body: scanned as
// the milter scans a message, the subject and the text apart.
std::vector<std::string> split_message(const std::string& text) {
    const std::string prefix = "Subject: ";
    size_t eol = text.find('\n');
    std::string first = text.substr(0, eol);
    std::string body = eol == std::string::npos ? "" : text.substr(eol + 1);
    if (first.starts_with(prefix)) first = first.substr(prefix.size());
    return {first, body};
}

class ContentCorpus : public ::testing::TestWithParam<CorpusCase> {};

TEST_P(ContentCorpus, HitsOnlyWhatItShould) {
    const CorpusCase& c = GetParam();
    const auto parts = split_message(read_all(c.path));
    const std::vector<std::string_view> texts(parts.begin(), parts.end());
    const auto hits = committed_policy().rules->scan(texts);
    std::string found;
    for (const auto& h : hits) found += "\n  " + h.rule_id + " [" + h.language + "]: " + h.excerpt;
    if (c.positive()) {
        bool hit = std::any_of(hits.begin(), hits.end(),
                               [&](const ContentHit& h) { return h.rule_id == c.rule; });
        EXPECT_TRUE(hit) << "expected " << c.rule << "; got:" << (found.empty() ? " none" : found);
    } else {
        EXPECT_TRUE(hits.empty()) << "expected no hit; got:" << found;
    }
}

std::string corpus_name(const ::testing::TestParamInfo<CorpusCase>& info) {
    std::string n = info.param.rule + "_" + info.param.language + "_" + info.param.file;
    for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return n;
}

INSTANTIATE_TEST_SUITE_P(Corpus, ContentCorpus, ::testing::ValuesIn(corpus()), corpus_name);

TEST(ContentCorpusShape, EveryRuleHasTwoPositivesAndNegativesPerLanguage) {
    const auto cases = corpus();
    for (const ContentRule& rule : committed_policy().rules->rules()) {
        for (const char* lang : {"en", "de", "fr", "it", "es"}) {
            int pos = 0, neg = 0;
            for (const auto& c : cases)
                if (c.rule == rule.id && c.language == lang) (c.positive() ? pos : neg)++;
            EXPECT_GE(pos, 2) << rule.id << "/" << lang;
            EXPECT_GE(neg, 2) << rule.id << "/" << lang;
        }
    }
}

// Every committed rule speaks all five languages: through its `when:`
// (the concepts loader refuses a concept that lacks a language) or through
// patterns in each of them.
TEST(ContentPolicy, CommittedPacksAreLoadedAndTagTheirLanguage) {
    const auto& rules = committed_policy().rules->rules();
    ASSERT_GE(rules.size(), 6u);
    ASSERT_TRUE(committed().concepts);
    EXPECT_EQ(committed().concepts->languages(), classify::kAllLangs);
    for (const ContentRule& r : rules) {
        EXPECT_EQ(r.action, ContentRule::Action::reject) << r.id;
        if (!r.when.empty()) continue;
        for (const char* lang : {"en", "de", "fr", "it", "es"})
            EXPECT_TRUE(std::any_of(r.patterns.begin(), r.patterns.end(),
                                    [&](const auto& p) { return p.language == lang; }))
                << r.id << " has no " << lang << " pattern";
    }
    auto hits = committed_policy().rules->scan(
        {"Hallo", "Wenn Sie zufrieden sind, freuen wir uns über eine 5-Sterne-Bewertung."});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].rule_id, "review.conditional");
    EXPECT_EQ(hits[0].language, "de");
}

// ---- compile() -----------------------------------------------------------

ContentRule rule(std::string id, std::vector<ContentRule::Pattern> patterns) {
    ContentRule r;
    r.id = std::move(id);
    r.patterns = std::move(patterns);
    return r;
}

TEST(ContentRulesCompile, ErrorNamesRuleLanguagePatternAndRe2Message) {
    auto r = ContentRules::compile(
        {rule("a", {{"en", "x"}}),
         rule("review.compensation", {{"en", "ok"}, {"es", "a"}, {"es", "b"}, {"es", "(c"}})});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "content.rules[1] (review.compensation) es pattern 2: missing ): (c");
}

TEST(ContentRulesCompile, DuplicateIdsAreRefused) {
    auto r = ContentRules::compile({rule("x", {{"en", "a"}}), rule("x", {{"de", "b"}})});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::conflict);
    EXPECT_EQ(r.error().message, "content.rules[1] (x): duplicate rule id (also content.rules[0])");
}

TEST(ContentRulesCompile, UnknownLanguageAndNoPatternsAreRefused) {
    auto r = ContentRules::compile({rule("x", {{"nl", "a"}})});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "content.rules[0] (x) nl pattern 0: unknown language");
    auto e = ContentRules::compile({rule("y", {})});
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message,
              "content.rules[0] (y): no patterns, no when, no score and no model");
}

TEST(ContentRulesCompile, EmptyPolicyScansToNothing) {
    ContentPolicy p = empty_content_policy();
    ASSERT_TRUE(p.rules);
    EXPECT_TRUE(p.rules->rules().empty());
    EXPECT_TRUE(p.rules->scan({"unsubscribe"}).empty());
}

// ---- the YAML section: errors at the node --------------------------------

struct YamlErrorCase {
    const char* name;
    std::string yaml;
    std::string expected;
};
void PrintTo(const YamlErrorCase& c, std::ostream* os) {
    *os << c.name;
}

class ContentYamlErrors : public ::testing::TestWithParam<YamlErrorCase> {};

TEST_P(ContentYamlErrors, ReportedAtTheNode) {
    ContentPolicy p;
    EXPECT_EQ(load_content(GetParam().yaml, p), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ContentYamlErrors,
    ::testing::Values(
        YamlErrorCase{"BadPattern",
                      "content:\n"
                      "  rules:\n"
                      "    - id: a\n"
                      "      action: reject\n"
                      "      patterns: {en: [x]}\n"
                      "    - id: review.compensation\n"
                      "      action: reject\n"
                      "      patterns:\n"
                      "        en: ['ok']\n"
                      "        es:\n"
                      "          - 'a'\n"
                      "          - 'b'\n"
                      "          - '(gift card'\n",
                      "13:13: content.rules[1] (review.compensation) es pattern 2: missing ): "
                      "(gift card"},
        YamlErrorCase{"BadPatternBeforeId",
                      "content:\n"
                      "  rules:\n"
                      "    - patterns: {de: ['a[b']}\n"
                      "      id: r1\n"
                      "      action: flag\n",
                      "3:23: content.rules[0] (r1) de pattern 0: missing ]: [b"},
        YamlErrorCase{"DuplicateId",
                      "content:\n"
                      "  rules:\n"
                      "    - {id: x, action: reject, patterns: {en: [a]}}\n"
                      "    - {id: x, action: reject, patterns: {en: [b]}}\n",
                      "4:12: content.rules[1]: duplicate rule id 'x' (also content.rules[0])"},
        YamlErrorCase{"UnknownLanguage",
                      "content:\n"
                      "  rules:\n"
                      "    - {id: x, action: reject, patterns: {nl: [a]}}\n",
                      "3:42: unknown key 'nl' in 'content.rules[0].patterns'"},
        YamlErrorCase{"UnknownAction",
                      "content:\n"
                      "  rules:\n"
                      "    - {id: x, action: drop, patterns: {en: [a]}}\n",
                      "3:23: unknown action 'drop' (expected reject, quarantine or flag)"},
        YamlErrorCase{"MissingPatterns",
                      "content:\n"
                      "  rules:\n"
                      "    - {id: x, action: reject}\n",
                      "3:7: content.rules[0]: needs patterns, when, score or model"},
        YamlErrorCase{"BadId",
                      "content:\n"
                      "  rules:\n"
                      "    - {id: 'a b', action: reject, patterns: {en: [a]}}\n",
                      "3:12: content.rules[0].id: 'a b' must be at most 64 letters, digits and "
                      ". - _"},
        YamlErrorCase{"EmptyPattern",
                      "content:\n"
                      "  rules:\n"
                      "    - {id: x, action: reject, patterns: {en: ['']}}\n",
                      "3:47: content.rules[0].patterns.en: expected a regular expression, got "
                      "an empty string"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ContentYaml, LoadsActionsAndLanguages) {
    ContentPolicy p;
    ASSERT_EQ(load_content("content:\n"
                           "  rules:\n"
                           "    - id: q\n"
                           "      description: held\n"
                           "      action: quarantine\n"
                           "      patterns: {fr: ['\\bbonjour\\b'], it: [ciao]}\n",
                           p),
              "");
    ASSERT_EQ(p.rules->rules().size(), 1u);
    EXPECT_EQ(p.rules->rules()[0].description, "held");
    auto hits = p.rules->scan({"Bonjour à tous"});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].action, ContentRule::Action::quarantine);
    EXPECT_EQ(hits[0].language, "fr");
    EXPECT_STREQ(to_string(hits[0].action), "quarantine");
}

// ---- scan(): excerpts ----------------------------------------------------

std::shared_ptr<const ContentRules> compile_ok(std::vector<ContentRule> rules) {
    auto r = ContentRules::compile(std::move(rules));
    EXPECT_TRUE(r) << r.error().message;
    return r.value();
}

TEST(ContentScan, ExcerptIsWidenedToWholeWords) {
    auto rules = compile_ok({rule("r", {{"en", "ift ca"}})});
    auto hits = rules->scan({"Here is a gift card for you"});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].excerpt, "gift card");
}

TEST(ContentScan, ExcerptHasNoLineBreaksAndIsBounded) {
    auto rules = compile_ok({rule("r", {{"en", "(?s)leave.*review"}})});
    std::string text = "please leave\r\n\tus ";
    for (int i = 0; i < 100; ++i) text += "a very long filler ";
    text += "review";
    auto hits = rules->scan({text});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].excerpt.find_first_of("\r\n\t"), std::string::npos);
    EXPECT_LE(utf8_chars(hits[0].excerpt), 120u);
    EXPECT_TRUE(hits[0].excerpt.starts_with("leave us a very long"));
    EXPECT_NE(hits[0].excerpt.back(), ' ');
}

TEST(ContentScan, ExcerptIsValidUtf8WithMultiByteTextAndInvalidInput) {
    auto rules = compile_ok({rule("r", {{"fr", "r(?:é|e)duction é+"}})});
    std::string accents;
    for (int i = 0; i < 200; ++i) accents += "é";
    // Invalid bytes glued to the match are inside the widened excerpt.
    std::string text = "\xfe\xffréduction " + accents + " avis";
    auto hits = rules->scan({text});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_TRUE(valid_utf8(hits[0].excerpt));
    EXPECT_EQ(utf8_chars(hits[0].excerpt), 120u);
    EXPECT_TRUE(hits[0].excerpt.starts_with("réduction é"));
}

TEST(ContentScan, WideningStopsInsideAHugeWord) {
    auto rules = compile_ok({rule("r", {{"en", "coupon"}})});
    std::string text(10000, 'x');
    text += "coupon";
    text += std::string(10000, 'y');
    auto hits = rules->scan({text});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_LE(hits[0].excerpt.size(), 120u);
    EXPECT_NE(hits[0].excerpt.find("coupon"), std::string::npos);
}

TEST(ContentScan, OneHitPerRuleFromTheFirstMatchingText) {
    auto rules =
        compile_ok({rule("a", {{"en", "one"}, {"de", "zwei"}}), rule("b", {{"es", "tres"}})});
    auto hits = rules->scan({"nothing", "zwei and one", "one", "tres"});
    ASSERT_EQ(hits.size(), 2u);
    EXPECT_EQ(hits[0].rule_id, "a");
    // The earliest match in the text names the language.
    EXPECT_EQ(hits[0].language, "de");
    EXPECT_EQ(hits[0].excerpt, "zwei");
    EXPECT_EQ(hits[1].rule_id, "b");
    EXPECT_EQ(hits[1].excerpt, "tres");
}

TEST(ContentScan, CaseAndAccentsFold) {
    auto rules = compile_ok({rule("a", {{"fr", "\\bd(?:é|e)sabonner"}})});
    EXPECT_EQ(rules->scan({"SE DÉSABONNER"}).size(), 1u);
    EXPECT_EQ(rules->scan({"se desabonner"}).size(), 1u);
    EXPECT_EQ(rules->scan({"abonner"}).size(), 0u);
}

// ---- scan(): normalised text -----------------------------------------------

// The same offer written as a filter-dodging seller writes it: zero-width
// spaces, soft hyphens, Cyrillic е о а, letter spacing, digits for letters.
TEST(ContentScan, ObfuscatedReviewForRewardIsCaught) {
    const auto& rules = *committed_policy().rules;
    const std::vector<std::string> offers = {
        "Leave a re\u200Bview and get a g\u200Bift card.",
        "Leave a re\u00ADview and get a gift\u00AD card.",
        "L\u0435av\u0435 a r\u0435vi\u0435w and g\u0435t a gift \u0441\u0430rd.",
        "We send a $10 c\u043Eup\u043En for your r\u0435view.",
        "Leave a 5-star r e v i e w and get a free  g i f t  c a r d.",
        "A $10 gift card for a r e v i e w.",
        "L3ave a r3v13w and g3t a g1ft c4rd.",
        "L\u200Be\u00ADave a r\u0435v1\u0435w and we will s e n d you a  g 1 f t  c 4 r d.",
    };
    for (const std::string& offer : offers) {
        auto hits = rules.scan({"Your order", offer});
        ASSERT_EQ(hits.size(), 1u) << offer;
        EXPECT_EQ(hits[0].rule_id, "review.compensation") << offer;
    }
}

// Review 14's spellings: other separators between spaced letters, Latin
// letters with marks, small capitals, a hyphen at a line break, symbols for
// letters.
TEST(ContentScan, OffersSpelledWithCharactersAreCaught) {
    const auto& rules = *committed_policy().rules;
    const std::vector<std::pair<std::string, std::string>> offers = {
        {"review.compensation", "Leave us a r.e.v.i.e.w and we send you a g-i-f-t card."},
        {"review.compensation", "Leave us a r  e  v  i  e  w and we send you a gift card."},
        {"review.compensation", "Leave us a r\te\tv\ti\te\tw and we send you a gift card."},
        {"review.compensation",
         "Leave us a \u1E5B\u1EB9\u1E7F\u1ECB\u1EB9\u1E89 and we send you a "
         "g\u0331i\u0331f\u0331\u1E6F card."},
        {"review.compensation",
         "Leave us a \u0280\u1D07\u1D20\u026A\u1D07\u1D21 and we send you a "
         "\u0262\u026A\uA730\u1D1B card."},
        {"review.compensation", "Leave us a re-\nview and we send you a gi-\r\nft card."},
        {"review.compensation", "Leave us a rev!ew and we send you a g!ft card."},
        {"review.compensation", "Leave us a re\\/iew and we send you a gift card."},
        {"review.compensation", "Leave us a revi3vv and we send you a gift card."},
        {"referral.third_party", "Write to us on W-h-a-t-s-A-p-p and pay by P-a-y-P-a-l."},
        {"referral.third_party", "Pay by \u1E56\u1EA1\u1E8F\u1E56\u1EA1\u1E37 directly."},
        {"optout.link", "Click here to u-n-s-u-b-s-c-r-i-b-e."},
        {"optout.link", "Click here to unsub-\nscribe."},
    };
    for (const auto& [rule, offer] : offers) {
        auto hits = rules.scan({"Your order", offer});
        ASSERT_EQ(hits.size(), 1u) << offer;
        EXPECT_EQ(hits[0].rule_id, rule) << offer;
    }
}

// What the new readings must leave alone.
TEST(ContentScan, AbbreviationsDatesAndPricesStayClean) {
    const auto& rules = *committed_policy().rules;
    for (const std::string text :
         {"Your parcel, e.g. the U.S.A. order of 05.11.2026, left today.",
          "Well-known brands at EUR 12.50 - 3 x 4 sizes: a) b) c).",
          "Thanks! You will get it on Fri-\nday, tracking 1Z999AA10123456784."})
        EXPECT_TRUE(rules.scan({"Your order", text}).empty()) << text;
}

// A '1' for "i" in one word and for "l" in another: neither reading of the
// whole text has both concepts, the words read each their own way do.
TEST(ContentScan, OnesReadAsDifferentLettersInDifferentWordsAreCaught) {
    const auto& rules = *committed_policy().rules;
    for (const std::string offer : {"Leave a rev1ew and receive a comp1imentary case.",
                                    "Leave a rev1ew, then a comp1imentary case is yours.",
                                    "Leave a r e v 1 e w and receive a comp1imentary case."}) {
        auto hits = rules.scan({"Your order", offer});
        ASSERT_EQ(hits.size(), 1u) << offer;
        EXPECT_EQ(hits[0].rule_id, "review.compensation") << offer;
    }
    EXPECT_TRUE(rules.scan({"Your order", "Thanks for the rev1ew of the comp1ete set."}).empty());
}

TEST(ContentScan, ExcerptQuotesTheTextAsWritten) {
    auto rules = compile_ok({rule("r", {{"en", "gift\\s*card"}})});
    auto hits = rules->scan({"Here is a G I F T  C A R D for you"});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].excerpt, "G I F T C A R D");  // whitespace runs as one space
    hits = rules->scan({"a g\u0456ft c\u0430rd"});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].excerpt, "g\u0456ft c\u0430rd");
}

TEST(ContentScan, OrdinaryTextIsJudgedAsBefore) {
    const auto& rules = *committed_policy().rules;
    for (const char* text :
         {"Order 10 items, size 42.", "Your parcel 1Z999AA10123456784 ships on 2026-11-23.",
          "Use the 3 x 4 m tarp, plan B or C.", "Il y a à voir, n'hésitez pas.",
          "Contact paypal@shop.example about the refund of order 403-0123456-7891011."})
        EXPECT_TRUE(rules.scan({"Re: order", text}).empty()) << text;
}

// ---- thread safety -------------------------------------------------------

TEST(ContentScan, EightThreadsScanTheSameRules) {
    const auto& rules = *committed_policy().rules;
    const std::vector<std::string_view> hit = {
        "Offer", "If you are happy with the item, please leave us a 5-star review."};
    const std::vector<std::string_view> clean = {"Your order",
                                                 "Thank you for your order, it arrives Friday."};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 300; ++i) {
                auto h = rules.scan(i % 2 ? hit : clean);
                bool ok =
                    i % 2 ? (h.size() == 1 && h[0].rule_id == "review.conditional") : h.empty();
                if (!ok) ++wrong;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace mm::policy
