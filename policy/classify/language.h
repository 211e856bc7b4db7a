// The languages the classifier knows: a concept lexicon, a Snowball stemmer
// and a stopword list each.  A language is a small index so that sets of
// them are bit masks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mm::classify {

using Lang = std::uint8_t;
using LangMask = std::uint8_t;
inline constexpr Lang kLangCount = 5;
inline constexpr std::array<std::string_view, kLangCount> kLangCodes = {"en", "de", "fr", "it",
                                                                        "es"};
inline constexpr LangMask kAllLangs = (1u << kLangCount) - 1;

std::optional<Lang> lang_from_code(std::string_view code);
inline std::string_view lang_code(Lang l) {
    return kLangCodes[l];
}
// The Snowball algorithm name ("english", ...).
const char* snowball_name(Lang l);

// The languages `folded` (case- and accent-folded) is a stopword of.
LangMask stopword_langs(std::string_view folded);
// Whether `folded` (case- and accent-folded) is a stopword of `l`.
bool is_stopword(Lang l, std::string_view folded);

}  // namespace mm::classify
