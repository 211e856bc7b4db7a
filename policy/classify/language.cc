#include "policy/classify/language.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mm::classify {
namespace {

// Short, frequent function words, already accent-folded: enough to tell the
// languages apart on a few lines and to refuse a lexicon entry that would
// match nearly every text.
constexpr std::string_view kStopwords[kLangCount] = {
    "the a an and or of to in on at for with from by is are was were be been it this that these "
    "those you your we our us i me my he she they them his her its not no do does did have has "
    "had will would can could should if as so but than then there here what which who when how "
    "all any just also very",
    "der die das den dem des ein eine einen einem einer und oder zu im in am an auf fur mit von "
    "bei ist sind war waren sein es sie ihr ihre ihnen wir uns unser ich mich mein du dich dein "
    "er nicht kein keine auch noch nur schon wenn als wie so aber dass bitte wird werden haben "
    "hat hatte sehr",
    "le la les l un une des du de d et ou a au aux en dans sur pour par avec est sont etait etre "
    "ce cet cette ces vous votre vos nous notre nos je j me mon ma mes tu te ton ta il elle ils "
    "elles ne pas plus que qui si mais comme tres bien aussi",
    "il lo la i gli le un uno una e o di da in su per con tra fra del della dei delle al alla ai "
    "alle nel nella che chi non piu ma se come anche molto sono e era essere ho ha hai abbiamo "
    "io mi mio mia tu ti tuo tua lei lui noi ci nostro voi vi vostro suo sua questo questa",
    "el la los las lo un una unos unas y o de del a al en con por para sin sobre que quien no mas "
    "pero si como tambien muy es son era ser estar esta este esto estos yo me mi mis tu te tus "
    "usted ustedes su sus nos nuestro nuestra le les se ha hemos han",
};

// Every stopword with the languages it belongs to: the words are at most
// seven bytes, so each is its bytes and length packed in 64 bits, in an
// open-addressed table (detection asks it for each distinct word of a
// message).
class Table {
public:
    static constexpr std::size_t kMaxBytes = 7;

    Table() {
        for (Lang l = 0; l < kLangCount; ++l) {
            std::string_view all = kStopwords[l];
            while (!all.empty()) {
                const std::size_t sp = all.find(' ');
                const std::string_view w = all.substr(0, sp);
                if (w.size() > kMaxBytes) throw std::logic_error("stopword longer than 7 bytes");
                slot(pack(w)).langs |= static_cast<LangMask>(1u << l);
                all = sp == std::string_view::npos ? std::string_view{} : all.substr(sp + 1);
            }
        }
    }

    LangMask find(std::string_view w) const {
        if (w.empty() || w.size() > kMaxBytes) return 0;
        const std::uint64_t k = pack(w);
        for (std::size_t i = start(k);; i = (i + 1) % kSlots) {
            if (slots_[i].key == k) return slots_[i].langs;
            if (slots_[i].key == 0) return 0;
        }
    }

private:
    // Comfortably more than twice the words.
    static constexpr std::size_t kSlots = 1024;
    struct Slot {
        std::uint64_t key = 0;  // 0: empty
        LangMask langs = 0;
    };

    static std::uint64_t pack(std::string_view w) {
        std::uint64_t v = 0;
        std::memcpy(&v, w.data(), w.size());
        return v | std::uint64_t{w.size()} << 56;
    }
    static std::size_t start(std::uint64_t k) {
        return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> 54) % kSlots;
    }
    Slot& slot(std::uint64_t k) {
        std::size_t i = start(k);
        while (slots_[i].key != 0 && slots_[i].key != k) i = (i + 1) % kSlots;
        slots_[i].key = k;
        return slots_[i];
    }

    std::array<Slot, kSlots> slots_{};
};

const Table& table() {
    static const Table t;
    return t;
}

}  // namespace

std::optional<Lang> lang_from_code(std::string_view code) {
    auto it = std::find(kLangCodes.begin(), kLangCodes.end(), code);
    if (it == kLangCodes.end()) return std::nullopt;
    return static_cast<Lang>(it - kLangCodes.begin());
}

const char* snowball_name(Lang l) {
    static constexpr const char* kNames[kLangCount] = {"english", "german", "french", "italian",
                                                       "spanish"};
    return kNames[l];
}

LangMask stopword_langs(std::string_view folded) {
    return table().find(folded);
}

bool is_stopword(Lang l, std::string_view folded) {
    return (stopword_langs(folded) >> l) & 1u;
}

}  // namespace mm::classify
