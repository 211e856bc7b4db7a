// Hostile HTML built to exhaust whoever reads it: each input nests or repeats
// markup hundreds of thousands of times, and each must get a verdict in time
// linear in its size (ctest's timeout catches a hang; each runs in well
// under a second).  With the default bounds a part nested too deep or too
// long is refused (LinkScan::over_limit); with the bounds lifted the cut,
// the safety net's text rendering and html_to_text still read it in one
// pass, without recursion.
#include <gtest/gtest.h>

#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "policy/html/html_nesting.h"
#include "policy/html/html_text.h"
#include "policy/html/html_tokenizer.h"
#include "policy/rules/link_rule.h"

namespace mm::policy {
namespace {

const std::string kMarket = "marketplace.example";
const std::string kBadLink = "<a href=\"https://evil.example/\">x</a>";
const std::string kMarkerPage = "<html><body><p>[link removed]</p></body></html>";

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

LinkPolicy unbounded() {
    LinkPolicy p;
    p.max_html_nesting = std::numeric_limits<std::size_t>::max();
    p.max_html_tokens = std::numeric_limits<std::size_t>::max();
    return p;
}

LinkScan scan(const std::string& html, const LinkPolicy& p = LinkPolicy{}) {
    return scan_html_links(html, p, kMarket, Unchanged::leave_empty);
}

bool fell_back(const LinkScan& s) {
    for (const RemovedLink& r : s.removed)
        if (r.reason.find("safety net") != std::string::npos) return true;
    return false;
}

// The verdict on a part over a bound: not delivered as it was, and why.
void expect_refused(const LinkScan& s, const std::string& why) {
    EXPECT_TRUE(s.tokenized);
    EXPECT_TRUE(s.changed());
    EXPECT_NE(s.over_limit.find(why), std::string::npos) << s.over_limit;
    EXPECT_EQ(s.text, kMarkerPage);
}

void expect_within_bounds(const LinkScan& s) {
    EXPECT_EQ(s.over_limit, "");
    EXPECT_EQ(s.text.find("evil.example"), std::string::npos);
}

// ---- the reported attacks ----------------------------------------------------

// <script> nested in <svg> (foreign content: not script data, so the cut
// judges each one's source): judging each nested one again was quadratic.
TEST(HtmlBounds, NestedScriptInSvg) {
    const std::size_t n = 200000;
    const std::string html =
        kBadLink + "<svg>" + repeat("<script>", n) + "x" + repeat("</script>", n) + "</svg>";
    expect_refused(scan(html), "nested deeper than 1000 elements");
    LinkScan s = scan(html, unbounded());
    expect_within_bounds(s);
    EXPECT_EQ(s.removed_count, 1u);
    EXPECT_EQ(s.bytes_cut, std::string(" href=\"https://evil.example/\"").size());
    EXPECT_EQ(html_to_text(html), "x");
}

// The same with a URL in the innermost script: the outermost goes whole.
TEST(HtmlBounds, NestedScriptInSvgWithUrl) {
    const std::size_t n = 200000;
    const std::string html = "<svg>" + repeat("<script>", n) + "https://evil.example/" +
                             repeat("</script>", n) + "</svg><p>after</p>";
    LinkScan s = scan(html, unbounded());
    expect_within_bounds(s);
    EXPECT_EQ(s.text, "<svg></svg><p>after</p>");
}

// 400,000 nested <span> behind an element the cut ignores (a table cell
// outside a table): the safety net renders the part as text, which walked a
// gumbo tree recursively.
TEST(HtmlBounds, DeepSpansBehindAnIgnoredElement) {
    const std::size_t n = 400000;
    const std::string html = "<td style=\"background:url(https://evil.example/p.png)\">x</td>" +
                             repeat("<span>", n) + "deep" + repeat("</span>", n);
    expect_refused(scan(html), "nested deeper than 1000 elements");
    LinkScan s = scan(html, unbounded());
    expect_within_bounds(s);
    EXPECT_TRUE(fell_back(s));
    EXPECT_EQ(s.text, "<html><body><pre>x\ndeep</pre></body></html>");
    EXPECT_EQ(html_to_text(html), "x\ndeep");
}

// The same without end tags, and with the gumbo tree's worst case after it
// (formatting elements reopened in every block: a tree quadratic in size).
TEST(HtmlBounds, UnclosedSpansAndReopenedFormatting) {
    std::string html = "<td style=\"background:url(https://evil.example/p.png)\">x</td>";
    for (int i = 0; i < 999; ++i) html += "<b id=" + std::to_string(i) + ">";
    html += repeat("<div>y</div>", 30000);
    LinkScan s = scan(html);
    expect_within_bounds(s);
    EXPECT_TRUE(fell_back(s));
    EXPECT_EQ(html_to_text(html).size(), std::string("x\n").size() + 30000 * 2 - 1);
    expect_refused(scan(html + repeat("<span>", 400000)), "nested deeper");
}

// A million tokens that nest nothing.
TEST(HtmlBounds, MillionTokens) {
    const std::string html = kBadLink + repeat("<b>x</b>", 340000);
    expect_refused(scan(html), "more than 1000000 tokens");
    LinkScan s = scan(html, unbounded());
    expect_within_bounds(s);
    EXPECT_EQ(s.removed_count, 1u);
    // Attributes count as tokens: one tag cannot hide a million.
    expect_refused(scan(kBadLink + "<p " + repeat("a ", 1000001) + ">"), "tokens");
}

// Text runs with a name outside the short table of references: each was
// decoded by a gumbo parse of its own.
TEST(HtmlBounds, ManyRunsWithReferences) {
    const std::string html = repeat("&zz;&hearts;<b>", 200000);
    EXPECT_EQ(html_to_text(html), repeat("&zz;\u2665", 200000));
    expect_refused(scan(kBadLink + html), "nested deeper");
    expect_within_bounds(scan(kBadLink + html, unbounded()));
}

// ---- nesting of every kind -----------------------------------------------------

struct Deep {
    const char* name;
    std::string open, close;  // repeated n times around "x"
    bool deep;                // nested as a browser nests it (else the tree stays flat)
};

class HtmlNesting : public ::testing::TestWithParam<Deep> {};

TEST_P(HtmlNesting, VerdictAndLinearRead) {
    const Deep& d = GetParam();
    const std::size_t n = 100000;
    const std::string html = kBadLink + repeat(d.open, n) + "x" + repeat(d.close, n);
    LinkScan s = scan(html);
    if (d.deep) {
        expect_refused(s, "nested deeper than 1000 elements");
    } else {
        expect_within_bounds(s);
    }
    expect_within_bounds(scan(html, unbounded()));
    EXPECT_NE(html_to_text(html).find('x'), std::string::npos);
}

const Deep kDeep[] = {
    {"divs", "<div>", "</div>", true},
    {"spans_unclosed", "<span>", "", true},
    {"font", "<font color=red>", "</font>", true},
    {"tables", "<table><tr><td>", "</td></tr></table>", true},
    {"tables_unclosed", "<table><tr><td>", "", true},
    {"lists", "<ul><li>", "</li></ul>", true},
    {"lists_unclosed", "<ol><li>", "", true},
    {"blockquotes", "<blockquote>", "</blockquote>", true},
    {"svg_groups", "<svg><g>", "</g></svg>", true},
    {"svg_groups_unclosed", "<g>", "", true},
    {"math", "<math><mrow>", "</mrow></math>", true},
    {"foreign_object", "<svg><foreignObject><div>", "</div></foreignObject></svg>", true},
    {"anchor_in_anchor", "<a href=\"https://www.ups.com/\">", "</a>", false},
    {"bad_anchor_in_anchor", "<a href=\"https://evil.example/\">", "</a>", false},
    {"paragraphs", "<p>", "", false},
    {"list_items", "<li>", "", false},
    {"cells_outside_table", "<td>", "</td>", false},
    {"tables_in_tables", "<table>", "", false},
    {"options", "<select><option>", "", false},
    {"forms", "<form>", "</form>", false},
    {"comments", "<!-- <div> -->", "", false},
    {"comment_openers", "<!--", "", false},
    {"conditional_comments", "<!--[if mso]><div><![endif]-->", "", false},
    {"cdata_in_svg", "<svg><![CDATA[<div>]]>", "", true},
    {"objects_removed", "<object data=\"https://evil.example/o\">", "</object>", false},
    {"titles", "<title>", "</title>", false},
    {"end_tags_only", "</div>", "</span>", false},
};

INSTANTIATE_TEST_SUITE_P(Kinds, HtmlNesting, ::testing::ValuesIn(kDeep),
                         [](const auto& info) { return std::string(info.param.name); });

// End tags for foreign elements that are not open, below a deep svg: each
// searched the whole stack of open svg elements.
TEST(HtmlBounds, ForeignEndTagsNotOpen) {
    const std::string html =
        kBadLink + "<svg>" + repeat("<g>", 200000) + repeat("</desc>", 300000) + "x";
    expect_refused(scan(html), "nested deeper");
    expect_within_bounds(scan(html, unbounded()));
    EXPECT_EQ(html_to_text(html), "xx");
}

// A linked logo in deep svg: every <a> looks ahead, and each lookahead
// copied the stack of open svg elements.
TEST(HtmlBounds, LookaheadsInDeepSvg) {
    const std::string html =
        "<svg>" + repeat("<g>", 100000) +
        repeat("<a href=\"https://www.ups.com/\"><img src=\"cid:l\"></a>", 20000) + kBadLink;
    LinkScan s = scan(html, unbounded());
    expect_within_bounds(s);
    EXPECT_GE(s.removed_count, 1u);
}

// Within the bounds, nothing changes: real markup nests far less.
TEST(HtmlBounds, RealisticNestingIsWithinBounds) {
    const std::string html = kBadLink + repeat("<table><tr><td><div><span>", 150) + "x" +
                             repeat("</span></div></td></tr></table>", 150);
    LinkScan s = scan(html);
    expect_within_bounds(s);
    EXPECT_EQ(s.removed_count, 1u);
}

// The bounds are the policy's.
TEST(HtmlBounds, BoundsFromThePolicy) {
    LinkPolicy p;
    p.max_html_nesting = 100;
    const std::string html = kBadLink + repeat("<div>", 101) + "x";
    expect_refused(scan(html, p), "nested deeper than 100 elements");
    p.max_html_nesting = 101;
    expect_within_bounds(scan(html, p));
    p.max_html_tokens = 10000;
    expect_refused(scan(kBadLink + repeat("<br>", 10000), p), "more than 10000 tokens");
}

// A part that needs no cut is not read by the tokenizer, so no bound
// applies: every URL candidate in it was judged by the pre-scan.
TEST(HtmlBounds, PartWithoutCutIsNotRefused) {
    const std::string html = repeat("<div>", 5000) + "<a href=\"https://www.ups.com/\">t</a>";
    LinkScan s = scan(html);
    EXPECT_FALSE(s.tokenized);
    EXPECT_FALSE(s.changed());
}

// ---- the nesting count --------------------------------------------------------

// Elements with no rule of their own nest until their end tag closes the
// topmost of their name: the count matches a plain stack, over many names
// opened and closed at random (which exercises the table of open names).
TEST(NestingCount, OrdinaryElementsAgainstAStack) {
    std::string src;
    std::vector<std::pair<bool, std::size_t>> ops;  // start?, offset of the name
    unsigned x = 11;
    auto next = [&x] { return (x = x * 1103515245 + 12345) >> 16; };
    for (int i = 0; i < 20000; ++i) {
        ops.push_back({next() % 3 != 0, src.size()});
        src += "x" + std::to_string(next() % 500) + " ";
    }
    html::Nesting n;
    std::vector<std::string> stack;
    for (auto [start, at] : ops) {
        html::Token t;
        t.inner_b = at;
        t.inner_e = src.find(' ', at);
        const std::string name = src.substr(at, t.inner_e - at);
        if (start) {
            n.start_tag(src, t, false);
            stack.push_back(name);
        } else {
            n.end_tag(src, t);
            for (std::size_t k = stack.size(); k-- > 0;) {
                if (stack[k] == name) {
                    stack.resize(k);
                    break;
                }
            }
        }
        ASSERT_EQ(n.depth(), stack.size());
    }
}

// ---- links without a scheme, repeated --------------------------------------------

TEST(HtmlBounds, ManyBareDomainsAndUrls) {
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "shop" + std::to_string(i) + ".example.com/x e.g./ ";
    LinkScan t = scan_text_links(text, LinkPolicy{}, kMarket);
    EXPECT_EQ(t.removed_count, 20000u);
    LinkScan h = scan("<p>" + text + "</p>");
    EXPECT_EQ(h.removed_count, 20000u);
    // Allowed ones, each a pre-scan match: a search back per match for the
    // DOCTYPE it might be in was quadratic.
    EXPECT_FALSE(scan("<!doctype " + repeat("www.ups.com/x ", 100000)).changed());
    // A URL ending in a run of ')' was counted again per byte trimmed.
    LinkScan p =
        scan_text_links("http://evil.example/" + repeat(")", 300000), LinkPolicy{}, kMarket);
    EXPECT_EQ(p.text, "[link removed]" + repeat(")", 300000));
    // "url(" without a ')' after it: each failed match read to the end.
    EXPECT_FALSE(scan("<p>" + repeat("url(", 250000) + "</p>").changed());
}

}  // namespace
}  // namespace mm::policy
