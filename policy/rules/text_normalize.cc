#include "policy/rules/text_normalize.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
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

namespace mm::policy {

std::pair<std::size_t, std::size_t> NormalizedText::source_span(std::size_t b,
                                                                std::size_t e) const {
    auto [wb, we] = words.source(b, e);
    return characters.source(wb, we);
}

namespace {

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

// The code point at s[i] and its length; c < 0 for bytes that are not UTF-8
// (then `len` covers them, and they are kept as they are).
struct CodePoint {
    UChar32 c;
    std::size_t len;
};

CodePoint decode_at(std::string_view s, std::size_t i) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    auto at = static_cast<int32_t>(i);
    const auto n = static_cast<int32_t>(s.size());
    UChar32 c;
    U8_NEXT(p, at, n, c);
    return {c, static_cast<std::size_t>(at) - i};
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

enum : std::uint8_t { kLetter = 1, kDigit = 2, kSwappable = 4, kSpace = 8 };

constexpr std::array<std::uint8_t, 128> kAscii = [] {
    std::array<std::uint8_t, 128> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = kLetter;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = kLetter;
    for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
    for (char c : std::string_view("013457@")) t[static_cast<unsigned char>(c)] |= kSwappable;
    t[' '] = kSpace;
    return t;
}();

bool swappable(char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (kAscii[u] & kSwappable) != 0;
}

struct CharClass {
    std::uint8_t bits;
    std::size_t len;
};

inline CharClass class_at(std::string_view s, std::size_t i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x80) return {kAscii[u], 1};
    CodePoint cp = decode_at(s, i);
    if (cp.c < 0) return {0, cp.len};
    return {static_cast<std::uint8_t>(u_isalpha(cp.c)   ? kLetter
                                      : u_isalnum(cp.c) ? kDigit
                                                        : 0),
            cp.len};
}

constexpr bool is_word(std::uint8_t bits) {
    return (bits & (kLetter | kDigit)) != 0;
}
constexpr bool is_member(std::uint8_t bits) {
    return (bits & (kLetter | kSwappable)) != 0;
}

// ASCII upper case to lower case, eight bytes at a time: no byte is 0x80 or
// more, so the sums that mark 'A'-'Z' cannot carry into the next byte.
void lower_ascii(char* p, std::size_t len) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    std::size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + k, 8);
        const std::uint64_t upper = (w + ones * (0x80 - 'A')) & ~(w + ones * (0x7F - 'Z')) & high;
        if (upper == 0) continue;
        w |= upper >> 2;
        std::memcpy(p + k, &w, 8);
    }
    for (; k < len; ++k)
        if (p[k] >= 'A' && p[k] <= 'Z') p[k] = static_cast<char>(p[k] + 32);
}

// What the words pass would find to do, noted as the characters pass writes
// each character: two single characters a space apart (where a spaced word
// may start), digits or '@' between two letters.  Most texts have neither
// and skip that pass.
class Scout {
public:
    // A character written, by its classes.
    void see(std::uint8_t bits) { step(bits, last_, in_swap_, maybe_run_, maybe_swap_); }

    // Lower-cases an ASCII run in place and sees it.  Only a space (a run
    // may end there) and a digit or '@' after a letter can change what the
    // scout says, so past the first four characters, where see() is exact,
    // the others are skipped and the pattern checked on the bytes themselves.
    void lower_and_see(char* p, std::size_t len) {
        lower_ascii(p, len);
        std::size_t k = 0;
        for (; k < len && (k < 4 || in_swap_); ++k) see(kAscii[static_cast<unsigned char>(p[k])]);
        if (k == len) return;
        const auto cls = [p](std::size_t i) { return kAscii[static_cast<unsigned char>(p[i])]; };
        bool in_swap = false;
        for (std::size_t looked = k; k < len; ++k) {
            if (k >= looked && k + 8 <= len) {
                looked = k + 8;
                if (!may_matter(p + k)) {
                    k += 7;
                    continue;
                }
            }
            const std::uint8_t bits = cls(k);
            if (bits == kSpace) {
                // non-word, member, space, member, space
                maybe_run_ = maybe_run_ || (is_member(cls(k - 1)) && cls(k - 2) == kSpace &&
                                            is_member(cls(k - 3)) && !is_word(cls(k - 4)));
            } else if ((bits & kSwappable) && (cls(k - 1) & kLetter)) {
                std::size_t e = k + 1;
                while (e < len && (cls(e) & kSwappable)) ++e;
                if (e == len) {
                    in_swap = true;
                    k = e;
                    break;
                }
                maybe_swap_ = maybe_swap_ || (cls(e) & kLetter) != 0;
                k = e - 1;
            }
        }
        last_ = static_cast<std::uint16_t>(cls(len - 4) << 12 | cls(len - 3) << 8 |
                                           cls(len - 2) << 4 | cls(len - 1));
        in_swap_ = in_swap;
    }

