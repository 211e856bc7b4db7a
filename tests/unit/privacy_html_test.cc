// redact_html: addresses and phone numbers found in what the reader sees,
// however they are spread over tags and character references, replaced in
// the HTML; and the mapped rendering it matches on, held equal to
// html_to_text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "policy/html/html_text.h"
#include "policy/rules/privacy_rule.h"

namespace mm::policy {
namespace {

namespace fs = std::filesystem;

const std::string kDomain = "marketplace.example";

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---- the mapped rendering ----------------------------------------------------

const char* const kMarkup[] = {
    "Tom &amp; Jerry &lt;3 caf&eacute; &#233;&#xE9; &euro;5 &hellip;",
    "&copy 2026 &notit &copy2026 &ampamp &semi; &NotEqualTilde; &frac78; &Rarr;",
    "AT&T & &# &#x; &; &#; &#x40 &#64 &#0; &#x110000;",
    "&#150; &#128; free&nbsp;gift&#160;&#xA0;card",
    "<title>Win</title><style>p{x:1}</style>a<script>var b='</p>'</script>c",
    "<script><!--<script>x</script>y</script>z",
    "a<!-- hidden -->b<!-->c<!--->d<!-- x --!>e",
    "<!DOCTYPE html><?xml x?>text",
    "a<!--[if mso]><p>Leave a <b>review</b></p><![endif]-->b",
    "<!--[if mso]>x<!--[if gte 9]>y<![endif]-->z",
    "a<!--[if mso]>b",
    "<svg><script>evil()</script><text>shown</text></svg>",
    "<svg><script>x<p>shown</p>",
    "<textarea>a &amp; <b>b</b></textarea><xmp>c &amp; d</xmp>",
    "x<plaintext></plaintext><b>&amp;",
    "<svg><![CDATA[hi & bye\r\nx]]></svg><![CDATA[bogus]]>",
    "<noscript><p>shown</p></noscript>",
    "<p>one</p><p>two</p><div>three<br>four</div><ul><li>a<li>b</ul>",
    "<b>free</b> <i>gift</i><span>card</span>",
    "<table><tr><td>a</td><td>b</td></tr></table>",
    "<p>Please leave a\r\n   five star\n\treview</p>\r\n\r\n",
    "<pre>a  b\r\n c\r</pre>d   e<listing>\n x &amp;\f y</listing>",
    "<P>a</P><DIV>b</DIV><BR>c",
    "shown<a href='x",
    "shown<a href=\"x>more",
    "a<!-- b",
    "a<script>b",
    "a < b <3 <",
    "a</>b</ x>c",
    "<p>unclosed <b>bold <i>italic",
    "  <p> \xC2\xA0 lead \xC2\xA0</p> \xC2\xA2 \xC2",
    "",
};

std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20) {
            out += "\\x" + std::string(1, "0123456789abcdef"[u >> 4]) + "0123456789abcdef"[u & 15];
        } else {
            out.push_back(c);
        }
    }
    return out;
}

void expect_mapping_is_exact(const std::string& html) {
    const MappedText r = html_to_mapped_text(html);
    EXPECT_EQ(r.text, html_to_text(html)) << escaped(html);
    std::size_t last = 0;
    for (const TextPiece& p : r.pieces) {
        ASSERT_LE(last, p.out_b) << html;
        ASSERT_LT(p.out_b, p.out_e) << html;
        ASSERT_LE(p.out_e, r.text.size()) << html;
        ASSERT_LE(p.src_b, p.src_e) << html;
        ASSERT_LE(p.src_e, html.size()) << html;
        if (p.copied) {
            EXPECT_EQ(r.text.substr(p.out_b, p.out_e - p.out_b),
                      html.substr(p.src_b, p.src_e - p.src_b))
                << html;
        }
        last = p.out_e;
    }
}

TEST(MappedRendering, EqualsHtmlToText) {
    for (const char* html : kMarkup) expect_mapping_is_exact(html);
}

TEST(MappedRendering, EqualsHtmlToTextOnTheCorpora) {
    int files = 0;
    for (const fs::path& dir : {fs::path(MM_TEST_DATA) / "links",
                                fs::path(MM_SOURCE_DIR) / "fuzz" / "corpus" / "fuzz_html"}) {
        if (!fs::exists(dir)) continue;
        for (const auto& f : fs::directory_iterator(dir)) {
            if (!f.is_regular_file()) continue;
            expect_mapping_is_exact(read_all(f.path()));
            ++files;
        }
    }
    EXPECT_GT(files, 0);
}

