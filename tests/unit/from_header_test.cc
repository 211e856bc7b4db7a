// make_from_header(): the From: header the recipient sees, its display name
// neutralised and encoded.
#include <gtest/gtest.h>

#include <gmime/gmime.h>

#include <string>
#include <vector>

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

// What GMime writes for a name already sanitised and an address.
std::string gmime_from(const std::string& name, const std::string& address) {
    ensure_gmime();
    GPtr<InternetAddress> mailbox(internet_address_mailbox_new(name.c_str(), address.c_str()));
    GCharPtr text(internet_address_to_string(mailbox.get(), nullptr, TRUE));
    return text.get();
}

// make_from_header writes plain ASCII names and addresses itself: its output
// must be GMime's, byte for byte, for every such name and address, and for
// those next to them that it leaves to GMime.
TEST(FromHeader, PlainNamesAndAddressesAreWrittenAsGMimeWritesThem) {
    std::vector<std::string> names = {"Acme",
                                      "Acme Store",
                                      "ACME store 24",
                                      "shop-name_2 de",
                                      "a b c d e f g",
                                      std::string(40, 'x'),
                                      std::string(41, 'x'),
                                      "Acme " + std::string(40, 'y') + " Store",
                                      "Acme " + std::string(60, 'y') + " Store",
                                      "=?utf-8?q?x?=",
                                      "Acme.Store",
                                      "J. Smith",
                                      "from",
                                      "Acme -",
                                      "- Acme",
                                      "_"};
    for (int c = 0x21; c < 0x7f; ++c) names.push_back(std::string("Ac") + char(c) + "me Store");
    const std::vector<std::string> addresses = {"3f9a0c6e1d2b4a77@marketplace.example",
                                                "8c1e5d0b9a7f2e44@mail.marketplace.example",
                                                "first.last+tag@sub-domain.example",
                                                "a_b-c@x.y",
                                                "UPPER@marketplace.example",
                                                "lower@MARKETPLACE.example",
                                                "x@xn--caf-dma.example",
                                                "x@sub.xn--caf-dma.example",
                                                "x@café.example",
                                                "x.@marketplace.example",
                                                ".x@marketplace.example",
                                                "x..y@marketplace.example",
                                                "x@marketplace..example",
                                                "x@-marketplace.example",
                                                "\"quoted local\"@marketplace.example",
                                                "x@" + std::string(64, 'a') + ".example"};
    int fast = 0;
    for (const std::string& address : addresses)
        for (const std::string& name : names) {
            const std::string expected = gmime_from(sanitize_display_name(name), address);
            EXPECT_EQ(make_from_header(name, address), expected) << name << " / " << address;
            fast += expected == sanitize_display_name(name) + " <" + address + ">";
        }
    // The cases written without GMime exist (else the test proves nothing).
    EXPECT_GT(fast, 100);
}

}  // namespace
}  // namespace mm::policy
