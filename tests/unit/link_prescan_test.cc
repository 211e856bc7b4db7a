// The link pre-scan's candidate positions: none may fall before the input
// (RE2 refuses such a start and logs an error for every one, which a
// message could repeat at will).
#include <gtest/gtest.h>

#include <string>

#include "policy/rules/link_rule.h"

namespace mm::policy {
namespace {

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

}  // namespace
}  // namespace mm::policy
