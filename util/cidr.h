// IP addresses and CIDR prefixes as operators write them in configuration,
// and whether an address lies in a prefix.  Pure functions over values;
// thread-safe.
//
// An IPv4-mapped IPv6 address (::ffff:1.2.3.4) is the IPv4 address, so one
// IPv4 prefix matches a client however the MTA spelt it.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace mm {

struct IpAddress {
    std::array<unsigned char, 16> bytes{};  // network order, the first 4 for IPv4
    int bits = 0;                           // 32 or 128
};

struct CidrPrefix {
    IpAddress ip;
    int prefix = 0;  // leading bits that must match, at most ip.bits
};

// "1.2.3.4", "::1", "[1.2.3.4]", "IPv6:::1", "::ffff:1.2.3.4" (as IPv4);
// surrounding white space ignored.  nullopt for anything else.
std::optional<IpAddress> parse_ip(std::string_view text);

// An address, or an address and "/N" with N at most its bit count; a bare
// address is the prefix of that one address.
std::optional<CidrPrefix> parse_cidr(std::string_view text);

// False across families (an IPv4 address is never in an IPv6 prefix).
bool cidr_contains(const CidrPrefix& prefix, const IpAddress& ip);

}  // namespace mm
