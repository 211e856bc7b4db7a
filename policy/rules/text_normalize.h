// normalize_text: the text the rules match, with what a reader does not see
// or reads as the same letter folded away, so that a zero-width space, a soft
// hyphen, a Cyrillic "е" or "g i f t" cannot hide words from a pattern.  Every
// byte of the result maps back to the source bytes it came from, so a match
// can be replaced, or quoted, in the text as received.
//
// Invalid UTF-8 is kept byte for byte.  Pure and thread-safe (the ICU data and
// the look-alike table are built once, then read only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/rules/offset_map.h"

namespace mm::policy {

enum class Normalize {
    // Default-ignorable code points removed (zero-width spaces and joiners,
    // U+2060, U+FEFF, soft hyphens, bidi controls, variation selectors), then
    // NFKC (full-width and mathematical letters and digits, U+00A0 as a
    // space): what redaction matches on.  ASCII text comes back unchanged.
    characters,
    // The same, and: simple case folding; letters of any script that look
    // like a Latin letter (Unicode's confusables) as that letter; Latin
    // letters past U+024F (with marks, small capitals, with hooks) as their
    // letter, and marks NFKC leaves on a Latin letter dropped; text inside a
    // right-to-left override reversed, as it is shown; single letters
    // separated alike joined: at least three by the same run of spaces or
    // tabs ("g i f t", "g  i  f  t" -> "gift"), at least four by the same
    // one of . - _ * / · • ("r.e.v.i.e.w"; "e.g." and "U.S.A." stay); a
    // word hyphenated at a line break joined; the digits 0 1 3 4 5 7, a lone
    // 9, '@', '!' and '|' between two letters, "\/" between letters and
    // "vv" ending or starting a word read as the letters they stand for
    // ("r3v13w", "rev!ew", "re\/iew", "revi3vv" -> "review").  What the
    // content rules match on.  An NFKC mapping that would add a sentence end (the
    // one-character ellipsis, a full-width full stop) is not made: patterns
    // keep to one sentence, and a message must not escape them that way.
    words,
};

// Where `words` must guess, the guess it makes.  A '1', '!' or '|' between
// letters is an "i" or an "l"; a single letter before a letter-spaced word ("for a r e v i
// e w") is part of it or a word of its own ("a", "y", "à").  normalize_text
// says when a text had such a choice; a rule then matches each reading.
struct Reading {
    char one = 'i';
    bool article_apart = false;
};

struct NormalizedText {
    std::string text;
    // Whether another Reading would give another text.
    bool one_as_letter = false;
    bool run_after_article = false;

    // The source bytes that produced [b, e) of `text`: a match found in
    // `text` is replaced or quoted there.
    std::pair<std::size_t, std::size_t> source_span(std::size_t b, std::size_t e) const;

    OffsetMap characters;  // source -> after the characters pass
    OffsetMap words;       // after the characters pass -> `text` (words only)
};

NormalizedText normalize_text(std::string_view source, Normalize how, Reading reading = {});

// The readings other than the default one that give `n`'s source another text.
std::vector<Reading> other_readings(const NormalizedText& n);

}  // namespace mm::policy
