// Base64 bodies for the tests that hold a decoder or a counting rule to
// GMime's: random data, and its RFC 2045 encoding in any line layout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace mm::policy::base64_testing {

inline constexpr char kDigits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline std::string random_bytes(std::size_t n, std::mt19937& rng) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

// RFC 2045 base64 with `line` digits a line (0: one line, no break), `eol`
// after every line, the last one included.
inline std::string base64(const std::string& data, std::size_t line, const std::string& eol) {
    std::string flat;
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const std::size_t left = std::min<std::size_t>(3, data.size() - i);
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 3; ++k)
            v = v << 8 | (k < left ? static_cast<unsigned char>(data[i + k]) : 0u);
        flat += kDigits[v >> 18 & 63];
        flat += kDigits[v >> 12 & 63];
        flat += left > 1 ? kDigits[v >> 6 & 63] : '=';
        flat += left > 2 ? kDigits[v & 63] : '=';
    }
    if (line == 0) return flat.empty() ? flat : flat + eol;
    std::string out;
    for (std::size_t i = 0; i < flat.size(); i += line) out += flat.substr(i, line) + eol;
    return out;
}

}  // namespace mm::policy::base64_testing
