// Folding of one word for the lexicon: lower case, accents removed
// ("Évaluée" -> "evaluee", "Grüße" -> "grusse"), so that text written with
// or without accents, and the lexicon's entries, meet on one spelling.
// Pure and thread-safe (the table is built once).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mm::classify {

// Appends the folded form of `word` to `out`.
void fold_word(std::string_view word, std::string& out);
std::string fold_word(std::string_view word);

// The code point at s[i] and its length in bytes; an invalid byte reads as
// U+FFFD of length 1.
char32_t decode_utf8(std::string_view s, std::size_t i, std::size_t& length);

// Whether a code point is part of a word: letters, digits, combining marks.
bool is_word_char(char32_t c);

}  // namespace mm::classify
