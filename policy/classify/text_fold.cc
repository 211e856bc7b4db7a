#include "policy/classify/text_fold.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>

namespace mm::classify {
namespace {

// Latin letters up to U+024F fold through a table; others by ICU's case
// folding alone (their accents are not letters of the five languages).
constexpr char32_t kTableEnd = 0x250;

struct FoldTable {
    std::array<std::string, kTableEnd> folded;
    FoldTable() {
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
        for (char32_t c = 0; c < kTableEnd; ++c) {
            auto lower =
                static_cast<UChar32>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
            icu::UnicodeString decomposed;
            if (U_SUCCESS(status) && nfd != nullptr && nfd->getDecomposition(lower, decomposed)) {
                icu::UnicodeString base;
                for (int32_t k = 0; k < decomposed.length();) {
                    UChar32 d = decomposed.char32At(k);
                    if (u_charType(d) != U_NON_SPACING_MARK) base.append(d);
                    k += U16_LENGTH(d);
                }
                base.toUTF8String(folded[c]);
            } else {
                icu::UnicodeString(lower).toUTF8String(folded[c]);
            }
        }
        // Letters without a decomposition that the languages spell out.
        folded[0xDF] = "ss";
        folded[0xE6] = folded[0xC6] = "ae";
        folded[0x153] = folded[0x152] = "oe";
        folded[0xF8] = folded[0xD8] = "o";
        folded[0x131] = "i";
        folded[0x142] = folded[0x141] = "l";
        folded[0x111] = folded[0x110] = "d";
    }
};

const FoldTable& fold_table() {
    static const FoldTable t;
    return t;
}

void append_utf8(char32_t c, std::string& out) {
    char buf[U8_MAX_LENGTH];
    int32_t n = 0;
    U8_APPEND_UNSAFE(buf, n, static_cast<UChar32>(c));
    out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace

char32_t decode_utf8(std::string_view s, std::size_t i, std::size_t& length) {
    auto k = static_cast<int32_t>(i);
    UChar32 c = 0;
    U8_NEXT(s.data(), k, static_cast<int32_t>(s.size()), c);
    length = static_cast<std::size_t>(k) - i;
    return c < 0 ? 0xFFFD : static_cast<char32_t>(c);
}

bool is_word_char(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (c == 0xFFFD) return false;
    auto u = static_cast<UChar32>(c);
    return u_isalnum(u) || u_charType(u) == U_NON_SPACING_MARK ||
           u_charType(u) == U_COMBINING_SPACING_MARK;
}

void fold_word(std::string_view word, std::string& out) {
    const FoldTable& t = fold_table();
    for (std::size_t i = 0; i < word.size();) {
        auto c = static_cast<unsigned char>(word[i]);
        if (c < 0x80) {
            out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
            ++i;
            continue;
        }
        std::size_t n = 1;
        char32_t cp = decode_utf8(word, i, n);
        i += n;
        if (cp < kTableEnd) {
            out += t.folded[cp];
        } else if (u_charType(static_cast<UChar32>(cp)) != U_NON_SPACING_MARK) {
            append_utf8(
                static_cast<char32_t>(u_foldCase(static_cast<UChar32>(cp), U_FOLD_CASE_DEFAULT)),
                out);
        }
    }
}

std::string fold_word(std::string_view word) {
    std::string out;
    fold_word(word, out);
    return out;
}

}  // namespace mm::classify
