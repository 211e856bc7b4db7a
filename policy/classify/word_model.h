// A word model beside a rule's `when` and `score`: a linear model (logistic
// regression, fitted by tools/fit_word_model.py) over the folded words of a
// scope unit and their first five characters, for promotions written in
// words no concept holds.  Features are the classifier's own tokens and
// folding (tokenizer.h), so the trainer reads them from the classifier
// (unit_features) rather than computing its own.
//
// File: UTF-8 text, one entry a line, `#` comments and empty lines ignored:
//   bias<TAB>W
//   w:<folded word><TAB>W           the whole word
//   p:<5 characters><TAB>W          a word longer than 5 characters starts so
// A unit's score is the bias plus the weight of each distinct feature once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/classify/tokenizer.h"
#include "util/result.h"

namespace mm::classify {

enum class Scope : std::uint8_t;

// Characters of the prefix feature; words of at most this many have none.
inline constexpr std::size_t kModelPrefixChars = 5;

class WordModel {
public:
    // Errors are "WHERE:LINE: why" or "WHERE:LINE:COL: why" (`where` names
    // the file in them).
    static Result<std::shared_ptr<const WordModel>> parse(std::string_view text,
                                                          const std::string& where);
    static Result<std::shared_ptr<const WordModel>> load_file(const std::string& path);

    double bias() const { return bias_; }
    std::size_t size() const { return entries_; }
    // The weight of a feature ("w:club", "p:membe"); 0 when the model lacks it.
    float weight(std::string_view feature) const;

    // What each spelling of a document adds: its word's weight, and its
    // prefix's weight with an id shared by the spellings with that prefix
    // (-1: none), so a unit counts a prefix once.
    struct Spelling {
        float word = 0, prefix = 0;
        std::int32_t prefix_id = -1;
    };
    struct Weighed {
        std::vector<Spelling> spellings;  // one per doc.spellings
        std::size_t prefixes = 0;         // the number of prefix ids
        double total = 0;                 // every distinct feature of the document, once
    };
    Weighed weigh(const Document& doc) const;

private:
    struct Slot {
        std::uint64_t hash = 0;
        std::uint32_t key = 0, key_len = 0;  // bytes of keys_ ("club", "membe")
        std::uint32_t ordinal = 0;           // among the prefix entries
        float weight = 0;
        bool used = false, prefix = false;
    };
    WordModel() = default;
    bool insert(std::string_view key, bool prefix, float weight);
    void grow();  // doubles the table
    const Slot* find(std::uint64_t hash, std::string_view key, bool prefix) const;

    double bias_ = 0;
    std::size_t entries_ = 0, prefix_entries_ = 0;
    std::vector<Slot> slots_;  // open addressing, a power of two, at most half full
    std::string keys_;
};

// The features of one folded word: "w:<word>" and, when it has more than
// kModelPrefixChars characters, "p:<its first ones>"; none for digits only.
std::vector<std::string> word_features(std::string_view folded);

// The distinct features of each scope unit that has any, in unit order:
// exactly what a WordModel sums (classify_eval --features writes them).
std::vector<std::vector<std::string>> unit_features(const Document& doc, Scope scope);

}  // namespace mm::classify
