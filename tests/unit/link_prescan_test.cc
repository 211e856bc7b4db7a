// The link pre-scan's candidate positions: none may fall before the input
// (RE2 refuses such a start and logs an error for every one, which a
// message could repeat at will), and none missed (built with
// -DMM_CHECK_PASS_MATCHES the random-literal tests are differential).
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <regex>
#include <string>

#include "policy/rules/link_rule.h"

namespace mm::policy {
namespace {

const std::string kMarket = "marketplace.example";

TEST(LinkPrescan, NoCandidateBeforeTheInput) {
    // A non-ASCII byte within three bytes of the input's start, before the
    // '.' of "www." or the '(' of "url(".
    for (std::string html :
         {"\xc3\xa9.", "\xc5\xbf.x", "\xc3\xa9(", "a\xc3\xa9(x)", "\xc5\xbf.www.ups.com"}) {
        testing::internal::CaptureStderr();
        LinkScan s = scan_html_links(html, LinkPolicy{}, "market.example");
        EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << html;
        EXPECT_FALSE(s.changed()) << html;
        EXPECT_EQ(s.text, html);
    }
}

// The pre-scan and the safety net find their RE2 matches by anchored matches
// at candidate positions; built with -DMM_CHECK_PASS_MATCHES every match is
// also compared with what unanchored searches find (and aborts if they
// differ), which makes this a differential test.  Either way: no crash on
// markup made of the patterns' literals, case variants and the non-ASCII
// spellings RE2's (?i) folds to ASCII ('ſ' U+017F to s, 'K' U+212A to k).
TEST(LinkPrescan, CandidateMatchesOnRandomLiterals) {
    const char* words[] = {" href=",
                           " src =",
                           "'data= ",
                           "/style=",
                           "\"content=",
                           "http:",
                           "https:",
                           "ftp:",
                           "www.",
                           "url(",
                           "@import",
                           "\xc5\xbf",
                           "\xe2\x84\xaa",
                           "xlink:href=",
                           "\"",
                           "'",
                           " ",
                           "\n",
                           "=",
                           ":",
                           ".",
                           "(",
                           ")",
                           "a",
                           "<a ",
                           "<img ",
                           ">",
                           "evil.example/x",
                           "ups.com/y",
                           "&amp;",
                           "&#58;",
                           "HTTPS:",
                           "WwW.",
                           "URL(",
                           "srcſ=",
                           "ſrc=",
                           "httpſ:",
                           "lowsrc=",
                           "xmlns=",
                           "<!--",
                           "-->",
                           "//"};
    unsigned x = 1;
    auto next = [&x] { return (x = x * 1103515245 + 12345) >> 16; };
    for (int round = 0; round < 20000; ++round) {
        std::string html;
        unsigned len = next() % 40;
        for (unsigned i = 0; i < len; ++i) html += words[next() % std::size(words)];
        LinkScan s = scan_html_links(html, LinkPolicy{}, kMarket);
        EXPECT_EQ(s.text.size(), html.size() - s.bytes_cut + s.bytes_inserted);
    }
}

// The same for the bare-domain alternative, whose matches start before a
// host run (or at a non-ASCII character in it) and end at '/', '?' or '#':
// the pre-scan and the text rule must find the same bare domains.
TEST(LinkPrescan, BareDomainCandidatesOnRandomLiterals) {
    const char* words[] = {"shop-example.com",
                           "evil.co.uk",
                           "ups.com",
                           "www.",
                           "a.b",
                           "e.g.",
                           "file.txt",
                           "1.2",
                           ".",
                           "-",
                           "/",
                           "?",
                           "#",
                           ":8080",
                           ":",
                           "@",
                           "x",
                           "\xc2\xa0",
                           "\xc3\xa9",
                           "\xe2\x84\xaa",
                           " ",
                           "\"",
                           "'",
                           "(",
                           ")",
                           "<p>",
                           "</p>",
                           "<a href=",
                           ">",
                           "&nbsp;",
                           "=",
                           "_",
                           "%",
                           "\n"};
    unsigned x = 7;
    auto next = [&x] { return (x = x * 1103515245 + 12345) >> 16; };
    for (int round = 0; round < 20000; ++round) {
        std::string s;
        unsigned len = next() % 24;
        for (unsigned i = 0; i < len; ++i) s += words[next() % std::size(words)];
        LinkScan h = scan_html_links(s, LinkPolicy{}, kMarket);
        EXPECT_EQ(h.text.size(), s.size() - h.bytes_cut + h.bytes_inserted) << s;
        LinkScan t = scan_text_links(s, LinkPolicy{}, kMarket);
        EXPECT_EQ(t.text.size(), s.size() - t.bytes_cut + t.bytes_inserted) << s;
        // What the text rule removes from text without markup, the pre-scan
        // sends to the cut (but for "www.(", which the pre-scan's www.
        // alternative never took for a URL).
        const bool www_bracket = std::any_of(t.removed.begin(), t.removed.end(), [](auto& r) {
            return r.url.find_first_of("()") != std::string::npos &&
                   std::regex_search(r.url, std::regex("^www\\.", std::regex::icase));
        });
        if (t.changed() && !www_bracket && s.find_first_of("<>&\"'") == std::string::npos) {
            EXPECT_TRUE(h.tokenized)
                << testing::PrintToString(s) << " -> " << testing::PrintToString(t.text);
        }
    }
}

}  // namespace
}  // namespace mm::policy
