// Parties (alias/party.h: roles, the addresses a party may send from) and
// alias generation (alias/alias_generator.h).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "alias/alias_generator.h"
#include "alias/party.h"
#include "tests/support/store_contract.h"

namespace mm::alias {
namespace {

using store_testing::seller;

// --- Party -----------------------------------------------------------------------------------

TEST(PartyTest, RoleNamesRoundTrip) {
    EXPECT_STREQ(to_string(Role::buyer), "buyer");
    EXPECT_STREQ(to_string(Role::seller), "seller");
    EXPECT_EQ(parse_role("buyer"), Role::buyer);
    EXPECT_EQ(parse_role("Seller"), Role::seller);
    EXPECT_EQ(parse_role(""), std::nullopt);
    EXPECT_EQ(parse_role("admin"), std::nullopt);
}

TEST(PartyTest, MaySendFromDeliveryAddressAndApprovedSendersOnly) {
    Party p = seller("s1");
    p.address = "support@acme.example";
    p.senders = {"orders@acme.example"};
    EXPECT_TRUE(p.may_send_from("support@acme.example"));
    EXPECT_TRUE(p.may_send_from("orders@acme.example"));
    EXPECT_FALSE(p.may_send_from("evil@acme.example"));
    EXPECT_FALSE(p.may_send_from(""));  // the null sender
}

// --- Alias generation ------------------------------------------------------------------------

TEST(AliasGeneratorTest, SixteenLowercaseHexAndUniqueOverTenThousand) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        std::string a = generate_alias();
        ASSERT_EQ(a.size(), 16u) << a;
        ASSERT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
        ASSERT_TRUE(looks_like_alias(a)) << a;
        seen.insert(a);
    }
    EXPECT_EQ(seen.size(), 10000u);
}

TEST(AliasGeneratorTest, LooksLikeAliasIsStrict) {
    EXPECT_TRUE(looks_like_alias("3f9a0c6e1d2b4a77"));
    EXPECT_FALSE(looks_like_alias("3F9A0C6E1D2B4A77"));   // upper case
    EXPECT_FALSE(looks_like_alias("3f9a0c6e1d2b4a7"));    // 15
    EXPECT_FALSE(looks_like_alias("3f9a0c6e1d2b4a770"));  // 17
    EXPECT_FALSE(looks_like_alias("3f9a0c6e1d2b4a7g"));   // not hex
    EXPECT_FALSE(looks_like_alias(""));
    EXPECT_FALSE(looks_like_alias("postmaster"));
}

}  // namespace
}  // namespace mm::alias
