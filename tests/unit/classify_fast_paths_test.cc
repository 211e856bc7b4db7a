// The classifier's fast paths against what they stand for: the shapes'
// memchr + anchored search against a plain search of each whole pattern
// (case folding to non-ASCII, invalid UTF-8, every literal start of the
// lexicon in mixed case, glued and at the very start and end, long runs
// made to cost), and the process-wide stem memo against Snowball under
// threads and evictions.  Written by the review of the fourth speed pass.
#include <gtest/gtest.h>

#include <re2/re2.h>

#include <array>
#include <atomic>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/stemmer.h"
#include "policy/classify/text_fold.h"

namespace mm::classify {
namespace {

std::shared_ptr<const Lexicon> shipped() {
    static const auto lx =
        load_lexicon_file(std::string(MM_SOURCE_DIR) + "/etc/concepts.yaml").value();
    return lx;
}

using Spans = std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>>;

struct Plain {
    std::vector<std::unique_ptr<RE2>> shapes;
    Plain() {
        RE2::Options o;
        o.set_encoding(RE2::Options::EncodingUTF8);
        o.set_case_sensitive(false);
        o.set_log_errors(false);
        o.set_max_mem(8 << 20);
        for (const Lexicon::Concept& c : shipped()->concepts())
            for (const std::string& r : c.shapes) shapes.push_back(std::make_unique<RE2>(r, o));
    }
    Spans spans(const std::string& text) const {
        Spans want;
        for (std::uint32_t s = 0; s < shapes.size(); ++s) {
            re2::StringPiece input(text), m;
            int found = 0;
            while (!input.empty() && found++ < 256 &&
                   shapes[s]->Match(input, 0, input.size(), RE2::UNANCHORED, &m, 1)) {
                const auto b = static_cast<std::uint32_t>(m.data() - text.data());
                want.insert({s, b, b + static_cast<std::uint32_t>(m.size())});
                const std::size_t next = b + std::max<std::size_t>(m.size(), 1);
                if (next > text.size()) break;
                input = re2::StringPiece(text).substr(next);
            }
        }
        return want;
    }
};

Spans lexicon_spans(const std::string& text) {
    const TextInput in{text, false};
    const Document doc = tokenize(std::span<const TextInput>(&in, 1));
    Spans got;
    for (const ConceptMatch& m : shipped()->match(doc, std::span<const TextInput>(&in, 1), 0))
        if (m.lang == ConceptMatch::kShape) got.insert({m.entry, m.begin, m.end});
    return got;
}

// A shape `\bLITERAL...` is searched without its `\b` and the boundary
// checked at each match (RE2 then skips to the literal).  Every shape of the
// shipped lexicon, over random texts of the pieces shapes are made of, gives
// the matches of a plain search for the whole pattern, one after the other.
TEST(ClassifyFastShapes, EveryShapeMatchesWhereItsPlainSearchDoes) {
    const Plain plain;
    ASSERT_GT(plain.shapes.size(), 20u);
    const std::vector<std::string> pieces = {
        "x ",        "www.",       "www",    "wwww.",   "_www.",     "shop", "-",     ".",
        ".com",      ".de ",       "5",      "12",      " ",         "  ",   "€",     "$",
        "%",         "eur ",       "code",   ": ",      "ab12",      "a",    "é",     "_",
        "paypal.me", "iban",       " de89",  "1234 ",   "mon",       "day ", "or ",   "oder ",
        "fri",       "wa.me",      "t.me/",  "@shop",   "with ",     "-10",  "10:00", "h ",
        "to ",       "statt ",     "remise", "remises", "WWW.",      "Www.", "our ",  "OUR ",
        "the ",      "The first ", "zum ",   "letzte",  "PayPal.me", "IBAN "};
    const auto compare = [&](const std::string& text) {
        const Spans want = plain.spans(text);
        EXPECT_EQ(lexicon_spans(text), want) << text.substr(0, 200);
        return !want.empty();
    };
    std::mt19937 rng(2611);
    int matched = 0;
    for (int round = 0; round < 6000; ++round) {
        std::string text = "x ";
        const int n = 1 + static_cast<int>(rng() % 14);
        for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
        matched += compare(text);
        if (HasFailure()) return;
    }
    // Literals glued to a word, each the start of a long match of the
    // pattern without its `\b`: the search gives up the literal for the whole
    // pattern and still finds what it finds.
    std::string glued, dashed;
    for (int i = 0; i < 3000; ++i) glued += "awww.";
    for (int i = 0; i < 3000; ++i) dashed += i % 500 == 0 ? " www.ab-" : "xwww.ab-";
    EXPECT_TRUE(compare("x " + glued + " www.shop.de " + glued + "ab www.x.de"));
    EXPECT_TRUE(compare("x " + dashed + ".de"));
    // Many places where a literal starts after a boundary but its pattern
    // does not match: the anchored tries give way to the search.
    std::string misses;
    for (int i = 0; i < 60; ++i) misses += i % 7 == 0 ? " WWW.x" : " www-";
    EXPECT_TRUE(compare("x " + misses + " www.shop.de" + misses + " Www.ab.fr"));
    EXPECT_GT(matched, 1000);
}

TEST(ClassifyFastShapes, LiteralStartsAgreeWithThePlainSearch) {
    const Plain plain;
    // Every shape's literal start (those with one: www, remi, the, our, new,
    // zum, letzte, nue, paypal, iban) in mixed case, the texts of their
    // matches, and bytes a byte search could get wrong.
    const std::vector<std::string> pieces = {"www.",
                                             "WwW.",
                                             "wWw ",
                                             "www",
                                             "shop.de",
                                             "ab-cd",
                                             ".com",
                                             ".FR",
                                             "remise",
                                             "ReMiSeS",
                                             "remi\xC5\xBF"
                                             "e",
                                             " de 5",
                                             "the",
                                             "THE ",
                                             "tHe first",
                                             " 20 ",
                                             "come with",
                                             "our ",
                                             "OuR",
                                             "winter ",
                                             "scents",
                                             "new ",
                                             "NEW 2024 ",
                                             "mugs",
                                             "zum ",
                                             "ZUM zweiten",
                                             " mal ",
                                             "bestellt",
                                             "letzte",
                                             "LETZTEN",
                                             " jahr ",
                                             "weg",
                                             "nue",
                                             "NUEstros ",
                                             "nue\xC5\xBFtros ",
                                             "colores de navidad",
                                             "paypal.me",
                                             "PAYPAL.ME",
                                             "paypal",
                                             "iban",
                                             "IBAN: ",
                                             "de89",
                                             "DE12",
                                             "\xE2\x84\xAA",  // Kelvin sign (folds to k)
                                             "\xC5\xBF",      // long s (folds to s)
                                             "\xC4\xB0",      // I with dot
                                             "\xFF",
                                             "\xC3",
                                             "\xE2\x82",
                                             "é",
                                             "_",
                                             "x",
                                             "1",
                                             " ",
                                             "\n",
                                             ".",
                                             "-",
                                             "!",
                                             "\xC2\xA0",
                                             "\xE2\x80\x8B"};
    std::mt19937 rng(7);
    int matched = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        const int n = 1 + static_cast<int>(rng() % 10);
        for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
        const Spans want = plain.spans(text);
        ASSERT_EQ(lexicon_spans(text), want) << text;
        matched += !want.empty();
    }
    EXPECT_GT(matched, 2000);
}

// Misses before a match: past kMaxMisses anchored tries the search goes on
// unanchored; the matches found before, at and after the switch agree.
TEST(ClassifyFastShapes, ManyMissesThenMatchesAgree) {
    const Plain plain;
    for (int misses : {0, 1, 7, 8, 9, 10, 30}) {
        std::string text;
        for (int i = 0; i < misses; ++i) text += "www- iban x the. our. ";
        text += "www.shop.de iban: de89 paypal.me the first 20 come with";
        for (int i = 0; i < misses; ++i) text += " WWW-";
        text += " Www.ab.fr";
        EXPECT_EQ(lexicon_spans(text), plain.spans(text)) << misses;
    }
}

// Texts made to cost (long runs of a shape's literal start, glued or
// spaced, with and without a real match at the end): the same matches.
TEST(ClassifyFastShapes, TextsMadeToCostAgree) {
    const Plain plain;
    const auto rep = [](const std::string& s, std::size_t bytes) {
        std::string t;
        while (t.size() < bytes) t += s;
        return t;
    };
    constexpr std::size_t kBytes = 20000;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"www.a run", " www." + std::string(kBytes, 'a')},
        {"www.a- runs", rep(" www.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-", kBytes)},
        {"www. only", rep(" www.", kBytes)},
        {"glued wwww", std::string(kBytes, 'w')},
        {"WwWw", rep("Ww", kBytes / 2)},
        {"iban runs", rep(" iban ", kBytes)},
        {"the runs", rep(" the the first ", kBytes)},
        {"remise", rep(" remise de ", kBytes)},
        {"www.a- +1", rep(" www.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-", kBytes) + " www.shop.de"},
        {"www.a +1", " www." + std::string(kBytes, 'a') + " www.shop.de"},
        {"xwww. +1", rep("xwww.ab-", kBytes) + " www.shop.de"},
        {"www -+1", rep(" www-", kBytes) + " www.shop.de iban de89 the first 20 come with"},
        {"iban +1", rep(" iban x", kBytes) + " iban: de89"},
        {"matches", rep(" www.shop.de", kBytes)},
    };
    for (const auto& [name, text] : cases)
        EXPECT_EQ(lexicon_spans(text), plain.spans(text)) << name;
}

