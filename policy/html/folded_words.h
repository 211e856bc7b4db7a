// folded_word_at: whether a lower-case ASCII word occurs in UTF-8 text the
// way RE2's (?i) finds it there, for the prefilters that decide whether an
// HTML part needs a CSS-aware pass at all (html_css.cc, html_text.cc).
// Those run over every HTML part, most of which need no such pass: a scan
// for a pair of the word's bytes (util/byte_scan.h) costs a fraction of a
// DFA's step per byte, and only its hits are read here.
//
// RE2 folds case by Unicode's simple case folding: an ASCII letter matches
// its other case and, for 's' alone among the letters used here, U+017F
// (LATIN SMALL LETTER LONG S, "\xC5\xBF"); 'k' would also take U+212A.
// The words passed here hold no 'k', and an 's' is read in all three forms,
// so the set of texts that pass equals the pattern's.
#pragma once

#include <cstddef>
#include <string_view>

namespace mm::policy::html {

namespace folded {

constexpr std::string_view kLongS = "\xC5\xBF";  // U+017F, folds to 's'

// Whether text[at] is `c` (lower-case ASCII or other) as (?i) reads it.
inline bool byte_is(std::string_view text, std::size_t at, char c) {
    const char b = text[at];
    return b == c || (c >= 'a' && c <= 'z' && b == static_cast<char>(c - 'a' + 'A'));
}

// Where `word` ends when it starts at `at` (npos: it does not).
inline std::size_t end_forward(std::string_view text, std::size_t at, std::string_view word) {
    for (const char c : word) {
        if (at < text.size() && byte_is(text, at, c)) {
            ++at;
        } else if (c == 's' && text.substr(at, 2) == kLongS) {
            at += 2;
        } else {
            return std::string_view::npos;
        }
    }
    return at;
}

// Whether `word` ends just before `end`, read backwards.
inline bool ends_before(std::string_view text, std::size_t end, std::string_view word) {
    for (std::size_t k = word.size(); k-- > 0;) {
        const char c = word[k];
        if (end > 0 && byte_is(text, end - 1, c)) {
            --end;
        } else if (c == 's' && end >= 2 && text.substr(end - 2, 2) == kLongS) {
            end -= 2;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace folded

// Whether `word` (lower-case ASCII, no 'k') occurs in `text` with its
// byte `anchor` (not an 's') at text[at], such that `then(end)` holds for
// where it ends.
template <class Then>
bool folded_word_at(std::string_view text, std::size_t at, std::string_view word,
                    std::size_t anchor, Then then) {
    if (!folded::byte_is(text, at, word[anchor]) ||
        !folded::ends_before(text, at, word.substr(0, anchor)))
        return false;
    const std::size_t e = folded::end_forward(text, at + 1, word.substr(anchor + 1));
    return e != std::string_view::npos && then(e);
}

inline bool folded_word_at(std::string_view text, std::size_t at, std::string_view word,
                           std::size_t anchor) {
    return folded_word_at(text, at, word, anchor, [](std::size_t) { return true; });
}

}  // namespace mm::policy::html
