#include "policy/classify/stemmer.h"

#include <libstemmer.h>

#include <stdexcept>

namespace mm::classify {

void Stemmer::Delete::operator()(sb_stemmer* s) const {
    sb_stemmer_delete(s);
}

Stemmer::Stemmer(Lang lang) : stemmer_(sb_stemmer_new(snowball_name(lang), "UTF_8")) {
    if (!stemmer_)
        throw std::runtime_error(std::string("no Snowball stemmer for ") + snowball_name(lang));
}

std::string_view Stemmer::stem(std::string_view folded) {
    const sb_symbol* s =
        sb_stemmer_stem(stemmer_.get(), reinterpret_cast<const sb_symbol*>(folded.data()),
                        static_cast<int>(folded.size()));
    // Out of memory inside libstemmer: the word itself is the safer key
    // (an entry written as that word still matches).
    if (s == nullptr) return folded;
    return {reinterpret_cast<const char*>(s),
            static_cast<std::size_t>(sb_stemmer_length(stemmer_.get()))};
}

std::string_view Stemmers::stem(Lang lang, std::string_view folded) {
    auto& s = by_lang_[lang];
    if (!s) s = std::make_unique<Stemmer>(lang);
    return s->stem(folded);
}

}  // namespace mm::classify