    // Whether one of the eight bytes from p (p[-2] readable) may change what
    // the scout says: a space two after a space, a digit or '@'.
    static bool may_matter(const char* p) {
        constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
        std::uint64_t w, before;
        std::memcpy(&w, p, 8);
        std::memcpy(&before, p - 2, 8);
        const auto has = [](std::uint64_t v, char c) {
            const std::uint64_t x = v ^ (ones * static_cast<unsigned char>(c));
            return (x - ones) & ~x & high;
        };
        // The bytes are ASCII: the sums cannot carry into the next byte.
        const std::uint64_t digit =
            (w + ones * (0x80 - '0')) & ~(w + ones * (0x80 - '9' - 1)) & high;
        return ((has(w, ' ') & has(before, ' ')) | digit | has(w, '@')) != 0;
    }

    bool maybe_run() const { return maybe_run_; }
    bool maybe_swap() const { return maybe_swap_; }

private:
    static void step(std::uint8_t bits, std::uint16_t& last, bool& in_swap, bool& run, bool& swap) {
        const auto gone = static_cast<std::uint8_t>(last >> 12);
        last = static_cast<std::uint16_t>(last << 4 | bits);
        // non-word, member, space, member, space
        if (bits == kSpace && is_member(last >> 4 & 0xF) && (last >> 8 & 0xF) == kSpace &&
            is_member(last >> 12 & 0xF) && !is_word(gone))
            run = true;
        if (bits & kSwappable) {
            in_swap = in_swap || (last >> 4 & kLetter) != 0;
        } else {
            swap = swap || (in_swap && (bits & kLetter) != 0);
            in_swap = false;
        }
    }

    std::uint16_t last_ = 0;  // the last four characters' classes, 4 bits each
    bool in_swap_ = false;    // in digits or '@' that follow a letter
    bool maybe_run_ = false, maybe_swap_ = false;
};

// ---- the characters pass --------------------------------------------------------

class CharactersPass {
public:
    static constexpr std::size_t kMaxSegment = 32;

    CharactersPass(std::string_view s, bool words, std::string& out, OffsetMap& map)
        : s_(s), words_(words), icu_(icu_data()), out_(out), map_(map) {}

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
        char latin = lookalike(c);
        if (!latin) {
            c = u_foldCase(c, U_FOLD_CASE_DEFAULT);
            latin = lookalike(c);
        }
        if (latin) {
            out_.push_back(latin);
            scout_.see(kLetter);
        } else {
            append_utf8(out_, c);
            scout_.see(c < 0x80 ? kAscii[c] : u_isalpha(c) ? kLetter : u_isalnum(c) ? kDigit : 0);
        }
    }

    char lookalike(UChar32 c) const {
        if (c < 0x80) return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : 0;
        const auto& t = icu_.lookalikes;
        auto it = std::lower_bound(t.begin(), t.end(), c,
                                   [](const auto& entry, UChar32 v) { return entry.first < v; });
        return it != t.end() && it->first == c ? it->second : 0;
    }

    std::string_view s_;
    bool words_;
    const IcuData& icu_;
    std::string& out_;
    OffsetMap& map_;
    Scout scout_;
};

// ---- the words pass -------------------------------------------------------------

bool letter_at(std::string_view s, std::size_t i) {
    return i < s.size() && (class_at(s, i).bits & kLetter) != 0;
}

// A one-letter word of our languages that may stand before a spaced word.
bool is_article(std::string_view s, std::size_t i) {
    switch (decode_at(s, i).c) {
        case 'a':
        case 'e':
        case 'i':
        case 'o':
        case 'u':
        case 'y':
        case 0xE0:  // à
        case 0xE8:  // è
            return true;
        default:
            return false;
    }
}

// A letter-spaced word: where its members (single characters) start.
using Run = std::vector<std::size_t>;

class RunFinder {
public:
    explicit RunFinder(std::string_view t) : t_(t) {}

    std::vector<Run> find() const {
        std::vector<Run> runs;
        bool prev_word = false;
        for (std::size_t i = 0; i < t_.size();) {
            const CharClass k = class_at(t_, i);
            if (is_member(k.bits) && !prev_word) {
                Run run = run_at(i);
                if (!run.empty()) {
                    i = end_of(run.back());
                    runs.push_back(std::move(run));
                    prev_word = true;
                    continue;
                }
            }
            prev_word = is_word(k.bits);
            i += k.len;
        }
        return runs;
    }

    std::size_t end_of(std::size_t member) const { return member + single_at(member); }