// The process's stem memo: threads stemming the same and different words,
// more distinct words than the table's 8192 slots (evictions), each result
// as a fresh Snowball stemmer gives it.
TEST(ClassifyStemMemo, MemoAgreesWithSnowballUnderThreads) {
    std::vector<std::string> words;
    std::mt19937 rng(11);
    const char* bases[] = {"review",  "bewertung", "avis",    "recensione", "reseña", "rating",
                           "product", "shipping",  "versand", "commande",   "ordine", "pedido"};
    const char* ends[] = {"",   "s",   "es",  "ing",    "ed",    "en",
                          "er", "ung", "ion", "ations", "mente", "é"};
    for (int i = 0; i < 30000; ++i) {
        std::string w = bases[rng() % 12];
        w += ends[rng() % 12];
        if (i % 3 == 0) w += std::to_string(rng() % 1000);
        if (i % 97 == 0) w = std::string(29 + rng() % 3, 'a');  // around kMaxBytes
        words.push_back(fold_word(w));
    }
    std::vector<std::array<std::string, kLangCount>> want(words.size());
    for (Lang l = 0; l < kLangCount; ++l) {
        Stemmer st(l);
        for (std::size_t i = 0; i < words.size(); ++i) want[i][l] = std::string(st.stem(words[i]));
    }
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            Stemmers s;
            std::mt19937 r(static_cast<unsigned>(t));
            for (int k = 0; k < 60000; ++k) {
                const std::size_t i = r() % words.size();
                const Lang l = static_cast<Lang>(r() % kLangCount);
                if (s.stem(l, words[i]) != want[i][l]) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace mm::classify
