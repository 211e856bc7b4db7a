// util/cidr.h: the address and prefix forms operators write, and prefix
// matching across byte boundaries and families.
#include "util/cidr.h"

#include <gtest/gtest.h>

namespace mm {
namespace {

bool in(std::string_view prefix, std::string_view address) {
    auto c = parse_cidr(prefix);
    auto ip = parse_ip(address);
    return c && ip && cidr_contains(*c, *ip);
}

TEST(Cidr, ParsesAddressForms) {
    for (const char* text : {"192.0.2.1", " 192.0.2.1\t", "[192.0.2.1]", "::1", "IPv6:2001:db8::1",
                             "[IPv6:2001:db8::1]", "::ffff:192.0.2.1"})
        EXPECT_TRUE(parse_ip(text)) << text;
    for (const char* text : {"", "300.1.1.1", "192.0.2", "not an ip", "192.0.2.1/24", "[::1"})
        EXPECT_FALSE(parse_ip(text)) << text;
    EXPECT_EQ(parse_ip("::ffff:192.0.2.1")->bits, 32);
    EXPECT_EQ(parse_ip("2001:db8::1")->bits, 128);
}

TEST(Cidr, ParsesPrefixes) {
    EXPECT_EQ(parse_cidr("10.0.0.0/8")->prefix, 8);
    EXPECT_EQ(parse_cidr("192.0.2.1")->prefix, 32);
    EXPECT_EQ(parse_cidr("2001:db8::/32")->prefix, 32);
    EXPECT_EQ(parse_cidr("::1")->prefix, 128);
    for (const char* text :
         {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/0008", "::/129", "/8"})
        EXPECT_FALSE(parse_cidr(text)) << text;
}

TEST(Cidr, Contains) {
    const struct {
        const char* range;
        const char* address;
        bool contained;
    } cases[] = {
        {"192.0.2.10", "192.0.2.10", true},
        {"192.0.2.10", "192.0.2.11", false},
        {"198.51.100.0/24", "[198.51.100.77]", true},
        {"198.51.100.0/24", "198.51.101.1", false},
        {"10.128.0.0/9", "10.200.1.1", true},
        {"10.128.0.0/9", "10.127.255.255", false},
        {"0.0.0.0/0", "203.0.113.5", true},
        {"198.51.100.0/24", "::ffff:198.51.100.1", true},
        {"2001:db8::/32", "IPv6:2001:db8::1", true},
        {"2001:db8::/32", "2001:db9::1", false},
        {"::/0", "192.0.2.1", false},
        {"0.0.0.0/0", "2001:db8::1", false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(in(c.range, c.address), c.contained) << c.range << " " << c.address;
}

}  // namespace
}  // namespace mm
