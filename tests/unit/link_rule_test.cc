// LinkRule: text and HTML link cutting, the pre-scan fast path, the safety
// net, and the `links:` policy section.
#include "policy/rules/link_rule.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace mm::policy {
namespace {

const std::string kMarket = "marketplace.example";

LinkPolicy default_links() {
    return LinkPolicy{};
}

// ---- text ------------------------------------------------------------------

struct TextCase {
    const char* name;
    const char* input;
    const char* expected;
    std::vector<std::string> reasons;
};

class TextLinks : public ::testing::TestWithParam<TextCase> {};

TEST_P(TextLinks, Rewrites) {
    const TextCase& c = GetParam();
    LinkScan s = scan_text_links(c.input, default_links(), kMarket);
    EXPECT_EQ(s.text, c.expected);
    std::vector<std::string> reasons;
    for (const RemovedLink& r : s.removed) reasons.push_back(r.reason);
    EXPECT_EQ(reasons, c.reasons);
    EXPECT_EQ(s.text.size(), std::string(c.input).size() - s.bytes_cut + s.bytes_inserted);
}

const TextCase kTextCases[] = {
    {"carrier_kept",
     "Track it: https://www.ups.com/track?tracknum=1Z999 thanks",
     "Track it: https://www.ups.com/track?tracknum=1Z999 thanks",
     {}},
    {"subdomain_kept",
     "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400",
     "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400",
     {}},
    {"marketplace_kept",
     "see https://help.marketplace.example/returns",
     "see https://help.marketplace.example/returns",
     {}},
    {"disallowed",
     "Visit https://my-shop.example.com/deal now",
     "Visit [link removed] now",
     {"domain not allowed"}},
    {"lookalike_suffix",
     "https://ups.com.evil.example/x",
     "[link removed]",
     {"domain not allowed"}},
    {"userinfo_trick", "https://ups.com@evil.example/x", "[link removed]", {"domain not allowed"}},
    {"trailing_punct",
     "Go to https://evil.example/deal. Or https://evil.example/x, ok?",
     "Go to [link removed]. Or [link removed], ok?",
     {"domain not allowed", "domain not allowed"}},
    {"trailing_question",
     "Seen https://evil.example/?",
     "Seen [link removed]?",
     {"domain not allowed"}},
    {"parens_unbalanced",
     "(see https://evil.example/a)",
     "(see [link removed])",
     {"domain not allowed"}},
    {"parens_balanced",
     "see https://en.evil.example/wiki/Foo_(bar) now",
     "see [link removed] now",
     {"domain not allowed"}},
    {"parens_allowed_kept", "(https://www.fedex.com/track)", "(https://www.fedex.com/track)", {}},
    {"www_disallowed",
     "shop at www.evil.example today",
     "shop at [link removed] today",
     {"domain not allowed"}},
    {"www_allowed", "www.dhl.de/tracking.", "www.dhl.de/tracking.", {}},
    {"upper_case_scheme", "HTTPS://EVIL.EXAMPLE/X", "[link removed]", {"domain not allowed"}},
    {"idn_lookalike", "https://p\xD0\xB0ypal.com/login", "[link removed]", {"lookalike"}},
    {"idn_punycode_lookalike", "http://xn--pypal-4ve.com/", "[link removed]", {"lookalike"}},
    {"idn_single_script",
     "https://\xD0\xBF\xD1\x80\xD0\xB8\xD0\xBC\xD0\xB5\xD1\x80.\xD1\x80\xD1\x84/",
     "[link removed]",
     {"domain not allowed"}},
    {"ip_literal",
     "http://192.168.1.1/admin and http://[::1]/x",
     "[link removed] and [link removed]",
     {"ip literal", "ip literal"}},
    {"ip_integer", "http://3232235777/", "[link removed]", {"ip literal"}},
    {"mailto_alias_kept",
     "mailto:3f9a0c6e1d2b4a77@marketplace.example",
     "mailto:3f9a0c6e1d2b4a77@marketplace.example",
     {}},
    {"mailto_real_address",
     "write mailto:bob@gmail.example please",
     "write [link removed] please",
     {"mailto non-alias"}},
    {"mailto_cc_smuggled",
     "mailto:3f9a@marketplace.example?cc=bob@gmail.example",
     "[link removed]",
     {"mailto non-alias"}},
    {"multiple_per_line",
     "https://ups.com/a https://evil.example/b www.other.example ftp://x.example/f",
     "https://ups.com/a [link removed] [link removed] [link removed]",
     {"domain not allowed", "domain not allowed", "domain not allowed"}},
    {"no_links",
     "Thanks for your order! Dimensions 10.5 x 3 cm.",
     "Thanks for your order! Dimensions 10.5 x 3 cm.",
     {}},
    // Bare domains clients autolink: a host under a listed public suffix,
    // then a path.
    {"bare_domain_path",
     "Buy at shop-example.com/deal now",
     "Buy at [link removed] now",
     {"domain not allowed"}},
    {"bare_www_without_path",
     "or www.shop-example.com.",
     "or [link removed].",
     {"domain not allowed"}},
    {"bare_two_label_suffix_query",
     "shop-example.co.uk/x?y",
     "[link removed]",
     {"domain not allowed"}},
    {"bare_query_only", "see shop-example.com?ref=7", "see [link removed]", {"domain not allowed"}},
    {"bare_port", "shop-example.com:8080/x", "[link removed]", {"domain not allowed"}},
    {"bare_in_brackets",
     "(shop-example.com/deal), \"shop-example.net/x\"",
     "([link removed]), \"[link removed]\"",
     {"domain not allowed", "domain not allowed"}},
    {"bare_idn",
     "b\xC3\xBC"
     "cher-shop.de/x",
     "[link removed]",
     {"domain not allowed"}},
    {"bare_lookalike", "p\xD0\xB0ypal.com/login", "[link removed]", {"lookalike"}},
    {"bare_www_label_unknown_suffix",
     "x.www.shop.invalidtld/y",
     "x.[link removed]",
     {"domain not allowed"}},
    {"bare_allowed_kept",
     "Track at ups.com/track?n=1Z or tools.usps.com/go",
     "Track at ups.com/track?n=1Z or tools.usps.com/go",
     {}},
    {"bare_words_kept",
     "e.g./i.e. file.txt/readme v1.2.3/4 10.5/3 and/or S.p.A./x README.md tomorrow.best",
     "e.g./i.e. file.txt/readme v1.2.3/4 10.5/3 and/or S.p.A./x README.md tomorrow.best",
     {}},
    {"bare_without_path_kept",
     "Have you seen shop-example.com? Or shop-example.com.",
     "Have you seen shop-example.com? Or shop-example.com.",
     {}},
    {"bare_inside_allowed_url_kept",
     "https://www.ups.com/r?u=shop-example.com/x",
     "https://www.ups.com/r?u=shop-example.com/x",
     {}},
    {"bare_after_at_or_path_kept",
     "bob@shop-example.com/x /a/shop-example.com/x",
     "bob@shop-example.com/x /a/shop-example.com/x",
     {}},
    {"bare_public_suffix_alone_kept", "co.uk/x github.io/y", "co.uk/x github.io/y", {}},
};

INSTANTIATE_TEST_SUITE_P(Table, TextLinks, ::testing::ValuesIn(kTextCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- HTML ------------------------------------------------------------------

struct HtmlCase {
    const char* name;
    std::string input;
    std::string expected;
    bool tokenized;
};

class HtmlLinks : public ::testing::TestWithParam<HtmlCase> {};

TEST_P(HtmlLinks, CutsOnlyTheSpans) {
    const HtmlCase& c = GetParam();
    LinkScan s = scan_html_links(c.input, default_links(), kMarket);
    EXPECT_EQ(s.text, c.expected);
    EXPECT_EQ(s.tokenized, c.tokenized);
    EXPECT_EQ(s.text.size(), c.input.size() - s.bytes_cut + s.bytes_inserted);
    EXPECT_EQ(s.changed(), c.input != c.expected);
    bool net = false;
    for (const RemovedLink& r : s.removed)
        net = net || r.reason.find("safety net") != std::string::npos;
    EXPECT_EQ(net, std::string(c.name) == "ignored_tag_goes_to_text");
}

const HtmlCase kHtmlCases[] = {
    {"plain_allowed_links",
     "<div>Tracking: <a href=\"https://www.fedex.com/fedextrack/?trknbr=1\">FedEx</a>, "
     "<a href='https://www.dhl.de/'>DHL</a></div>",
     "<div>Tracking: <a href=\"https://www.fedex.com/fedextrack/?trknbr=1\">FedEx</a>, "
     "<a href='https://www.dhl.de/'>DHL</a></div>",
     false},
    {"nothing_to_remove",
     "<p>Your parcel: <a href=\"https://www.ups.com/track?n=1Z&amp;l=en\">track</a> "
     "<img src=\"cid:logo@x\"></p>",
     "<p>Your parcel: <a href=\"https://www.ups.com/track?n=1Z&amp;l=en\">track</a> "
     "<img src=\"cid:logo@x\"></p>",
     false},
    {"ignored_tag_goes_to_text",  // the tree drops a stray <td>; the net sees its URL
     "<td style=\"background:url(https://evil.example/p.png)\">x</td>",
     "<html><body><pre>x</pre></body></html>", true},
    {"relative_and_fragment", "<a href=\"#top\">top</a><a href=\"faq.html\">faq</a>",
     "<a href=\"#top\">top</a><a href=\"faq.html\">faq</a>", false},
    {"href_cut", "<p><a href=\"https://shop.evil.example/deal\">Deal</a>!</p>",
     "<p><a>Deal</a>!</p>", true},
    {"unquoted", "<a href=https://evil.example/x title=t>x</a>", "<a title=t>x</a>", true},
    {"single_quoted", "<a class='c' href='//evil.example/x'>x</a>", "<a class='c'>x</a>", true},
    {"slash_attr", "<a/href=https://evil.example/x>x</a>", "<a/>x</a>", true},
    {"upper_case", "<A HREF=\"HTTPS://EVIL.EXAMPLE/\">x</A>", "<A>x</A>", true},
    {"newline_in_attr", "<a href=\"https://evil.\nexample/x\"\n>x</a>", "<a\n>x</a>", true},
    {"newline_in_scheme", "<a href=\"java\nscript:alert(1)\">x</a>", "<a>x</a>", true},
    {"duplicate_first_wins", "<a href=\"https://evil.example/\" href=\"https://ups.com/\">x</a>",
     "<a href=\"https://ups.com/\">x</a>", true},
    {"entity_in_host", "<a href=\"https://evil&#x2E;example/x\">x</a>", "<a>x</a>", true},
    {"entity_in_scheme", "<a href=\"&#106;avascript:alert(1)\">x</a>", "<a>x</a>", true},
    {"amp_in_allowed_query", "<a href=\"https://ups.com/t?a=1&amp;b=2&lang=en\">t</a>",
     "<a href=\"https://ups.com/t?a=1&amp;b=2&lang=en\">t</a>", true},
    {"data_href", "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>", "<a>x</a>", true},
    {"mailto_alias_kept", "<a href=\"mailto:8c1e5d0b9a7f2e44@marketplace.example\">reply</a>",
     "<a href=\"mailto:8c1e5d0b9a7f2e44@marketplace.example\">reply</a>", false},
    {"mailto_real_cut", "<a href=\"mailto:support@acme.example\">mail us</a>", "<a>mail us</a>",
     true},
    {"tracking_pixel",
     "<p>Hi</p><img src=\"https://t.evil.example/o.gif\" width=1 height=1><p>x</p>",
     "<p>Hi</p><p>x</p>", true},
    {"remote_image_allowed_domain_removed", "<img src=\"https://www.ups.com/logo.png\">", "", true},
    {"cid_image_kept", "<p><img src=\"cid:part1.x@y\" alt=logo></p>",
     "<p><img src=\"cid:part1.x@y\" alt=logo></p>", false},
    {"data_image_kept", "<img src=\"data:image/png;base64,iVBORw0KGgo=\">",
     "<img src=\"data:image/png;base64,iVBORw0KGgo=\">", false},
    {"logo_in_link", "<a href=\"https://www.ups.com/\"> <img src=\"cid:logo\"> </a>",
     "<a> <img src=\"cid:logo\"> </a>", true},
    {"text_link_with_image_nearby_kept",
     "<a href=\"https://www.ups.com/\">UPS <img src=\"cid:logo\"></a>",
     "<a href=\"https://www.ups.com/\">UPS <img src=\"cid:logo\"></a>", false},
    {"srcset", "<img src=\"cid:a\" srcset=\"cid:a 1x, https://cdn.evil.example/a2.png 2x\">",
     "<img src=\"cid:a\">", true},
    {"css_url_style_attr",
     "<div style=\"color:red;background:url('https://evil.example/bg.png')\">x</div>",
     "<div style=\"color:red;background:\">x</div>", true},
    {"css_url_entities_whole_attr",
     "<div style=\"background:url(&quot;https://evil.example/bg.png&quot;)\">x</div>",
     "<div>x</div>", true},
    {"css_style_block",
     "<style>.a{color:red}\n.b{background-image:url(https://evil.example/p.png)}</style>",
     "<style>.a{color:red}\n.b{background-image:}</style>", true},
    {"css_import", "<style>@import \"https://evil.example/x.css\";</style>",
     "<style>@import ;</style>", true},
    {"background_attr",
     "<table background=\"https://evil.example/bg.jpg\"><tr><td>x</td></tr></table>",
     "<table><tr><td>x</td></tr></table>", true},
    {"meta_refresh",
     "<head><meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\"></head>x",
     "<head></head>x", true},
    {"form_action", "<form action=\"https://evil.example/collect\"><input name=a></form>",
     "<form><input name=a></form>", true},
    {"link_href", "<link rel=stylesheet href=\"https://evil.example/s.css\">",
     "<link rel=stylesheet>", true},
    {"area_href", "<map><area shape=rect href=\"https://evil.example/\"></map>",
     "<map><area shape=rect></map>", true},
    {"iframe_removed", "<p>a</p><iframe src=\"https://evil.example/\">fallback</iframe><p>b</p>",
     "<p>a</p><p>b</p>", true},
    {"embed_object",
     "<embed src=\"https://evil.example/x.swf\"><object "
     "data=\"https://evil.example/o\"><p>o</p></object>",
     "", true},
    {"text_url_in_html", "<p>Order at https://evil.example/shop today</p>",
     "<p>Order at [link removed] today</p>", true},
    {"text_url_allowed_in_html", "<p>Track at https://www.ups.com/track</p>",
     "<p>Track at https://www.ups.com/track</p>", false},
    {"comment_removed", "<p>a</p><!-- see https://evil.example/ --><p>b</p>", "<p>a</p><p>b</p>",
     true},
    {"conditional_comment",
     "<!--[if mso]><v:roundrect href=\"https://evil.example/buy\">Buy</v:roundrect><![endif]-->"
     "<p>x</p>",
     "<p>x</p>", true},
    {"cdata_in_svg", "<svg><![CDATA[ https://evil.example/ ]]></svg>",
     "<svg> [link removed] </svg>", true},
    {"script_removed", "<script>location='https://evil.example/'</script><p>x</p>", "<p>x</p>",
     true},
    // Clients autolink bare domains in text nodes too.
    {"bare_domain_in_text", "<p>Order at shop-example.com/deal today</p>",
     "<p>Order at [link removed] today</p>", true},
    {"bare_domain_in_title", "<p title=\"see shop-example.co.uk/x\">x</p>", "<p>x</p>", true},
    {"bare_domain_after_reference", "<p>&nbsp;shop-example.com/deal</p>",
     "<p>\xC2\xA0[link removed]</p>", true},
    {"bare_allowed_in_text", "<p>Track at ups.com/track?n=1</p>",
     "<p>Track at ups.com/track?n=1</p>", false},
    {"bare_words_in_text", "<p>e.g./i.e. file.txt/x 1.2/3 and/or</p><img src=\"cid:a.b/c\">",
     "<p>e.g./i.e. file.txt/x 1.2/3 and/or</p><img src=\"cid:a.b/c\">", false},
};

INSTANTIATE_TEST_SUITE_P(Table, HtmlLinks, ::testing::ValuesIn(kHtmlCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HtmlLinks, ReasonsAndDecodedUrl) {
    LinkScan s = scan_html_links("<a href=\"https://evil&#x2E;example/a?b=1&amp;c=2\">x</a>",
                                 default_links(), kMarket);
    ASSERT_EQ(s.removed.size(), 1u);
    EXPECT_EQ(s.removed[0].url, "https://evil.example/a?b=1&c=2");
    EXPECT_EQ(s.removed[0].domain, "evil.example");
    EXPECT_EQ(s.removed[0].reason, "domain not allowed");
}

// The MIME walk asks for no copy of a part that stays as it was.
TEST(LinkScanCopies, LeaveEmptyOnlyWhenNothingWasRemoved) {
    const std::string clean_html = "<p>Track it: <a href=\"https://www.ups.com/t\">here</a></p>";
    const std::string clean_text = "Track it: https://www.ups.com/t";
    EXPECT_EQ(scan_html_links(clean_html, default_links(), kMarket, Unchanged::leave_empty).text,
              "");
    EXPECT_EQ(scan_text_links(clean_text, default_links(), kMarket, Unchanged::leave_empty).text,
              "");
    EXPECT_EQ(scan_html_links(clean_html, default_links(), kMarket).text, clean_html);
    auto cut = scan_text_links("see https://deals.example/x", default_links(), kMarket,
                               Unchanged::leave_empty);
    ASSERT_TRUE(cut.changed());
    EXPECT_EQ(cut.text, "see [link removed]");
}

// Every link is removed and counted; only the first ones are kept in detail,
// so a part with 300,000 links cannot cost tens of MB of records.
TEST(LinkScanCopies, ManyLinksAllRemovedDetailsBounded) {
    std::string text, html;
    const std::size_t n = LinkScan::kMaxRemovedDetails + 500;
    for (std::size_t i = 0; i < n; ++i) {
        text += "see https://deals" + std::to_string(i) + ".example/x\n";
        html += "<a href=\"https://deals" + std::to_string(i) + ".example/x\">x</a>\n";
    }
    for (const LinkScan& s : {scan_text_links(text, default_links(), kMarket),
                              scan_html_links(html, default_links(), kMarket)}) {
        EXPECT_EQ(s.removed_count, n);
        EXPECT_EQ(s.removed.size(), LinkScan::kMaxRemovedDetails);
        EXPECT_EQ(s.text.find("deals"), std::string::npos);
    }
}

TEST(HtmlLinks, RemoteImagesKeptWhenPolicySaysSo) {
    LinkPolicy p;
    p.remove_remote_images = false;
    p.unwrap_linked_images = false;
    std::string html = "<a href=\"https://ups.com/\"><img src=\"https://ups.com/l.png\"></a>";
    LinkScan s = scan_html_links(html, p, kMarket);
    EXPECT_EQ(s.text, html);
    EXPECT_FALSE(s.tokenized);
}

// Markup the tree never holds: attributes on an end tag are dropped by the
// tokenizer, so no attribute is cut, but the bytes still carry the URL (a
// client with a laxer parser could read them).  The net must catch it.
TEST(HtmlLinks, SafetyNetLeavesNoDisallowedUrl) {
    const std::string html =
        "<p>Hello</p x=\"https://evil.example/x\">"
        "<p>Track: <a href=\"https://www.ups.com/t\">here</a></p>";
    LinkScan s = scan_html_links(html, default_links(), kMarket);
    EXPECT_TRUE(s.tokenized);
    EXPECT_EQ(s.text.find("evil.example"), std::string::npos) << s.text;
    bool net = false;
    for (const RemovedLink& r : s.removed)
        net = net || r.reason.find("safety net: replaced by text rendering") != std::string::npos;
    EXPECT_TRUE(net);
    EXPECT_NE(s.text.find("Hello"), std::string::npos);
    EXPECT_NE(s.text.find("&lt;https://www.ups.com/t&gt;"), std::string::npos);  // as text
}

// The tokenizer on markup where a regex or a non-HTML5 parser reads the
// bytes differently from a browser: each cut is where the HTML5 tokenizer
// puts the token.
TEST(HtmlTokenizer, HostileMarkup) {
    const std::pair<std::string, std::string> cases[] = {
        // "<!-->" is a whole (empty) comment: the link after it is live.
        {"<!--><a href=\"https://evil.example/\">x</a>-->", "<!--><a>x</a>-->"},
        // '>' inside a quoted value does not end the tag.
        {"<a title=\"a>b\" href=\"https://evil.example/\">x</a>", "<a title=\"a>b\">x</a>"},
        // Double-escaped script data: the first </script> does not end it.
        {"<script><!--<script>x</script>https://evil.example/--></script><p>y</p>", "<p>y</p>"},
        // RCDATA: the markup is text, and so is the URL in it.
        {"<textarea><a href=\"https://evil.example/\">x</a></textarea>",
         "<textarea><a href=\"[link removed]\">x</a></textarea>"},
        // A named reference outside the short table (the whole table decodes it).
        {"<p>&hearts; https://evil.example/</p>", "<p>\xE2\x99\xA5 [link removed]</p>"},
        // CDATA outside foreign content is a bogus comment ending at the first '>'.
        {"<p><![CDATA[ https://evil.example/ ]]></p>", "<p></p>"},
        // A removed element ends at its own end tag, nested ones counted.
        {"<object data=\"https://evil.example/o\"><object><p>a</p></object><p>b</p></object>"
         "<p>c</p>",
         "<p>c</p>"},
        // Attributes of an element after a RAWTEXT end tag with a space in it.
        {"<style>p{}</style ><p title='see https://evil.example/'>x</p>",
         "<style>p{}</style ><p>x</p>"},
        // A comment between the link and its logo.
        {"<a href=\"https://www.ups.com/\"><!-- logo --><img src=\"cid:l\"></a>",
         "<a><!-- logo --><img src=\"cid:l\"></a>"},
    };
    for (const auto& [in, expected] : cases) {
        LinkScan s = scan_html_links(in, default_links(), kMarket);
        EXPECT_EQ(s.text, expected) << in;
        EXPECT_TRUE(s.tokenized) << in;
        EXPECT_EQ(s.text.size(), in.size() - s.bytes_cut + s.bytes_inserted) << in;
        for (const RemovedLink& r : s.removed)
            EXPECT_EQ(r.reason.find("safety net"), std::string::npos) << in;
    }
}

// Attribute values decode as the HTML5 tokenizer decodes them: numeric
// references (with the windows-1252 remap of 0x80-0x9F), and a legacy name
// followed by '=' kept literal.
TEST(HtmlTokenizer, AttributeReferences) {
    LinkScan s =
        scan_html_links("<a href=\"https://evil.example/?x=1&copy=2&amp;y=&#x41;&#128;\">x</a>",
                        default_links(), kMarket);
    ASSERT_EQ(s.removed.size(), 1u);
    EXPECT_EQ(s.removed[0].url, "https://evil.example/?x=1&copy=2&y=A\xE2\x82\xAC");
    EXPECT_EQ(s.text, "<a>x</a>");
}

// A tag cut off by the end of the input is no tag to a browser (EOF in a tag
// emits nothing); its bytes are left to the safety net.
TEST(HtmlTokenizer, UnterminatedTagGoesToTheNet) {
    LinkScan s =
        scan_html_links("<p>ok</p><a href=\"https://evil.example/", default_links(), kMarket);
    EXPECT_EQ(s.text.find("evil.example"), std::string::npos) << s.text;
    ASSERT_FALSE(s.removed.empty());
    EXPECT_NE(s.removed.back().reason.find("safety net"), std::string::npos);
}

// Unclosed elements that are removed whole: one failed end-tag search per
// tag name, so the cut stays linear in the input.
TEST(HtmlTokenizer, ManyUnclosedObjects) {
    std::string html;
    for (int i = 0; i < 5000; ++i) html += "<object data=\"https://evil.example/o\"><p>x</p>";
    LinkScan s = scan_html_links(html, default_links(), kMarket);
    EXPECT_EQ(s.removed_count, 5000u);
    EXPECT_EQ(s.text.find("evil.example"), std::string::npos);
}

// ---- fixtures --------------------------------------------------------------

std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class HtmlFixtures : public ::testing::TestWithParam<const char*> {};

// Hosts of every http(s) URL in a text, lower-cased.
std::vector<std::string> hosts_in(const std::string& with_ns) {
    static const std::regex ns(R"re(xmlns(:\w+)?="[^"]*")re");
    const std::string s = std::regex_replace(with_ns, ns, "");
    static const std::regex re(R"((?:https?:)?//([A-Za-z0-9.-]+))", std::regex::icase);
    std::vector<std::string> hosts;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator();
         ++it) {
        std::string h = (*it)[1];
        for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        hosts.push_back(h);
    }
    return hosts;
}

bool allowed_host(const std::string& h) {
    for (const std::string& d : LinkPolicy{}.allow_domains)
        if (h == d || (h.size() > d.size() && h.ends_with("." + d))) return true;
    return h == kMarket || h.ends_with("." + kMarket);
}

TEST_P(HtmlFixtures, Properties) {
    const std::string dir = std::string(MM_TEST_DATA) + "/links/";
    std::string html = read(dir + GetParam());
    ASSERT_FALSE(html.empty());
    LinkScan s = scan_html_links(html, default_links(), kMarket);
    EXPECT_TRUE(s.tokenized);
    for (const RemovedLink& r : s.removed)
        EXPECT_EQ(r.reason.find("safety net"), std::string::npos) << r.url << " " << r.reason;
    // No disallowed host remains; allowed links in <a href> remain.
    for (const std::string& h : hosts_in(s.text)) EXPECT_TRUE(allowed_host(h)) << h;
    static const std::regex href(R"re(<a\s[^>]*href="(https?://[^"]+)")re", std::regex::icase);
    int kept = 0;
    for (auto it = std::sregex_iterator(html.begin(), html.end(), href);
         it != std::sregex_iterator(); ++it) {
        std::string url = (*it)[1];
        if (!allowed_host(hosts_in(url).at(0))) continue;
        // An allowed link wrapping only a logo loses its href by design.
        std::size_t end = static_cast<std::size_t>(it->position() + it->length());
        std::string after = html.substr(end, 200);
        if (after.find('>') != std::string::npos &&
            std::regex_search(after.substr(after.find('>') + 1),
                              std::regex(R"(^\s*<img[^>]*>\s*</a>)", std::regex::icase)))
            continue;
        EXPECT_NE(s.text.find("href=\"" + url + "\""), std::string::npos) << url;
        ++kept;
    }
    EXPECT_GT(kept, 0);
    EXPECT_EQ(s.text.size(), html.size() - s.bytes_cut + s.bytes_inserted);
    // The expected output, when recorded, is byte-exact.
    std::string expected = read(dir + std::string(GetParam()) + ".expected");
    if (!expected.empty()) {
        EXPECT_EQ(s.text, expected);
    }
}

INSTANTIATE_TEST_SUITE_P(Files, HtmlFixtures,
                         ::testing::Values("marketing.html", "outlook.html", "gmail.html"));

// ---- policy.yaml -----------------------------------------------------------

LinkPolicy load(const std::string& text) {
    YAML::Node root = YAML::Load(text);
    LinkPolicy p;
    load_links_section({"links", root.begin()->first, root.begin()->second}, p);
    return p;
}

std::string load_error(const std::string& text) {
    try {
        load(text);
    } catch (const yaml::SchemaError& e) {
        return std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " +
               e.what();
    }
    return "";
}

TEST(LinksSection, Loads) {
    LinkPolicy p = load(
        "links:\n"
        "  allow_domains: [UPS.com, fedex.com., b\xC3\xBC"
        "cher.de]\n"
        "  action: reject\n"
        "  text_marker: '[removed]'\n"
        "  remove_remote_images: false\n"
        "  unwrap_linked_images: false\n");
    EXPECT_EQ(p.allow_domains,
              (std::vector<std::string>{"ups.com", "fedex.com", "xn--bcher-kva.de"}));
    EXPECT_EQ(p.action, LinkPolicy::Action::reject);
    EXPECT_EQ(p.text_marker, "[removed]");
    EXPECT_FALSE(p.remove_remote_images);
    EXPECT_FALSE(p.unwrap_linked_images);
}

TEST(LinksSection, Errors) {
    EXPECT_EQ(load_error("links:\n  allow_domains: ['http://ups.com']\n"),
              "2:19: links.allow_domains: 'http://ups.com' is not a domain");
    EXPECT_EQ(load_error("links:\n  allow_domains: [ups.com/track]\n"),
              "2:19: links.allow_domains: 'ups.com/track' is not a domain");
    EXPECT_EQ(load_error("links:\n  allow_domains: [co.uk]\n"),
              "2:19: links.allow_domains: 'co.uk' is not a domain (a public suffix, which would "
              "allow every site under it)");
    EXPECT_EQ(load_error("links:\n  allow_domains: [10.0.0.1]\n"),
              "2:19: links.allow_domains: '10.0.0.1' is not a domain (an IP address)");
    EXPECT_EQ(load_error("links:\n  action: drop\n"),
              "2:11: links.action: unknown action 'drop' (expected strip or reject)");
    EXPECT_EQ(load_error("links:\n  remove_remote_image: true\n"),
              "2:3: unknown key 'remove_remote_image' in 'links'");
}

TEST(LinksSection, HtmlBounds) {
    LinkPolicy p = load("links:\n  max_html_nesting: 200\n  max_html_tokens: 50000\n");
    EXPECT_EQ(p.max_html_nesting, 200u);
    EXPECT_EQ(p.max_html_tokens, 50000u);
    EXPECT_EQ(LinkPolicy{}.max_html_nesting, 1000u);
    EXPECT_EQ(LinkPolicy{}.max_html_tokens, 1000000u);
    EXPECT_EQ(load_error("links:\n  max_html_nesting: 10\n"),
              "2:21: links.max_html_nesting: 10 is out of range (100 to 100000)");
    EXPECT_EQ(load_error("links:\n  max_html_tokens: lots\n"),
              "2:20: links.max_html_tokens: expected an integer, got 'lots'");
}

// A bare domain whose registrable domain is allow-listed stays, as a URL
// with a scheme would.
TEST(LinksSection, BareDomainsFollowTheAllowList) {
    LinkPolicy p = load("links:\n  allow_domains: [shop-example.com]\n");
    const std::string text = "shop-example.com/deal and www.shop-example.com/x";
    EXPECT_FALSE(scan_text_links(text, p, kMarket).changed());
    EXPECT_FALSE(scan_html_links("<p>" + text + "</p>", p, kMarket).changed());
    EXPECT_EQ(scan_text_links("deals.example.org/x", p, kMarket).text, "[link removed]");
}

TEST(LinksSection, LoadedDomainsAreUsed) {
    LinkPolicy p = load(
        "links:\n  allow_domains: [b\xC3\xBC"
        "cher.de]\n");
    EXPECT_FALSE(scan_text_links("https://www.b\xC3\xBC"
                                 "cher.de/x",
                                 p, kMarket)
                     .changed());
    EXPECT_TRUE(scan_text_links("https://www.ups.com/x", p, kMarket).changed());
}

}  // namespace
}  // namespace mm::policy
