// link_text's helpers that let find_text_links skip RE2: where the next
// text link can start, and a scheme URL after white space read by hand.
// Both held to RE2's own matches over random texts of URL pieces.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "policy/html/html_tokenizer.h"
#include "policy/rules/link_text.h"

namespace {

// RE2 is asked for the next text link from earliest_text_link(pos) on, not
// from pos: no match of the pattern may start in between, on any text.
TEST(TextLinks, EarliestStartNeverPassesAMatch) {
    const std::vector<std::string> pieces = {"see ",
                                             "https://",
                                             "http:",
                                             "ftp://",
                                             "www.",
                                             "WWW.",
                                             "mailto:",
                                             "a@b.example",
                                             "//",
                                             "shop.example.co.uk",
                                             "/deal",
                                             "?q=1",
                                             "#top",
                                             ".",
                                             ". ",
                                             ":",
                                             ": ",
                                             "?",
                                             "#",
                                             " ",
                                             "\n",
                                             "\t",
                                             "\r\n",
                                             "e.g.",
                                             "3.5",
                                             "é",
                                             "→",
                                             "\xc2\xa0",
                                             "<",
                                             ">",
                                             "\"",
                                             "x",
                                             "ab-c",
                                             "_",
                                             "%",
                                             "=",
                                             "~",
                                             "+",
                                             "\\",
                                             "-",
                                             "host.example:8080/"};
    std::mt19937 rng(15);
    const re2::RE2& re = mm::policy::link::text_url_re();
    for (int round = 0; round < 3000; ++round) {
        std::string text;
        const int n = 1 + static_cast<int>(rng() % 12);
        for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
        for (std::size_t pos = 0; pos < text.size(); ++pos) {
            re2::StringPiece whole;
            const bool found = re.Match(re2::StringPiece(text.data(), text.size()), pos,
                                        text.size(), RE2::UNANCHORED, &whole, 1);
            const std::size_t bound = mm::policy::link::earliest_text_link(text, pos);
            if (!found) continue;
            const auto at = static_cast<std::size_t>(whole.data() - text.data());
            ASSERT_NE(bound, std::string_view::npos) << "'" << text << "' from " << pos;
            ASSERT_LE(bound, at) << "'" << text << "' from " << pos;
            ASSERT_GE(bound, pos);
        }
    }
}

// Where scheme_link_end answers, its match is RE2's from the same position.
TEST(TextLinks, SchemeLinksWithoutRe2AreRe2sMatches) {
    const std::vector<std::string> pieces = {
        " ",           "\t",     "\n",     "\r",     "\f",   "\v", "https://",
        "HTTP://",     "ftp://", "http:/", "https:", "www.", "a",  "Z",
        "0",           ".",      "/",      "?q=1",   "#",    "<",  ">",
        "\"",          "'",      "é",      "\xff",   ")",    "(",  "shop.example.co.uk/",
        "x@y.example", "mailto:"};
    std::mt19937 rng(16);
    const re2::RE2& re = mm::policy::link::text_url_re();
    int answered = 0;
    for (int round = 0; round < 60000; ++round) {
        std::string text;
        const int n = 1 + static_cast<int>(rng() % 10);
        for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
        for (std::size_t from = 0; from < text.size(); ++from) {
            const std::size_t e = mm::policy::link::scheme_link_end(text, from);
            if (e == std::string_view::npos) continue;
            ++answered;
            re2::StringPiece whole;
            ASSERT_TRUE(re.Match(re2::StringPiece(text.data(), text.size()), from, text.size(),
                                 RE2::UNANCHORED, &whole, 1))
                << "'" << text << "' from " << from;
            EXPECT_EQ(static_cast<std::size_t>(whole.data() - text.data()), from + 1) << text;
            EXPECT_EQ(whole.size(), e - from - 1) << "'" << text << "' from " << from;
        }
    }
    EXPECT_GT(answered, 1000);
}

// find_any tests eight bytes at once: it must give the first of its bytes,
// as find_first_of does, whatever stands around it (zero bytes, bytes one
// above a target, bytes of 0x80 and more) and wherever it falls in a word.
TEST(TextLinks, FindAnyGivesTheFirstOfItsBytes) {
    const std::string bytes = {'/',    '.',     ':',     '?',    '#',   '\0',   '\1',
                               '0',    '/' + 1, '.' - 1, ' ',    'a',   '\x80', '\xae',
                               '\xff', ';',     '$',     '\xaf', '\x3a'};
    std::mt19937 rng(1515);
    for (int round = 0; round < 200000; ++round) {
        std::string text(rng() % 40, ' ');
        for (char& c : text) c = rng() % 3 == 0 ? bytes[rng() % bytes.size()] : 'x';
        ASSERT_EQ((mm::policy::html::find_any<'/', '.', ':', '?', '#'>(text)),
                  std::string_view(text).find_first_of("/.:?#"));
        ASSERT_EQ((mm::policy::html::find_any<'\t', '\n', '\r'>(text)), std::string::npos);
        ASSERT_EQ((mm::policy::html::has_any<'\0'>(text)), text.find('\0') != std::string::npos);
    }
}

}  // namespace
