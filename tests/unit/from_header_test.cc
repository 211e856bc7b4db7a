// make_from_header(): the From: header the recipient sees, its display name
// neutralised and encoded.
#include <gtest/gtest.h>

#include <gmime/gmime.h>

#include <string>

#include "policy/mime/gmime_ptr.h"
#include "policy/rewrite/from_header.h"

namespace mm::policy {
namespace {

struct NameCase {
    std::string input;
    std::string expected;
};
class FromHeaderTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(FromHeaderTest, DisplayNameIsNeutralisedAndEncoded) {
    EXPECT_EQ(make_from_header(GetParam().input, "3f9a0c6e1d2b4a77@marketplace.example"),
              GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Names, FromHeaderTest,
    ::testing::Values(NameCase{"Acme Store", "Acme Store <3f9a0c6e1d2b4a77@marketplace.example>"},
                      NameCase{"", "<3f9a0c6e1d2b4a77@marketplace.example>"},
                      NameCase{"Evil\r\nBcc: x@y.example",
                               "\"Evil Bcc xy.example\" <3f9a0c6e1d2b4a77@marketplace.example>"},
                      NameCase{
                          "\"Quoted\" <real@acme.example>",
                          "\"Quoted realacme.example\" <3f9a0c6e1d2b4a77@marketplace.example>"},
                      NameCase{"O'Brien & Sons (UK)",
                               "\"O'Brien & Sons (UK)\" <3f9a0c6e1d2b4a77@marketplace.example>"}));

TEST(FromHeader, NonAsciiNameIsRfc2047EncodedAndDecodesBack) {
    std::string from = make_from_header("Café Müller", "3f9a0c6e1d2b4a77@marketplace.example");
    ASSERT_TRUE(from.starts_with("=?")) << from;
    EXPECT_TRUE(from.ends_with("?= <3f9a0c6e1d2b4a77@marketplace.example>")) << from;
    GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, from.c_str()));
    ASSERT_TRUE(list);
    ASSERT_EQ(internet_address_list_length(list.get()), 1);
    EXPECT_STREQ(internet_address_get_name(internet_address_list_get_address(list.get(), 0)),
                 "Café Müller");
}

}  // namespace
}  // namespace mm::policy
