#include "policy/classify/language.h"

#include <algorithm>
#include <functional>
#include <string>
#include <unordered_map>

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

struct ViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Every stopword with the languages it belongs to.
struct Table {
    std::unordered_map<std::string, LangMask, ViewHash, std::equal_to<>> words;
    Table() {
        for (Lang l = 0; l < kLangCount; ++l) {
            std::string_view all = kStopwords[l];
            while (!all.empty()) {
                size_t sp = all.find(' ');
                words[std::string(all.substr(0, sp))] |= static_cast<LangMask>(1u << l);
                all = sp == std::string_view::npos ? std::string_view{} : all.substr(sp + 1);
            }
        }
    }
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
    const auto& words = table().words;
    auto it = words.find(folded);
    return it == words.end() ? 0 : it->second;
}

bool is_stopword(Lang l, std::string_view folded) {
    return (stopword_langs(folded) >> l) & 1u;
}

}  // namespace mm::classify
