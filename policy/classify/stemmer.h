// Stemmer: one Snowball (libstemmer) stemmer for one language.  A
// sb_stemmer keeps its working buffer inside, so one Stemmer must not be used
// by two threads at once: the classifier makes its own per call (creating
// one is cheap next to a message, see bench/RESULTS.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "policy/classify/language.h"

struct sb_stemmer;

namespace mm::classify {

class Stemmer {
public:
    // Throws std::runtime_error when libstemmer lacks the language.
    explicit Stemmer(Lang lang);
    // The stem of an already folded word.  The view lives until the next call.
    std::string_view stem(std::string_view folded);

private:
    struct Delete {
        void operator()(sb_stemmer* s) const;
    };
    std::unique_ptr<sb_stemmer, Delete> stemmer_;
};

// The stems of a call's words in each language, each stemmer made on first
// use.  Stems are also remembered for the whole process (a bounded table
// behind a mutex), so a word the process has stemmed before is not stemmed
// again.  Not thread-safe; one per classification.
class Stemmers {
public:
    // The view lives until the next call.
    std::string_view stem(Lang lang, std::string_view folded);

private:
    std::unique_ptr<Stemmer> by_lang_[kLangCount];
    std::string found_;
};

}  // namespace mm::classify
