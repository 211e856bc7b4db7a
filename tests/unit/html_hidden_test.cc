// The reading of a CSS-aware client (html_to_visible_text): each way inline
// CSS and the hidden attribute hide text, where a hidden element ends, and
// that it stays linear on deep markup; the CSS that makes words
// (strip_css_text); and redact_html on words joined across hidden text.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "policy/html/html_css.h"
#include "policy/html/html_text.h"
#include "policy/rules/privacy_rule.h"

namespace mm::policy {
namespace {

const std::string kDomain = "marketplace.example";

struct Case {
    const char* name;
    std::string html;
    std::optional<std::string> visible;  // nullopt: nothing hidden
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

class Visible : public ::testing::TestWithParam<Case> {};

TEST_P(Visible, Renders) {
    EXPECT_EQ(html_to_visible_text(GetParam().html), GetParam().visible);
    // The mapped rendering is the same text.
    if (GetParam().visible) {
        EXPECT_EQ(html_to_mapped_text(GetParam().html, Rendering::visible).text,
                  *GetParam().visible);
    }
}

const std::string kSplit = "re<span style=\"%\">x</span>view";

Case split(const char* name, const std::string& style, bool hides = true) {
    std::string html = kSplit;
    html.replace(html.find('%'), 1, style);
    return {name, html, hides ? std::optional<std::string>("review") : std::nullopt};
}

INSTANTIATE_TEST_SUITE_P(
    Forms, Visible,
    ::testing::Values(
        split("display_none", "display:none"),
        split("case_space_important", " DISPLAY : None  !important ;color:red"),
        split("comment_and_escape", "display:/**/n\\6f ne"),
        split("reference_in_attribute", "display&#58;none"),
        split("last_declaration_wins", "display:none;display:inline", false),
        split("visibility_hidden", "visibility:hidden"),
        split("visibility_collapse", "visibility: collapse"),
        split("font_size_zero", "font-size:0"), split("font_size_zero_px", "font-size:0px"),
        split("font_size_zero_em", "font-size:0.0em"),
        split("font_size_zero_percent", "font-size:0%"), split("font_shorthand_zero", "font:0/0 a"),
        split("font_size_not_zero", "font-size:10px", false), split("opacity_zero", "opacity:0"),
        split("opacity_zero_point", "opacity:.0"),
        split("filter_opacity_zero", "filter:opacity(0)"),
        split("max_height_overflow", "max-height:0;overflow:hidden"),
        split("height_overflow_y", "height:0px;overflow-y:hidden"),
        split("width_overflow", "width:0;overflow:clip"), split("height_alone", "height:0", false),
        split("mso_hide", "mso-hide:all"),
        Case{"hidden_attribute", "re<span hidden>x</span>view", "review"},
        Case{"hidden_attribute_overridden", "re<span hidden style=\"display:inline\">x</span>view",
             std::nullopt},
        Case{"unquoted_style", "re<span style=display:none>x</span>view", "review"},
        // Descendants: what can and what cannot show again.
        Case{"visible_again",
             "a<b style=\"visibility:hidden\">x<i style=\"visibility:visible\">y</i></b>z", "ayz"},
        Case{"font_size_again",
             "<div style=\"font-size:0\">x<span style=\"font-size:14px\">y</span></div>", "y"},
        Case{"relative_size_stays_zero",
             "a<span style=\"font-size:0\">x<span style=\"font-size:2em\">y</span></span>z", "az"},
        Case{"display_none_for_good",
             "a<span style=\"display:none\">x<span style=\"display:inline\">y</span></span>z",
             "az"},
        Case{"body_font_size",
             "<body style=\"font-size:0\">x<p style=\"font-size:16px\">y</p></body>", "y"},
        // A block without a box breaks no line; one with a box does.
        Case{"boxless_block", "re<div style=\"display:none\">x</div>view", "review"},
        Case{"invisible_block", "re<div style=\"font-size:0\">x</div>view", "re\nview"},
        Case{"hidden_br", "re<br hidden>view", "review"},
        // A hidden element ends where the tree builder ends it.
        Case{"closed_by_parent", "<p>a<span hidden>b</p>c", "a\nc"},
        Case{"nested_same_name", "<span hidden>a<span>b</span>c</span>d", "d"},
        Case{"li_closes_li", "<ul><li hidden>a<li>b</ul>", "b"},
        Case{"conditional_comment_in_hidden", "a<div hidden><!--[if mso]>b<![endif]--></div>c",
             "ac"},
        Case{"nothing_hidden", "<p style=\"color:red\">plain</p>", std::nullopt}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Visible, DeepHiddenMarkupIsLinear) {
    std::string html;
    for (int i = 0; i < 200000; ++i) html += "<span style=\"display:none\">x";
    html += "tail";
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(html_to_visible_text(html), std::optional<std::string>(""));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// ---- strip_css_text ------------------------------------------------------------

struct Css {
    const char* name;
    std::string html;
    std::string kept;  // "" when nothing is removed
    std::size_t removed;
};

void PrintTo(const Css& c, std::ostream* os) {
    *os << c.name;
}

class CssWords : public ::testing::TestWithParam<Css> {};

TEST_P(CssWords, Stripped) {
    std::size_t removed = 99;
    const std::string out = html::strip_css_text(GetParam().html, removed);
    EXPECT_EQ(removed, GetParam().removed);
    EXPECT_EQ(out, GetParam().kept.empty() ? GetParam().html : GetParam().kept);
}

INSTANTIATE_TEST_SUITE_P(
    Declarations, CssWords,
    ::testing::Values(
        Css{"sheet",
            "<style>.r::after{content:\"review\"} .g::after{ color:red; content:'gift'}</style>x",
            "<style>.r::after{} .g::after{ color:red;}</style>x", 2},
        Css{"escaped_name_and_string", "<style>p::before{c\\6f ntent:\"\\72 eview\"}</style>",
            "<style>p::before{}</style>", 1},
        Css{"attr", "<style>[data-x]::after{content:attr(data-x)}</style>",
            "<style>[data-x]::after{}</style>", 1},
        Css{"quotes_and_markers",
            "<style>q{quotes:'gift' 'card'}li{list-style-type:\"1 \"}</style>",
            "<style>q{}li{}</style>", 2},
        Css{"nested_media", "<style>@media screen{.a:after{content:'x'}}</style>",
            "<style>@media screen{.a:after{}}</style>", 1},
        Css{"attribute", "<span style=\"color:red;content:&quot;review&quot;\">a</span>",
            "<span style=\"color:red;\">a</span>", 1},
        Css{"svg_style", "<svg><style>.r::after{content:\"review\"}</style></svg>",
            "<svg><style>.r::after{}</style></svg>", 1},
        // Bullets, icons and clearfixes stay, as does every other string.
        Css{"symbols_stay",
            "<style>.a:before{content:\"\\2022\"}.b:after{content:''}.c:after{content:\"\xc2\xbb\"}"
            "body{font-family:\"Helvetica Neue\"}</style>",
            "", 0},
        Css{"not_in_css", "<p>content:\"review\"</p>", "", 0}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- redact_html on the visible reading ------------------------------------------

struct Joined {
    const char* name;
    std::string html;
    std::string kind;
    std::vector<std::string> gone;  // neither reading may show these
};

void PrintTo(const Joined& j, std::ostream* os) {
    *os << j.name;
}

class RedactJoined : public ::testing::TestWithParam<Joined> {};

TEST_P(RedactJoined, BothReadingsRedacted) {
    const Joined& j = GetParam();
    const std::string html = "<p>Hello,</p><p>write to " + j.html + " today.</p><p>Bye</p>";
    const RedactResult r = redact_html(html, RedactPolicy{}, kDomain);
    ASSERT_FALSE(r.redactions.empty()) << r.text;
    EXPECT_EQ(r.redactions[0].kind, j.kind);
    EXPECT_EQ(r.text.find("<pre>"), std::string::npos) << r.text;
    const std::string full = html_to_text(r.text);
    const std::string visible = html_to_visible_text(r.text).value_or(full);
    for (const std::string& g : j.gone) {
        EXPECT_EQ(full.find(g), std::string::npos) << full;
        EXPECT_EQ(visible.find(g), std::string::npos) << visible;
    }
    EXPECT_NE(visible.find("write to [redacted] today."), std::string::npos) << visible;
    // The readings given by a caller that made them are the ones made here.
    const std::string given_full = html_to_text(html);
    const std::optional<std::string> given_visible = html_to_visible_text(html);
    const RedactResult g =
        redact_html(html, RedactPolicy{}, kDomain, {&given_full, &given_visible});
    EXPECT_EQ(g.text, r.text);
    EXPECT_EQ(g.redactions.size(), r.redactions.size());
}

INSTANTIATE_TEST_SUITE_P(
    Tricks, RedactJoined,
    ::testing::Values(Joined{"phone_display_none",
                             "0176<span style=\"display:none\">-x-</span>12345678",
                             "phone",
                             {"12345678", "0176", "-x-"}},
                      Joined{"phone_font_size_zero",
                             "0176<span style=\"font-size:0px\">-x-</span>12345678",
                             "phone",
                             {"12345678", "-x-"}},
                      Joined{"email_hidden_space",
                             "john.smith<span style=\"display:none\"> </span>@gmail.com",
                             "email",
                             {"john.smith", "gmail.com"}},
                      Joined{"email_hidden_at",
                             "john<span hidden>@</span>@gmail.com",
                             "email",
                             {"john", "gmail.com"}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mm::policy
