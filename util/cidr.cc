#include "util/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "util/address.h"

namespace mm {
namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    if (text.size() > 5 && iequals(text.substr(0, 5), "ipv6:")) text.remove_prefix(5);
    if (text.empty() || text.size() > 64) return std::nullopt;
    std::string s(text);
    IpAddress ip;
    if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
        ip.bits = 32;
        return ip;
    }
    if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
        static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(ip.bytes.data(), kMapped, 12) == 0) {
            std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
            std::fill(ip.bytes.begin() + 4, ip.bytes.end(), 0);
            ip.bits = 32;
        } else {
            ip.bits = 128;
        }
        return ip;
    }
    return std::nullopt;
}

std::optional<CidrPrefix> parse_cidr(std::string_view text) {
    text = trim(text);
    size_t slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    CidrPrefix c{*ip, ip->bits};
    if (slash != std::string_view::npos) {
        std::string_view n = text.substr(slash + 1);
        if (n.empty() || n.size() > 3) return std::nullopt;
        int v = 0;
        for (char ch : n) {
            if (ch < '0' || ch > '9') return std::nullopt;
            v = v * 10 + (ch - '0');
        }
        if (v > ip->bits) return std::nullopt;
        c.prefix = v;
    }
    return c;
}

bool cidr_contains(const CidrPrefix& c, const IpAddress& ip) {
    if (c.ip.bits != ip.bits) return false;
    int full = c.prefix / 8;
    if (std::memcmp(c.ip.bytes.data(), ip.bytes.data(), static_cast<size_t>(full)) != 0)
        return false;
    int rest = c.prefix % 8;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
    return (c.ip.bytes[static_cast<size_t>(full)] & mask) ==
           (ip.bytes[static_cast<size_t>(full)] & mask);
}

}  // namespace mm
