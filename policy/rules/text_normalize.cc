#include "policy/rules/text_normalize.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "policy/rules/text_classes.h"
#include "policy/rules/text_scout.h"
#include "policy/rules/text_words.h"

namespace mm::policy {

std::pair<std::size_t, std::size_t> NormalizedText::source_span(std::size_t b,
                                                                std::size_t e) const {
    auto [wb, we] = words.source(b, e);
    return characters.source(wb, we);
}

namespace {

using namespace text;

// ---- ICU data -------------------------------------------------------------------

struct IcuData {
    const icu::Normalizer2* nfkc = nullptr;
    // Letters that look like an ASCII letter, and that letter (lower case),
    // sorted by code point.
    std::vector<std::pair<UChar32, char>> lookalikes;
};

using SpoofPtr = std::unique_ptr<USpoofChecker, decltype(&uspoof_close)>;

std::u16string skeleton(const USpoofChecker* sc, UChar32 c) {
    UChar in[2];
    int32_t n = 0;
    U16_APPEND_UNSAFE(in, n, c);
    UChar out[32];
    UErrorCode err = U_ZERO_ERROR;
    int32_t len = uspoof_getSkeleton(sc, 0, in, n, out, 32, &err);
    if (U_FAILURE(err)) return {};
    return std::u16string(out, static_cast<std::size_t>(len));
}

// The Latin letters past those of our languages (U+0250 on) that ICU's
// skeletons leave: letters with marks (NFKC composes them back), small
// capitals and letters with hooks or strokes.
bool latin_block(UChar32 c) {
    return (c >= 0x250 && c < 0x2B0) || (c >= 0x1D00 && c < 0x1DC0) ||
           (c >= 0x1E00 && c < 0x1F00) || (c >= 0x2C60 && c < 0x2C80) ||
           (c >= 0xA720 && c < 0xA800) || (c >= 0xAB30 && c < 0xAB70);
}

// The ASCII letter a Latin letter is written on: its canonical decomposition
// without the marks, else its name's ("LATIN LETTER SMALL CAPITAL R",
// "LATIN SMALL LETTER D WITH HOOK"); 0 if none.
char latin_base(const icu::Normalizer2* nfd, UChar32 c) {
    icu::UnicodeString d;
    if (nfd->getDecomposition(c, d)) {
        UChar32 base = -1;
        for (int32_t k = 0; k < d.length(); k += U16_LENGTH(d.char32At(k))) {
            const UChar32 m = d.char32At(k);
            if (u_charType(m) == U_NON_SPACING_MARK) continue;
            if (base >= 0) return 0;
            base = m;
        }
        base = u_foldCase(base, U_FOLD_CASE_DEFAULT);
        return base >= 'a' && base <= 'z' ? static_cast<char>(base) : 0;
    }
    char name[128];
    UErrorCode err = U_ZERO_ERROR;
    const int32_t len = u_charName(c, U_UNICODE_CHAR_NAME, name, sizeof name, &err);
    if (U_FAILURE(err) || len <= 0) return 0;
    const std::string_view n(name, static_cast<std::size_t>(len));
    for (std::string_view prefix :
         {"LATIN LETTER SMALL CAPITAL ", "LATIN SMALL LETTER ", "LATIN CAPITAL LETTER "}) {
        if (!n.starts_with(prefix) || n.size() <= prefix.size()) continue;
        const char x = n[prefix.size()];
        const std::string_view rest = n.substr(prefix.size() + 1);
        const bool small_capital = prefix.starts_with("LATIN LETTER");
        if (x >= 'A' && x <= 'Z' && (rest.empty() ? small_capital : rest.starts_with(" WITH ")))
            return static_cast<char>(x - 'A' + 'a');
    }
    return 0;
}

void add_latin_bases(std::vector<std::pair<UChar32, char>>& out) {
    UErrorCode err = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(err);
    if (U_FAILURE(err) || nfd == nullptr) throw std::runtime_error("ICU: no NFD data");
    std::vector<UChar32> have;
    for (const auto& [c, _] : out) have.push_back(c);
    std::sort(have.begin(), have.end());
    for (UChar32 c = 0x250; c < 0xAB70; ++c) {
        if (!latin_block(c) || !u_isalpha(c) || std::binary_search(have.begin(), have.end(), c))
            continue;
        if (const char base = latin_base(nfd, c)) out.emplace_back(c, base);
    }
}

// A letter whose confusable skeleton is an ASCII letter's reads as that
// letter.  Upper-case letters are compared with upper-case ones first, so a
// Greek capital iota is an "i" and not the "l" that "I" is confusable with.
// Letters NFKC changes were mapped already; CJK and Hangul have no Latin
// look-alikes (and are most of the letters).
std::vector<std::pair<UChar32, char>> build_lookalikes(const icu::Normalizer2* nfkc) {
    UErrorCode err = U_ZERO_ERROR;
    SpoofPtr sc(uspoof_open(&err), uspoof_close);
    if (U_FAILURE(err)) throw std::runtime_error("ICU: uspoof_open failed");
    std::map<std::u16string, char> lower_first, upper_first;
    for (int pass = 0; pass < 2; ++pass)
        for (char c = 'a'; c <= 'z'; ++c) {
            const char upper = static_cast<char>(c - 'a' + 'A');
            (pass == 0 ? lower_first : upper_first).emplace(skeleton(sc.get(), c), c);
            (pass == 0 ? upper_first : lower_first).emplace(skeleton(sc.get(), upper), c);
        }
    std::vector<std::pair<UChar32, char>> out;
    icu::UnicodeString ignored;
    for (UChar32 c = 0x80; c < 0x20000; ++c) {
        if ((c >= 0x3400 && c < 0xA000) || (c >= 0xAC00 && c < 0xF900)) continue;
        if (!u_isalpha(c) || nfkc->getDecomposition(c, ignored)) continue;
        const auto& table = u_isupper(c) ? upper_first : lower_first;
        auto it = table.find(skeleton(sc.get(), c));
        if (it != table.end()) out.emplace_back(c, it->second);
    }
    add_latin_bases(out);
    std::sort(out.begin(), out.end());
    return out;
}

const IcuData& icu_data() {
    static const IcuData data = [] {
        IcuData d;
        UErrorCode err = U_ZERO_ERROR;
        d.nfkc = icu::Normalizer2::getNFKCInstance(err);
        if (U_FAILURE(err) || d.nfkc == nullptr) throw std::runtime_error("ICU: no NFKC data");
        d.lookalikes = build_lookalikes(d.nfkc);
        return d;
    }();
    return data;
}

bool ignorable(UChar32 c) {
    return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

void append_utf8(std::string& out, UChar32 c) {
    uint8_t buf[4];
    int32_t n = 0;
    U8_APPEND_UNSAFE(buf, n, c);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

int sentence_marks(const icu::UnicodeString& s) {
    int n = 0;
    for (int32_t i = 0; i < s.length(); ++i) {
        char16_t u = s.charAt(i);
        n += u == '.' || u == '!' || u == '?' || u == '\n';
    }
    return n;
}

// ---- the characters pass --------------------------------------------------------

class CharactersPass {
public:
    static constexpr std::size_t kMaxSegment = 32;

    // `overrides`: whether text inside a right-to-left override is read as
    // it is shown, reversed (words only; not inside one).
    CharactersPass(std::string_view s, bool words, std::string& out, OffsetMap& map,
                   bool overrides = true)
        : s_(s),
          words_(words),
          overrides_(words && overrides),
          icu_(icu_data()),
          out_(out),
          map_(map) {}

    void run() {
        const std::size_t n = s_.size();
        std::size_t i = 0;
        while (i < n) {
            if (static_cast<unsigned char>(s_[i]) < 0x80) {
                const std::size_t j = copy_ascii(i);
                map_.add(j - i, j - i, true);
                if (j > i) {
                    i = j;
                    continue;
                }
            }
            i = segment(i);
        }
    }

    const Scout& scout() const { return scout_; }

private:
    bool boundary_at(std::size_t i) const {
        CodePoint cp = decode_at(s_, i);
        return cp.c < 0 || icu_.nfkc->hasBoundaryBefore(cp.c);
    }

    // Copies the ASCII run from i (lower-cased, and shown to the scout, for
    // `words`) but for a last character that marks combine with; returns
    // where it ends.
    std::size_t copy_ascii(std::size_t i) {
        const std::size_t n = s_.size();
        std::size_t j = i;
        for (std::uint64_t w; j + 8 <= n; j += 8) {
            std::memcpy(&w, s_.data() + j, 8);
            if (w & 0x8080808080808080ull) break;
        }
        while (j < n && static_cast<unsigned char>(s_[j]) < 0x80) ++j;
        // The last ASCII character goes with the marks that follow it.
        if (j < n && !boundary_at(j)) --j;
        const std::size_t at = out_.size();
        out_.append(s_.data() + i, j - i);
        if (words_) scout_.lower_and_see(out_.data() + at, j - i);
        return j;
    }

    // One normalisation segment from i (a character with a boundary before
    // it and the marks that follow); returns where the next one starts.
    std::size_t segment(std::size_t i) {
        const std::size_t b = i;
        CodePoint first = decode_at(s_, i);
        if (first.c == kRightToLeftOverride && overrides_) return reversed_override(b);
        i += first.len;
        if (first.c < 0) {
            out_.append(s_.data() + b, first.len);
            map_.add(first.len, first.len, true);
            return i;
        }
        bool single = true;
        // At most kMaxSegment characters (UAX #15's stream-safe bound is 30
        // non-starters): ICU's canonical reordering of a segment is
        // quadratic in its marks, and "a" and 5 M marks would take hours.
        for (std::size_t count = 1; i < s_.size() && count < kMaxSegment; ++count) {
            CodePoint next = decode_at(s_, i);
            if (next.c < 0 || icu_.nfkc->hasBoundaryBefore(next.c)) break;
            i += next.len;
            single = false;
        }
        icu::UnicodeString ignored;
        if (single && !ignorable(first.c) && !icu_.nfkc->getDecomposition(first.c, ignored)) {
            const std::size_t before = out_.size();
            emit(first.c);
            map_.add(i - b, out_.size() - before, true);
            return i;
        }
        normalize_segment(b, i);
        return i;
    }

    void normalize_segment(std::size_t b, std::size_t e) {
        icu::UnicodeString in;
        for (std::size_t k = b; k < e;) {
            CodePoint cp = decode_at(s_, k);
            k += cp.len;
            if (!ignorable(cp.c)) in.append(cp.c);
        }
        UErrorCode err = U_ZERO_ERROR;
        icu::UnicodeString nf = icu_.nfkc->normalize(in, err);
        if (U_FAILURE(err) || (words_ && sentence_marks(nf) > sentence_marks(in))) nf = in;
        const std::size_t before = out_.size();
        for (int32_t k = 0; k < nf.length();) {
            UChar32 c = nf.char32At(k);
            k += U16_LENGTH(c);
            if (!ignorable(c)) emit(c);
        }
        map_.add(e - b, out_.size() - before, true);
    }

    void emit(UChar32 c) {
        if (!words_) {
            append_utf8(out_, c);
            return;
        }
        // Marks on a Latin letter that NFKC did not make one of our
        // languages' letters with ("g\u0331", "\u0435\u0323"): a reader
        // reads the letter.
        if (after_latin_ && u_charType(c) == U_NON_SPACING_MARK) return;
        char latin = lookalike(c);
        if (!latin) {
            c = u_foldCase(c, U_FOLD_CASE_DEFAULT);
            latin = lookalike(c);
        }
        if (latin) {
            out_.push_back(latin);
            scout_.see(kLetter);
            after_latin_ = true;
        } else {
            append_utf8(out_, c);
            const std::uint8_t bits = class_of(c);
            scout_.see(bits);
            after_latin_ = (bits & kLetter) != 0 && (c < 0x250 || latin_block(c));
        }
    }

    char lookalike(UChar32 c) const {
        if (c < 0x80) return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : 0;
        const auto& t = icu_.lookalikes;
        auto it = std::lower_bound(t.begin(), t.end(), c,
                                   [](const auto& entry, UChar32 v) { return entry.first < v; });
        return it != t.end() && it->first == c ? it->second : 0;
    }

    static constexpr UChar32 kRightToLeftOverride = 0x202E;

    // Where the override from b ends: after its PDF (U+202C) or the PDI
    // (U+2069) of an isolate around it, else at the end of the line.
    // Returns where its text ends and where the override does.
    std::pair<std::size_t, std::size_t> override_end(std::size_t b) const {
        for (std::size_t k = b + 3; k < s_.size(); ++k) {
            const char c = s_[k];
            if (c == '\n' || c == '\r') return {k, k};
            if (c == '\xE2' && k + 2 < s_.size()) {
                const std::string_view three = s_.substr(k, 3);
                if (three == "\u202C" || three == "\u2069") return {k, k + 3};
            }
        }
        return {s_.size(), s_.size()};
    }

    // Text inside a right-to-left override is shown reversed ("weiver"
    // reads "review"): it is normalised, then written reversed by
    // characters (a letter keeps its marks), as one piece of the map.  An
    // override inside it is only removed, so each byte is read once.
    std::size_t reversed_override(std::size_t b) {
        const auto [text_end, end] = override_end(b);
        std::string inner;
        OffsetMap inner_map;
        CharactersPass(s_.substr(b + 3, text_end - b - 3), true, inner, inner_map, false).run();
        std::vector<std::pair<std::size_t, std::size_t>> clusters;  // [begin, end) in inner
        for (std::size_t k = 0; k < inner.size();) {
            const CodePoint cp = decode_at(inner, k);
            const auto type = cp.c < 0 ? 0 : u_charType(cp.c);
            if (!clusters.empty() && (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
                                      type == U_COMBINING_SPACING_MARK))
                clusters.back().second = k + cp.len;
            else
                clusters.emplace_back(k, k + cp.len);
            k += cp.len;
        }
        const std::size_t before = out_.size();
        for (auto it = clusters.rbegin(); it != clusters.rend(); ++it)
            for (std::size_t k = it->first; k < it->second;) {
                const CodePoint cp = decode_at(inner, k);
                out_.append(inner, k, cp.len);
                scout_.see(class_of(cp.c));
                k += cp.len;
            }
        map_.add(end - b, out_.size() - before, false);
        after_latin_ = false;
        return end;
    }

    std::string_view s_;
    bool words_;
    bool overrides_;
    const IcuData& icu_;
    std::string& out_;
    OffsetMap& map_;
    Scout scout_;
    bool after_latin_ = false;  // the last character written is a Latin letter
};

}  // namespace

NormalizedText normalize_text(std::string_view source, Normalize how, Reading reading) {
    NormalizedText n;
    if (source.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max())) {
        n.text = std::string(source);
        return n;
    }
    const bool words = how == Normalize::words;
    std::string chars;
    chars.reserve(source.size());
    CharactersPass chars_pass(source, words, chars, n.characters);
    chars_pass.run();
    if (!words) {
        n.text = std::move(chars);
        return n;
    }
    const text::Scout& scout = chars_pass.scout();
    text::words_pass(std::move(chars), {scout.maybe_run(), scout.maybe_swap()}, reading, n);
    return n;
}

std::vector<Reading> other_readings(const NormalizedText& n) {
    std::vector<Reading> out;
    if (n.one_as_letter) out.push_back({'l', false});
    if (n.run_after_article) out.push_back({'i', true});
    if (n.one_as_letter && n.run_after_article) out.push_back({'l', true});
    return out;
}

}  // namespace mm::policy
