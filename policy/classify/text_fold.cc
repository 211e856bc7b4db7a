#include "policy/classify/text_fold.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

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
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

}  // namespace

char32_t decode_utf8(std::string_view s, std::size_t i, std::size_t& length) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    unsigned char c = b(i);
    length = 1;
    if (c < 0x80) return c;
    if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
        length = 2;
        return static_cast<char32_t>(((c & 0x1F) << 6) | (b(i + 1) & 0x3F));
    }
    if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
        char32_t v = ((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0xFFFD;
        length = 3;
        return v;
    }
    if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
        char32_t v = ((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) |
                     (b(i + 3) & 0x3F);
        if (v < 0x10000 || v > 0x10FFFF) return 0xFFFD;
        length = 4;
        return v;
    }
    return 0xFFFD;
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