// Names outside the tokenizer's own table are left out: html_to_text then
// decodes the whole text run through gumbo, which ends it at a literal
// "</textarea>" inside it where this rendering goes on.
TEST(MappedRendering, EqualsHtmlToTextOnRandomMarkup) {
    const std::vector<std::string> bits = {
        "<p>",
        "</p>",
        "<b>",
        "</b>",
        "<br>",
        "<pre>",
        "</pre>",
        "<svg>",
        "</svg>",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<!--",
        "-->",
        "<!--[if mso]>",
        "<![endif]-->",
        "<textarea>",
        "</textarea>",
        "<xmp>",
        "&amp;",
        "&#64;",
        "&#x40",
        "&nbsp;",
        "&copy",
        "&not",
        "&hellip;",
        "\r\n",
        "\r",
        "\n",
        " ",
        "  ",
        "\t",
        "\xC2\xA0",
        "a",
        "+49",
        "170",
        "@",
        "x.example",
        "<",
        ">",
        "<![CDATA[",
        "]]>",
        "<a href='",
        "'>",
        "\"",
        "</",
        "&",
    };
    std::mt19937 rng(12345);
    for (int round = 0; round < 3000; ++round) {
        std::string html;
        const int n = 1 + static_cast<int>(rng() % 24);
        for (int k = 0; k < n; ++k) html += bits[rng() % bits.size()];
        expect_mapping_is_exact(html);
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(MappedRendering, SourceRangesStopAtTags) {
    const std::string html = "<b>+49</b> <i>170</i> 1234567";
    const MappedText r = html_to_mapped_text(html);
    ASSERT_EQ(r.text, "+49 170 1234567");
    std::vector<SourceRange> ranges = source_ranges(r, 0, r.text.size());
    ASSERT_EQ(ranges.size(), 4u);
    EXPECT_EQ(html.substr(ranges[0].b, ranges[0].e - ranges[0].b), "+49");
    EXPECT_EQ(html.substr(ranges[1].b, ranges[1].e - ranges[1].b), " ");
    EXPECT_EQ(html.substr(ranges[2].b, ranges[2].e - ranges[2].b), "170");
    EXPECT_EQ(html.substr(ranges[3].b, ranges[3].e - ranges[3].b), " 1234567");
}

// ---- redact_html ---------------------------------------------------------------

struct Trick {
    const char* name;
    std::string html;
    std::vector<std::string> gone;  // as a reader would see them, none may be left
    std::string kind;
};

void PrintTo(const Trick& t, std::ostream* os) {
    *os << t.name;
}

class RedactHtml : public ::testing::TestWithParam<Trick> {};

TEST_P(RedactHtml, WhatTheReaderSeesIsRedacted) {
    const Trick& t = GetParam();
    const std::string html = "<html><body><p>Hello,</p><p>reach me at " + t.html +
                             " any time.</p><p>Kind regards</p></body></html>";
    RedactResult r = redact_html(html, RedactPolicy{}, kDomain);
    const std::string shown = html_to_text(r.text);
    for (const std::string& g : t.gone) EXPECT_EQ(shown.find(g), std::string::npos) << shown;
    EXPECT_NE(shown.find("reach me at [redacted] any time."), std::string::npos) << shown;
    // The markup stays: not the text-rendering fallback.
    EXPECT_EQ(r.text.find("<pre>"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("<p>Kind regards</p>"), std::string::npos) << r.text;
    ASSERT_EQ(r.redactions.size(), 1u) << r.text;
    EXPECT_EQ(r.redactions[0].kind, t.kind);
    // The same with the caller's rendering.
    const std::string rendered = html_to_text(html);
    EXPECT_EQ(redact_html(html, RedactPolicy{}, kDomain, {&rendered}).text, r.text);
}

INSTANTIATE_TEST_SUITE_P(
    Tricks, RedactHtml,
    ::testing::Values(
        Trick{"decimal_reference_at", "name&#64;host.example", {"host.example", "name"}, "email"},
        Trick{"hex_reference_at", "name&#x40;host.example", {"host.example"}, "email"},
        Trick{"named_reference_at", "name&commat;host&period;example", {"host"}, "email"},
        Trick{"at_in_a_span", "name<span>@</span>host.example", {"host.example", "name"}, "email"},
        Trick{"address_over_three_tags",
              "<b>name</b><i>@host</i><u>.example</u>",
              {"host", "name"},
              "email"},
        Trick{"zero_width_in_address", "na\u200Bme@ho\u00ADst.example", {"st.example"}, "email"},
        Trick{"nbsp_between_groups", "+49&nbsp;170&nbsp;1234567", {"1234567", "170"}, "phone"},
        Trick{"phone_over_tags", "<b>+49</b> <i>170</i> 1234567", {"1234567", "+49"}, "phone"},
        Trick{"entity_digits", "+&#52;&#57; &#x31;70 1234567", {"1234567", "+49"}, "phone"},
        Trick{"full_width_digits", "\uFF0B\uFF14\uFF19 170 1234567", {"1234567"}, "phone"},
        Trick{"phone_with_zero_width", "+49\u200B170\u200B1234\u200B567", {"567"}, "phone"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RedactHtmlParts, NothingToRedactLeavesTheBytesAlone) {
    const std::string html =
        "<html><head><style>p{color:#333}</style></head><body><p>Order 123-1234567-1234567"
        " ships on 2026-11-23.</p>\r\n<p>Tom &amp; Jerry &copy 2026, alias "
        "b-7f3a@marketplace.example</p></body></html>\r\n";
    RedactResult r = redact_html(html, RedactPolicy{}, kDomain);
    EXPECT_EQ(r.text, html);
    EXPECT_TRUE(r.redactions.empty());
    const std::string rendered = html_to_text(html);
    EXPECT_EQ(redact_html(html, RedactPolicy{}, kDomain, {&rendered}).text, html);
}

TEST(RedactHtmlParts, AttributesAreRedactedAsBefore) {
    const std::string html =
        "<p>Write to <a href=\"mailto:john@gmail.example\">john&#64;gmail.example</a> or "
        "<span title=\"555-123-4567\">call</span>.</p>";
    RedactResult r = redact_html(html, RedactPolicy{}, kDomain);
    EXPECT_EQ(r.text,
              "<p>Write to <a href=\"mailto:[redacted]\">[redacted]</a> or "
              "<span title=\"[redacted]\">call</span>.</p>");
    ASSERT_EQ(r.redactions.size(), 3u);
    EXPECT_EQ(r.redactions[0].found, "john@gmail.example");
}

TEST(RedactHtmlParts, EveryNodeOfAMatchIsEmptiedAndOnlyTheFirstGetsTheMarker) {
    RedactResult r = redact_html("<b>+49</b> <i>170</i> 1234567 ok", RedactPolicy{}, kDomain);
    EXPECT_EQ(r.text, "<b>[redacted]</b><i></i> ok");
    ASSERT_EQ(r.redactions.size(), 1u);
    EXPECT_EQ(r.redactions[0].found, "+49 170 1234567");
}

TEST(RedactHtmlParts, MarkerIsEscaped) {
    RedactPolicy p;
    p.marker = "<removed & gone>";
    RedactResult r = redact_html("<p>a@b.example</p>", p, kDomain);
    EXPECT_EQ(r.text, "<p>&lt;removed &amp; gone&gt;</p>");
    EXPECT_EQ(html_to_text(r.text), "<removed & gone>");
}

TEST(RedactHtmlParts, ConditionalCommentTextIsRedacted) {
    const std::string html = "a<!--[if mso]><p>call +49 <b>170</b> 1234567</p><![endif]-->b";
    RedactResult r = redact_html(html, RedactPolicy{}, kDomain);
    EXPECT_EQ(html_to_text(r.text).find("170"), std::string::npos) << r.text;
    EXPECT_EQ(r.redactions.size(), 1u);
}

TEST(RedactHtmlParts, AliasesAndOptionsAreHonoured) {
    RedactPolicy p;
    p.phones = false;
    const std::string html = "<p>b-1&#64;marketplace.example, +49&nbsp;170&nbsp;1234567</p>";
    EXPECT_EQ(redact_html(html, p, kDomain).text, html);
    p.phones = true;
    p.emails = false;
    EXPECT_EQ(redact_html("<p>x&#64;y.example</p>", p, kDomain).text, "<p>x&#64;y.example</p>");
}

TEST(RedactHtmlParts, HostileMarkupNeverLeavesANumberShown) {
    const std::vector<std::string> bits = {"<p>",
                                           "</p>",
                                           "<b>",
                                           "</b>",
                                           "<br>",
                                           "<!--",
                                           "-->",
                                           "<!--[if mso]>",
                                           "<![endif]-->",
                                           "&#52;",
                                           "&#57;",
                                           "&nbsp;",
                                           " ",
                                           "+",
                                           "4",
                                           "9",
                                           "170",
                                           "1234567",
                                           "\u200B",
                                           "<textarea>",
                                           "</textarea>",
                                           "<svg>",
                                           "<![CDATA[",
                                           "]]>",
                                           "<script>",
                                           "</script>",
                                           "&#64;",
                                           "name",
                                           "host.example",
                                           "<",
                                           "&",
                                           "\r\n"};
    std::mt19937 rng(777);
    for (int round = 0; round < 2000; ++round) {
        std::string html;
        const int n = 1 + static_cast<int>(rng() % 30);
        for (int k = 0; k < n; ++k) html += bits[rng() % bits.size()];
        RedactResult r = redact_html(html, RedactPolicy{}, kDomain);
        EXPECT_TRUE(redact_text(html_to_text(r.text), RedactPolicy{}, kDomain).redactions.empty())
            << html << "\n->\n"
            << r.text;
        if (::testing::Test::HasFailure()) return;
    }
}

// An inline image's Content-ID looks like an address; redacting the cid: URL
// would break the image.  The same words shown to the reader, or a link's
// cid: href (shown on hover), are redacted.
TEST(RedactHtml, CidUrlsAreNotAddresses) {
    RedactPolicy policy;
    const std::string html =
        "<p>The box:</p><img src=\"cid:part1.abc@sender-host.example\" alt=box>"
        "<p>write to cid:john@mail.example</p><a href=\"cid:jane@mail.example\">me</a>";
    const RedactResult r = redact_html(html, policy, kDomain);
    EXPECT_EQ(r.text.find("jane@mail.example"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("src=\"cid:part1.abc@sender-host.example\""), std::string::npos)
        << r.text;
    EXPECT_EQ(r.text.find("john@mail.example"), std::string::npos) << r.text;
}

}  // namespace
}  // namespace mm::policy
