// text_words: normalize_text's words pass, on the characters pass's output
// (case folded, look-alikes as Latin): letter-spaced words joined, a word
// hyphenated at a line break joined, "\/" and "vv" and digits and '!' between
// letters read as letters.  Internal to text_normalize.
#pragma once

#include <string>

#include "policy/rules/text_normalize.h"

namespace mm::policy::text {

// What the characters pass's scout saw: where nothing was seen, that part
// of the words pass is skipped (most texts need none of it).
struct WordsHints {
    bool maybe_run = false;
    bool maybe_swap = false;
};

// Sets n.text (from `chars`), n.words, n.one_as_letter and
// n.run_after_article.
void words_pass(std::string chars, WordsHints hints, Reading reading, NormalizedText& n);

}  // namespace mm::policy::text
