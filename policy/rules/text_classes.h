// text_classes: what normalize_text's passes know of a character (letter,
// digit, read-as-letter, separator of a letter-spaced word), shared by the
// characters pass's scout and the words pass.  Internal to text_normalize.
#pragma once

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mm::policy::text {

enum : std::uint8_t {
    kLetter = 1,
    kDigit = 2,
    // Read as a letter between two letters ("r3v13w", "rev!ew").
    kSwappable = 4,
    // Space or tab: separates letter-spaced words when repeated alike.
    kSpace = 8,
    // Separates the single letters of a letter-spaced word.
    kSep = 16,
    // A swappable that is punctuation, never a letter of a spaced word.
    kSymbol = 32,
    // '9', a "g" only alone between letters ("1Z999AA" is a code).
    kNine = 64,
};

constexpr std::array<std::uint8_t, 128> kAscii = [] {
    std::array<std::uint8_t, 128> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = kLetter;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = kLetter;
    for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
    for (char c : std::string_view("0134579@!|")) t[static_cast<unsigned char>(c)] |= kSwappable;
    t['9'] |= kNine;
    t['!'] |= kSymbol;
    t['|'] |= kSymbol;
    t[' '] = t['\t'] = kSpace | kSep;
    for (char c : std::string_view(".-_*/")) t[static_cast<unsigned char>(c)] = kSep;
    return t;
}();

// The separators beyond ASCII: the middle dot and the bullet.
constexpr bool separator_code_point(UChar32 c) {
    return c == 0xB7 || c == 0x2022;
}

// The code point at s[i] and its length; c < 0 for bytes that are not UTF-8
// (then `len` covers them, and they are kept as they are).
struct CodePoint {
    UChar32 c;
    std::size_t len;
};

inline CodePoint decode_at(std::string_view s, std::size_t i) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    auto at = static_cast<int32_t>(i);
    const auto n = static_cast<int32_t>(s.size());
    UChar32 c;
    U8_NEXT(p, at, n, c);
    return {c, static_cast<std::size_t>(at) - i};
}

inline std::uint8_t class_of(UChar32 c) {
    if (c < 0x80) return c < 0 ? 0 : kAscii[static_cast<std::size_t>(c)];
    return u_isalpha(c) ? kLetter : u_isalnum(c) ? kDigit : separator_code_point(c) ? kSep : 0;
}

struct CharClass {
    std::uint8_t bits;
    std::size_t len;
};

inline CharClass class_at(std::string_view s, std::size_t i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x80) return {kAscii[u], 1};
    CodePoint cp = decode_at(s, i);
    if (cp.c < 0) return {0, cp.len};
    return {class_of(cp.c), cp.len};
}

constexpr bool is_word(std::uint8_t bits) {
    return (bits & (kLetter | kDigit)) != 0;
}
constexpr bool is_member(std::uint8_t bits) {
    return (bits & kLetter) != 0 || (bits & (kSwappable | kSymbol)) == kSwappable;
}

inline bool swappable(char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (kAscii[u] & kSwappable) != 0;
}

inline bool letter_at(std::string_view s, std::size_t i) {
    return i < s.size() && (class_at(s, i).bits & kLetter) != 0;
}

inline bool letter_before(std::string_view s, std::size_t i) {
    if (i == 0) return false;
    std::size_t b = i - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    return letter_at(s, b);
}

}  // namespace mm::policy::text