    // Whether members [from, ...) are a spaced word: at least three letters,
    // and more letters than digits (so "3 x 4" stays apart).
    bool spaced_word(const Run& run, std::size_t from) const {
        int letters = 0, others = 0;
        for (std::size_t k = from; k < run.size(); ++k)
            ++(swappable(t_[run[k]]) ? others : letters);
        return letters >= 3 && others < letters;
    }

private:
    // The length of a character standing alone at i (nothing word-like
    // after it), or 0.
    std::size_t single_at(std::size_t i) const {
        if (i >= t_.size()) return 0;
        const CharClass k = class_at(t_, i);
        if (!is_member(k.bits)) return 0;
        if (i + k.len < t_.size() && is_word(class_at(t_, i + k.len).bits)) return 0;
        return k.len;
    }

    Run run_at(std::size_t i) const {
        Run run;
        std::size_t len = single_at(i);
        while (len != 0) {
            run.push_back(i);
            i += len;
            if (i >= t_.size() || t_[i] != ' ') break;
            len = single_at(++i);
        }
        if (!spaced_word(run, 0)) run.clear();
        return run;
    }

    std::string_view t_;
};

// Writes `t` with its runs joined: a run without its spaces (after its first
// member when that is read as a word of its own), the spaces between two
// runs as one.  Returns whether a run began with a one-letter word.
bool join_runs(std::string_view t, const RunFinder& finder, const std::vector<Run>& runs,
               bool article_apart, std::string& out, OffsetMap& map) {
    bool article = false;
    std::size_t from = 0;
    auto copy = [&](std::size_t b, std::size_t e) {
        out.append(t.data() + b, e - b);
        map.add(e - b, e - b, true);
    };
    for (std::size_t r = 0; r < runs.size(); ++r) {
        const Run& run = runs[r];
        const bool apart = run.size() >= 4 && is_article(t, run[0]) && finder.spaced_word(run, 1);
        article = article || apart;
        copy(from, run[0]);
        std::size_t k = 0;
        if (apart) {  // the one-letter word keeps its own place, read apart or not
            const std::size_t end = finder.end_of(run[0]);
            copy(run[0], end);
            if (article_apart)
                copy(end, run[1]);
            else
                map.add(run[1] - end, 0, false);
            k = 1;
        }
        // The joined letters are one piece of the map, not two a letter: a
        // word inside them maps to all of them, and ten megabytes of "a a a"
        // cost the map one entry.
        const std::size_t joined_from = run[k];
        std::size_t joined = 0;
        for (; k < run.size(); ++k) {
            const std::size_t end = finder.end_of(run[k]);
            out.append(t.data() + run[k], end - run[k]);
            joined += end - run[k];
            from = end;
        }
        map.add(from - joined_from, joined, false);
        if (r + 1 < runs.size()) {
            const std::size_t next = runs[r + 1][0];
            const std::string_view gap = t.substr(from, next - from);
            if (gap.size() >= 2 && gap.find_first_not_of(' ') == std::string_view::npos) {
                out.push_back(' ');
                map.add(gap.size(), 1, false);
                from = next;
            }
        }
    }
    copy(from, t.size());
    return article;
}

// An address's '@' stays: "paypal@shop.example" is not "paypalashop".
bool starts_a_domain(std::string_view s, std::size_t i) {
    for (; i + 1 < s.size(); ++i) {
        char c = s[i];
        if (c == '.') return letter_at(s, i + 1);
        if (!is_word(class_at(s, i).bits) && c != '-') return false;
    }
    return false;
}

bool letter_before(std::string_view s, std::size_t i) {
    if (i == 0) return false;
    std::size_t b = i - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    return letter_at(s, b);
}

// Digits (and '@') between two letters as the letters they stand for, in
// place; true if a '1' was one of them.
bool swap_digits(std::string& s, char one) {
    bool ones = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!swappable(s[i])) continue;
        std::size_t e = i + 1;
        while (e < s.size() && swappable(s[e])) ++e;
        const auto run = std::string_view(s).substr(i, e - i);
        if (letter_before(s, i) && letter_at(s, e) &&
            !(run.find('@') != std::string_view::npos && starts_a_domain(s, e))) {
            for (std::size_t k = i; k < e; ++k) {
                static constexpr std::string_view from = "013457@", to = "oieasta";
                ones = ones || s[k] == '1';
                s[k] = s[k] == '1' ? one : to[from.find(s[k])];
            }
        }
        i = e;
    }
    return ones;
}

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
    const RunFinder finder(chars);
    const std::vector<Run> runs =
        chars_pass.scout().maybe_run() ? finder.find() : std::vector<Run>{};
    if (runs.empty()) {
        n.text = std::move(chars);
    } else {
        n.text.reserve(chars.size());
        n.run_after_article =
            join_runs(chars, finder, runs, reading.article_apart, n.text, n.words);
    }
    // A run joined puts letters next to digits the scout saw apart.
    if (!chars_pass.scout().maybe_swap() && runs.empty()) return n;
    n.one_as_letter = swap_digits(n.text, reading.one);
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
