// Lexicon: the concepts (REVIEW, REWARD, ...) and, per language, the words
// and phrases that express them, plus language-independent RE2 shapes.
//
// Entry syntax (as written in concepts.yaml, see README.md):
//   word / several words    a phrase of stems: each word folded and stemmed
//                           with the language's Snowball stemmer; consecutive
//                           tokens of one sentence
//   a ... b                 up to 3 other tokens between a and b
//   word*   *word   *word*  folded token starts with / ends with / contains
//                           (at least 4 letters besides the stars)
//   =word                   the folded token exactly, not stemmed
//
// Built once (build() validates: every language of a concept with words
// present and non-empty, no stem shorter than 3 letters, no single-word
// stopword, no bare star); then immutable and shared by any number of
// threads.  Matching is one hash look-up per token and kind, never a loop
// over the entries (only `*word*` entries are tried on every token).
#pragma once

#include <re2/re2.h>
#include <re2/set.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/classify/key_index.h"
#include "policy/classify/language.h"
#include "policy/classify/tokenizer.h"
#include "util/result.h"

namespace mm::classify {

// Who alone writes a concept's words: a buyer's "I will leave a review" is no
// evidence in a seller's mail, and a seller could write it to switch off a
// rule that needs the buyer's words absent.  Rules read a concept whose
// speaker is the other party of a message with a known sender as absent.
enum class Speaker : std::uint8_t { anyone, buyer, seller };

// What build() is given: the YAML loader's view of one concept.  `where`
// strings ("concepts.yaml:12:9") prefix the errors about that item.
struct ConceptSource {
    struct Written {
        Lang lang;
        std::string text;
        std::string where;
    };
    struct Shape {
        std::string regex;
        std::string where;
    };
    std::string name;
    std::string description;
    std::string where;
    std::vector<Written> entries;
    LangMask listed = 0;  // languages with a key (a list, maybe empty)
    std::vector<Shape> shapes;
    Speaker speaker = Speaker::anyone;
    struct Mask {
        std::string concept_name;
        std::string where;
    };
    std::vector<Mask> masks;
};

// A concept found in the text: tokens [first, last] of the document.
struct ConceptMatch {
    static constexpr Lang kShape = 0xFF;
    std::uint16_t concept_id;
    Lang lang;  // kShape for a shape match
    std::uint32_t first, last;
    std::uint32_t entry;       // index of the entry (or shape) that matched
    std::uint32_t begin, end;  // bytes of the first token's text: the words as written
};

class Lexicon {
public:
    enum class Kind : std::uint8_t { stem, exact, prefix, suffix, contains };
    struct Word {
        Kind kind;
        std::uint8_t gap;  // how many other tokens may stand before it
        std::string key;
    };
    struct Entry {
        std::uint16_t concept_id;
        Lang lang;
        std::vector<Word> words;
        std::string written;
    };
    struct Concept {
        std::string name;
        std::string description;
        std::vector<std::string> shapes;
        Speaker speaker = Speaker::anyone;
        // Concepts whose matches inside this concept's matches are dropped:
        // a refusal that names the channel ("cannot accept bank transfers")
        // neutralises the channel word it holds, and only that one.
        std::vector<std::uint16_t> masks;
    };

    static Result<std::shared_ptr<const Lexicon>> build(LangMask languages,
                                                        std::vector<ConceptSource> concepts);
    ~Lexicon();

    LangMask languages() const { return languages_; }
    const std::vector<Concept>& concepts() const { return concepts_; }
    const std::vector<Entry>& entries() const { return entries_; }
    // The concept's index, or -1.
    int find(std::string_view name) const;

    // Every concept match in `doc` for the languages in `langs`, sorted by
    // first token, less the matches masked (Concept::masks).  `texts` are
    // the document's texts (for the shapes).
    std::vector<ConceptMatch> match(const Document& doc, std::span<const TextInput> texts,
                                    LangMask langs, BudgetCheck check = nullptr) const;

private:
    using Index = KeyIndex;
    class Matcher;
    friend class Matcher;
    friend class LexiconBuilder;

    Lexicon() = default;
    void drop_masked(const Document& doc, std::vector<ConceptMatch>& matches) const;

    LangMask languages_ = 0;
    std::vector<Concept> concepts_;
    // masked_by_[c]: some concept masks concept c (empty: none masks any).
    std::vector<bool> masked_by_;
    std::vector<Entry> entries_;
    // First words by kind: stems and exact words keyed by language byte +
    // key; prefixes by their first 4 bytes; suffixes by their last 4.
    // Phrases whose second word is a stem right after the first ("your
    // review", "our website": dozens share a first word) are keyed by both
    // stems instead (pair_key), so a token tries only the phrases its next
    // word can complete; pair_heads_ holds their first words' keys.
    Index stems_, exact_, prefixes_, suffixes_, pairs_;
    Index pair_heads_;  // keys only
    std::vector<std::uint32_t> contains_;
    // Bits per hash of a token's first 3 bytes (last 3 for suffixes): the
    // languages with a stem starting so (bits 0-4), exact words (bit 5),
    // prefixes (bit 6).  A token no bit admits is neither stemmed nor
    // looked up.
    std::array<std::uint8_t, 1u << 16> head_filter_{};
    std::array<std::uint8_t, 1u << 16> tail_filter_{};
    bool short_keys_ = false;  // a first word shorter than 3 bytes exists
    // Shapes: all in one set for the common case of no match, and one by
    // one for their spans.  shape_concept_[i] is the concept of shape i.
    std::unique_ptr<re2::RE2::Set> shape_set_;
    std::vector<std::unique_ptr<re2::RE2>> shapes_;
    // For a shape `\bLITERAL...`, the pattern without its `\b` (else null):
    // its matches where a word boundary stands are the shape's.
    std::vector<std::unique_ptr<re2::RE2>> shape_tails_;
    // For such a tail, the lower-case letters or digits it starts with (at
    // least three, else empty): the places to try it anchored.
    std::vector<std::string> shape_literals_;
    std::vector<std::uint16_t> shape_concept_;
};

// The pairs_ key of a first word's key (language byte + stem) and the
// second word's stem.
inline std::string pair_key(std::string_view first, std::string_view second) {
    std::string key(first);
    key.push_back('\x1f');
    key.append(second);
    return key;
}

// The 16-bit filter slot of three bytes.
inline std::uint32_t filter_slot(std::string_view three) {
    std::uint32_t v = (static_cast<unsigned char>(three[0]) << 16) |
                      (static_cast<unsigned char>(three[1]) << 8) |
                      static_cast<unsigned char>(three[2]);
    return (v * 2654435761u) >> 16;
}

}  // namespace mm::classify
