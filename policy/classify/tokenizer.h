// The classifier's tokens: words of the texts as normalize_text(words)
// gives them (policy/rules/text_normalize.h), each folded (text_fold.h),
// with the byte span it came from and the sentence, paragraph and message
// it belongs to.
//
// A word is a run of letters, digits and combining marks; everything else
// (spaces, punctuation, apostrophes, hyphens, symbols) separates words.  A
// sentence ends at '.', '!' or '?' not followed by a word character ("3.5",
// "shop-example.com" do not end one) and at a paragraph end; a paragraph
// ends at an empty line.  Each text starts a sentence and a paragraph; a
// subject and the text after it make one message-level unit, each other
// text is a unit of its own.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/classify/budget.h"

namespace mm::classify {

struct TextInput {
    std::string_view text;
    bool subject = false;
};

struct Token {
    std::uint32_t text;                  // index into the inputs
    std::uint32_t begin, end;            // bytes of that text
    std::uint32_t fold_begin, fold_end;  // bytes of Document::folded (unless in_text)
    std::uint32_t sentence, paragraph, message;
    std::uint32_t spelling;  // index into Document::spellings: equal folded forms, equal index
    // The folded form is the word as written (lower-case ASCII, what the
    // normalised texts mostly are): [begin, end) of the text, not copied.
    bool in_text = false;
};

struct Document {
    std::vector<Token> tokens;
    std::vector<std::string_view> texts;   // the inputs' texts
    std::string folded;                    // the other tokens' folded forms, one after the other
    std::vector<std::uint32_t> spellings;  // per distinct folded form, its first token
    std::string_view folded_of(const Token& t) const {
        if (t.in_text) return texts[t.text].substr(t.begin, t.end - t.begin);
        return std::string_view(folded).substr(t.fold_begin, t.fold_end - t.fold_begin);
    }
};

// Throws TooManyWords past `bounds.max_tokens` words.
Document tokenize(std::span<const TextInput> texts, const WorkBounds& bounds = {});
// One text alone (the lexicon tokenizes its entries the same way).
std::vector<std::string> fold_words(std::string_view text);

}  // namespace mm::classify
