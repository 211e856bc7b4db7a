// ASCII string helpers shared by every layer: case-insensitive comparison and
// lower-casing of protocol text (header names, domains, URL schemes, HTML
// names), and the 7-bit test.  Only A-Z fold: these compare protocol tokens,
// never prose, so the answer must not depend on the process locale.  The
// per-character helpers are inline: the HTML tokenizer folds every tag and
// attribute name with them.  Thread-safe (pure functions).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace mm {

constexpr char lower_char(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return lower_char(x) == lower_char(y);
           });
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string to_lower(std::string_view s);

// True when every byte is 7-bit.
bool is_ascii(std::string_view s);

}  // namespace mm
