// The CSS prefilters (may_hide_text, may_make_css_text) pass exactly the
// texts their RE2 patterns match: the case-folded scans of folded_words.h
// against RE2 itself on chosen and on random texts made of the words'
// letters in both cases, U+017F, blanks and the other bytes they name.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "policy/html/html_css.h"

namespace mm::policy::html {
namespace {

bool re2_hides(std::string_view s) {
    static const RE2 re(R"((?i)hidden|style[ \t\n\r\f]*=)");
    return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), re);
}

bool re2_makes_css_text(std::string_view s) {
    static const RE2 re(R"((?i)content|quotes|list-style|symbols|\\|&#)");
    return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), re);
}

void expect_same(const std::string& s) {
    EXPECT_EQ(may_hide_text(s), re2_hides(s)) << s;
    EXPECT_EQ(may_make_css_text(s), re2_makes_css_text(s)) << s;
}

TEST(FoldedWords, ChosenTexts) {
    for (const std::string s : {
             "",
             "<p style=\"x\">",
             "<p STYLE \t\n=x>",
             "<p \xC5\xBFtyle=x>",
             "<p style>",
             "<p styl=x>",
             "<div HiDdEn>",
             "hidde",
             "<style>p{color:red}</style>",
             "CONTENT",
             "quo\xC5\xBF"
             "te\xC5\xBF",
             "li\xC5\xBFt-\xC5\xBF"
             "tyle",
             "list style",
             "\xC5\xBFym\xC5\xBF"
             "bols",
             "a\\b",
             "&amp;",
             "&#64;",
             "\xC5",
             "\xBF"
             "tyle=",
             "s\xC5\xBF"
             "tyle=",
             "sstyle=",
         })
        expect_same(s);
}

TEST(FoldedWords, RandomTextsAgreeWithRe2) {
    const std::vector<std::string> pieces = {
        "h",     "H",       "i",      "I",          "d",        "D",    "e",    "E",  "n",
        "N",     "s",       "S",      "t",          "T",        "y",    "Y",    "l",  "L",
        "c",     "C",       "o",      "O",          "q",        "Q",    "u",    "U",  "m",
        "M",     "b",       "B",      "-",          " ",        "\t",   "\n",   "\f", "\r",
        "=",     "\\",      "&",      "#",          "\xC5\xBF", "\xC5", "\xBF", "x",  "hidden",
        "style", "content", "quotes", "list-style", "symbols"};
    std::mt19937 rng(20261207);
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::uniform_int_distribution<int> length(0, 14);
    for (int n = 0; n < 200000; ++n) {
        std::string s;
        for (int k = length(rng); k > 0; --k) {
            const std::string& p = pieces[pick(rng)];
            // Whole words cut short or in another case now and then.
            if (p.size() > 2 && rng() % 3 == 0) {
                std::string q = p.substr(0, 1 + rng() % (p.size() - 1));
                for (char& c : q)
                    if (rng() % 2 && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
                s += q;
            } else {
                s += p;
            }
        }
        if (may_hide_text(s) != re2_hides(s) || may_make_css_text(s) != re2_makes_css_text(s)) {
            expect_same(s);
            return;
        }
    }
}

}  // namespace
}  // namespace mm::policy::html
