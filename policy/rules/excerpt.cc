#include "policy/rules/excerpt.h"

#include <algorithm>

namespace mm::policy {
namespace {

// How far an excerpt may grow past the match to reach a word boundary, so a
// match inside a megabyte of base64 does not pull the whole "word" along.
constexpr size_t kWidenMaxBytes = 40;

bool is_word_byte(unsigned char c) {
    // Bytes >= 0x80 belong to multi-byte characters, nearly all letters in
    // the languages we scan; treating them as word bytes also keeps the
    // widened bounds on character boundaries.
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t utf8_length(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    unsigned char c = b(i);
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
        if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // overlong
        if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

// The excerpt goes into SMTP replies and audit lines, which must not carry
// CR/LF and must be valid UTF-8: whitespace and control runs become one
// space, invalid bytes are dropped, and the result is cut at a character
// (preferably word) boundary within max_chars characters.
// One line of valid UTF-8 from text[begin, end), at most max_chars characters.
std::string one_line(std::string_view text, size_t begin, size_t end, size_t max_chars) {
    std::string out;
    size_t chars = 0;
    size_t last_space = std::string::npos;
    bool truncated = false;
    for (size_t i = begin; i < end;) {
        size_t n = utf8_length(text, i);
        if (n == 0) {
            ++i;
            continue;
        }
        auto c = static_cast<unsigned char>(text[i]);
        if (n == 1 && (c <= 0x20 || c == 0x7F)) {
            i += 1;
            if (out.empty() || out.back() == ' ') continue;
            if (chars == max_chars) {
                truncated = true;
                break;
            }
            last_space = out.size();
            out.push_back(' ');
            ++chars;
            continue;
        }
        if (chars == max_chars) {
            truncated = true;
            break;
        }
        out.append(text.substr(i, n));
        ++chars;
        i += n;
    }
    // A cut word reads as a different word; drop it if that loses little.
    if (truncated && last_space != std::string::npos && last_space > out.size() / 2)
        out.resize(last_space);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

}  // namespace

std::string make_excerpt(std::string_view text, size_t begin, size_t end, size_t max_chars) {
    // Callers widen a match by a margin that may run past either end.
    end = std::min(end, text.size());
    begin = std::min(begin, end);
    size_t limit = begin > kWidenMaxBytes ? begin - kWidenMaxBytes : 0;
    while (begin > limit && is_word_byte(static_cast<unsigned char>(text[begin - 1]))) --begin;
    limit = std::min(text.size(), end + kWidenMaxBytes);
    while (end < limit && is_word_byte(static_cast<unsigned char>(text[end]))) ++end;
    return one_line(text, begin, end, max_chars);
}

std::string quote_words(std::string_view text, size_t begin, size_t end, size_t max_chars) {
    return one_line(text, begin, std::min(end, text.size()), max_chars);
}

}  // namespace mm::policy
