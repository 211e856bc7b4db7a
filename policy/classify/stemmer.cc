#include "policy/classify/stemmer.h"

#include <libstemmer.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>

namespace mm::classify {
namespace {

// The process's stems: Snowball costs more than everything else a word
// costs the matcher, and mail repeats the same words message after message.
// Not per thread: libmilter runs each SMTP connection on a new thread, so a
// thread's memory would be empty for nearly every message.  Direct-mapped:
// a word takes its slot from whatever was there (no list to keep, a bounded
// size, and a sender's many distinct words cost one look-up each).  Longer
// words and stems are not kept.
class StemMemo {
public:
    static constexpr std::size_t kMaxBytes = 29;

    bool find(Lang lang, std::string_view word, std::size_t hash, std::string& out) {
        const Slot& s = slots_[hash % kSlots];
        std::lock_guard lock(mu_);
        if (s.lang != lang || s.word_len != word.size() ||
            std::memcmp(s.word, word.data(), word.size()) != 0)
            return false;
        out.assign(s.stem, s.stem_len);
        return true;
    }

    void keep(Lang lang, std::string_view word, std::size_t hash, std::string_view stem) {
        if (word.size() > kMaxBytes || stem.size() > kMaxBytes) return;
        Slot& s = slots_[hash % kSlots];
        std::lock_guard lock(mu_);
        s.lang = lang;
        s.word_len = static_cast<std::uint8_t>(word.size());
        s.stem_len = static_cast<std::uint8_t>(stem.size());
        std::memcpy(s.word, word.data(), word.size());
        std::memcpy(s.stem, stem.data(), stem.size());
    }

private:
    static constexpr std::size_t kSlots = 8192;
    struct Slot {
        Lang lang = 0xFF;
        std::uint8_t word_len = 0, stem_len = 0;
        char word[kMaxBytes];
        char stem[kMaxBytes];
    };
    std::mutex mu_;
    std::array<Slot, kSlots> slots_;
};

StemMemo& memo() {
    // Never freed: a connection thread may still classify while the process
    // exits.
    static auto* const m = new StemMemo;
    return *m;
}

}  // namespace

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
    const bool memo_size = folded.size() <= StemMemo::kMaxBytes;
    const std::size_t hash =
        memo_size ? std::hash<std::string_view>{}(folded) ^ (lang * 0x9E3779B97F4A7C15ull) : 0;
    if (memo_size && memo().find(lang, folded, hash, found_)) return found_;
    auto& s = by_lang_[lang];
    if (!s) s = std::make_unique<Stemmer>(lang);
    const std::string_view stem = s->stem(folded);
    // A failed stem (the word itself, out of memory) is not kept.
    if (memo_size && stem.data() != folded.data()) memo().keep(lang, folded, hash, stem);
    return stem;
}

}  // namespace mm::classify
