// html_to_text: the reader's text of an HTML part (entities, skipped
// elements, block breaks, whitespace), and that hostile or unterminated
// markup never crashes, hangs or hides text a client shows.
#include "policy/html/html_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "policy/policy.h"
#include "policy/rules/content_rule.h"

namespace mm::policy {
namespace {

struct Case {
    const char* name;
    std::string input;
    std::string expected;
};

class HtmlText : public ::testing::TestWithParam<Case> {};

TEST_P(HtmlText, Renders) {
    EXPECT_EQ(html_to_text(GetParam().input), GetParam().expected);
}

const Case kCases[] = {
    // Character references, as the tokenizer decodes them.
    {"named_and_numeric", "Tom &amp; Jerry &lt;3 caf&eacute; &#233;&#xE9; &euro;5 &hellip;",
     "Tom & Jerry <3 caf\u00e9 \u00e9\u00e9 \u20ac5 \u2026"},
    {"legacy_without_semicolon", "&copy 2026 &notit", "\u00a9 2026 \u00acit"},
    {"named_outside_the_table", "&frac78; &Rarr;", "\u215e \u21a0"},
    // The standard's whole table: names of two code points; a name with ';'
    // that is not in it still begins with a legacy name.
    {"two_code_points", "&NotEqualTilde; &fjlig;", "\u2242\u0338 fj"},
    {"legacy_prefix_before_semicolon", "&notit; &copyx; &zz;", "\u00acit; \u00a9x; &zz;"},
    {"not_references", "AT&T & &# &#x; &;", "AT&T & &# &#x; &;"},
    {"windows_1252_numeric", "&#150; &#128;", "\u2013 \u20ac"},
    {"nbsp_is_a_space", "free&nbsp;gift&#160;&#xA0;card", "free gift card"},
    // What a reader never sees.
    {"script_style_title", "<title>Win</title><style>p{x:1}</style>a<script>var b='</p>'</script>c",
     "ac"},
    {"script_escapes", "<script><!--<script>x</script>y</script>z", "z"},
    {"comments", "a<!-- hidden -->b<!-->c<!--->d<!-- x --!>e", "abcde"},
    {"doctype_and_pi", "<!DOCTYPE html><?xml x?>text", "text"},
    // Outlook shows conditional comments' markup; other comments stay hidden.
    {"conditional_comment", "a<!--[if mso]><p>Leave a <b>review</b></p><![endif]-->b",
     "a Leave a review b"},
    {"nested_conditional_comment", "<!--[if mso]>x<!--[if gte 9]>y<![endif]-->z", "x z"},
    {"unterminated_conditional_comment", "a<!--[if mso]>b", "a b"},
    {"svg_script_skipped", "<svg><script>evil()</script><text>shown</text></svg>", "shown"},
    {"breakout_ends_svg_script", "<svg><script>x<p>shown</p>", "shown"},
    // Text a reader sees, however it is marked up.
    {"rcdata_and_rawtext", "<textarea>a &amp; <b>b</b></textarea><xmp>c &amp; d</xmp>",
     "a & <b>b</b>\nc &amp; d"},
    {"plaintext", "x<plaintext></plaintext><b>&amp;", "x\n</plaintext><b>&amp;"},
    {"cdata_in_svg", "<svg><![CDATA[hi & bye]]></svg><![CDATA[bogus]]>", "hi & bye"},
    {"noscript_is_markup", "<noscript><p>shown</p></noscript>", "shown"},
    {"nul_dropped", std::string("fr\0ee", 5), "free"},
    // Layout: blocks break lines, inline elements do not, whitespace collapses.
    {"blocks", "<p>one</p><p>two</p><div>three<br>four</div><ul><li>a<li>b</ul>",
     "one\ntwo\nthree\nfour\na\nb"},
    {"inline", "<b>free</b> <i>gift</i><span>card</span>", "free giftcard"},
    {"table_cells", "<table><tr><td>a</td><td>b</td></tr></table>", "a\nb"},
    {"wrapped_sentence", "<p>Please leave a\r\n   five star\n\treview</p>",
     "Please leave a five star review"},
    {"pre_keeps_whitespace", "<pre>a  b\n c</pre>d   e", "a  b\n c\nd e"},
    {"upper_case_tags", "<P>a</P><DIV>b</DIV><BR>c", "a\nb\nc"},
    // Unterminated and hostile markup: what a browser shows, never a crash.
    {"unterminated_tag", "shown<a href='x", "shown"},
    {"unterminated_attribute_value", "shown<a href=\"x>more", "shown"},
    {"unterminated_comment", "a<!-- b", "a"},
    {"unterminated_script", "a<script>b", "a"},
    {"lone_lt", "a < b <3 <", "a < b <3 <"},
    {"end_tag_slash", "a</>b</ x>c", "abc"},
    {"unclosed_elements", "<p>unclosed <b>bold <i>italic", "unclosed bold italic"},
    {"empty", "", ""},
};

INSTANTIATE_TEST_SUITE_P(Cases, HtmlText, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HtmlTextHostile, DeepNestingIsLinear) {
    std::string html;
    for (int i = 0; i < 200000; ++i) html += "<div><b>";
    html += "deep";
    auto start = std::chrono::steady_clock::now();
    std::string text = html_to_text(html);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(text, "deep");
}

TEST(HtmlTextHostile, ManyUnterminatedConstructsAreLinear) {
    // Each of these makes a naive scanner search to the end of the input
    // again from every occurrence.
    for (std::string unit : {"<script>", "<!--", "<svg><script>", "<textarea>", "<a x='"}) {
        std::string html;
        while (html.size() < 400000) html += unit + "x ";
        auto start = std::chrono::steady_clock::now();
        std::string text = html_to_text(html);
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << unit;
        EXPECT_LE(text.size(), html.size()) << unit;
    }
}

TEST(HtmlTextHostile, RandomMarkupNeverCrashes) {
    // Bytes that drive the tokenizer's states; the output is never longer
    // than the input (references only shrink, except &#x...; to UTF-8).
    std::string alphabet = "<>/!-=\"'&#;x0aAsvgcrpt[]CDATA \n\r";
    alphabet.push_back('\0');
    std::mt19937 rng(20261123);
    for (int round = 0; round < 3000; ++round) {
        std::string html;
        std::size_t len = rng() % 200;
        for (std::size_t i = 0; i < len; ++i) {
            if (rng() % 8 == 0) {
                static const char* words[] = {"<script>", "</script>", "<svg>", "<style>",
                                              "<!--",     "-->",       "<p>",   "&amp;",
                                              "<pre>",    "<title>",   "&#x41", "<![CDATA["};
                html += words[rng() % std::size(words)];
            } else {
                html += alphabet[rng() % alphabet.size()];
            }
        }
        std::string text = html_to_text(html);
        EXPECT_LE(text.size(), 3 * html.size() + 1) << html;
    }
}

// The committed sample messages: the words a reader sees are there, the
// markup, styles and head are not.
TEST(HtmlTextSamples, KeepWordsDropMarkup) {
    for (const char* name : {"marketing.html", "gmail.html", "outlook.html"}) {
        std::ifstream f(std::filesystem::path(MM_TEST_DATA) / "links" / name, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        std::string text = html_to_text(ss.str());
        EXPECT_FALSE(text.empty()) << name;
        EXPECT_EQ(text.find("<a "), std::string::npos) << name;
        EXPECT_EQ(text.find("href="), std::string::npos) << name;
        EXPECT_EQ(text.find("{"), std::string::npos) << name << ": CSS in the text";
        EXPECT_EQ(text.find("&amp;"), std::string::npos) << name;
        EXPECT_EQ(text.find("  "), std::string::npos) << name;
    }
}

// Content rules see a sentence that the source wraps over several lines as
// one line (the committed patterns stay inside a line: [^.!?\n]{0,60}).
TEST(HtmlTextContent, WrappedSentenceStillHits) {
    auto rules = ContentRules::compile({{"review.conditional",
                                         "",
                                         ContentRule::Action::reject,
                                         {{"en", R"(\bleave\b[^.!?\n]{0,60}\breview\b)"}}}})
                     .value();
    std::string html = "<p>Please <b>leave</b>\r\n us a five-star\r\n review!</p>";
    std::string text = html_to_text(html);
    EXPECT_EQ(rules->scan({text}).size(), 1u) << text;
}

// A stray "<" after a tag, a reference outside the tokenizer's own table and a
// literal end tag of a raw-text element: the words after them are still
// read (they once vanished from what the content rules saw).
TEST(HtmlTextHostile, WordsAfterAStrayEndTagAreRead) {
    const std::string text = html_to_text("<b></b><<3 &frac78; </textarea>gift card");
    EXPECT_NE(text.find("gift card"), std::string::npos) << text;
}

}  // namespace
}  // namespace mm::policy
