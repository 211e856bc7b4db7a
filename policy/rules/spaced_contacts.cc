#include "policy/rules/spaced_contacts.h"

#include <libpsl.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstddef>

#include "policy/rules/public_suffixes.h"
#include "util/byte_scan.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

constexpr std::array<bool, 256> kSpace = [] {
    std::array<bool, 256> t{};
    for (unsigned char c : {' ', '\t', '\n', '\r', '\f', '\v'}) t[c] = true;
    return t;
}();

bool is_space(char c) {
    return kSpace[static_cast<unsigned char>(c)];
}

// Bytes of the UTF-8 character at t[i]; a stray byte counts as one.
std::size_t char_len(std::string_view t, std::size_t i) {
    const auto c = static_cast<unsigned char>(t[i]);
    const std::size_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return std::min(n, t.size() - i);
}

struct Word {
    std::size_t b, e;
};

bool single(std::string_view t, Word w) {
    return char_len(t, w.b) == w.e - w.b;
}

// Whether the blanks between two words split an address: "@" or "."
// alone, "john@ mail.com", "john @mail.com".
bool splits_an_address(std::string_view t, Word prev, Word cur) {
    const std::string_view p = t.substr(prev.b, prev.e - prev.b);
    const std::string_view c = t.substr(cur.b, cur.e - cur.b);
    return p.back() == '@' || c.front() == '@' || p == "." || c == ".";
}

// A chain worth reading again: it holds an '@' or two digits standing
// alone (an address or a number spread out); "a I", "S M L" and a URL
// before a lone "." are left as they are.
bool may_hold_a_contact(std::string_view chain) {
    if (chain.find('@') != std::string_view::npos) return true;
    int digits = 0;
    for (std::size_t i = 0; i < chain.size(); ++i)
        digits += chain[i] >= '0' && chain[i] <= '9' && (i == 0 || is_space(chain[i - 1])) &&
                  (i + 1 == chain.size() || is_space(chain[i + 1]));
    return digits >= 2;
}

bool closable(std::string_view t, std::size_t b, std::size_t e) {
    if (e - b > 3) return false;
    for (std::size_t k = b; k < e; ++k)
        if (t[k] != ' ' && t[k] != '\t') return false;
    return true;
}

// Whether `t` may hold a contact spread out at all: an '@', or two digits
// standing alone.  Prose has neither and is not split into words here.
bool may_spread_a_contact(std::string_view t) {
    if (t.find('@') != std::string_view::npos) return true;
    int lone = 0;
    // Candidates: a digit after a blank, or at the start (read as after 0).
    auto candidates = [](const bytes::Window& w) {
        return bytes::in_range(w.cur, '0', '9') & (bytes::in_range(w.prev, '\t', '\r') |
                                                   bytes::eq(w.prev, ' ') | bytes::eq(w.prev, 0));
    };
    return bytes::scan_bytes(t, candidates, [&](std::size_t i) {
        return (i == 0 || is_space(t[i - 1])) && (i + 1 == t.size() || is_space(t[i + 1])) &&
               ++lone == 2;
    });
}

}  // namespace

std::optional<ClosedText> close_spaced_contacts(std::string_view t) {
    std::optional<ClosedText> out;
    if (!may_spread_a_contact(t)) return out;
    std::size_t copied = 0;                      // t[0, copied) is in `out`
    std::size_t chain = std::string_view::npos;  // where the chain being joined began
    Word prev{0, 0};
    bool have_prev = false;
    // The chain's words without their blanks, one replaced piece.
    auto end_chain = [&] {
        const std::size_t b = chain;
        chain = std::string_view::npos;
        if (b == std::string_view::npos || !may_hold_a_contact(t.substr(b, prev.e - b))) return;
        if (!out) {
            out.emplace();
            out->text.reserve(t.size());
        }
        out->text.append(t.substr(copied, b - copied));
        out->map.add(b - copied, b - copied, true);
        const std::size_t before = out->text.size();
        for (std::size_t k = b; k < prev.e; ++k)
            if (t[k] != ' ' && t[k] != '\t') out->text.push_back(t[k]);
        out->map.add(prev.e - b, out->text.size() - before, false);
        copied = prev.e;
    };
    for (std::size_t i = 0; i < t.size();) {
        const std::size_t gap = i;
        while (i < t.size() && is_space(t[i])) ++i;
        if (i == t.size()) break;
        const std::size_t b = i;
        while (i < t.size() && !is_space(t[i])) ++i;
        const Word cur{b, i};
        const bool join = have_prev && closable(t, gap, cur.b) &&
                          ((single(t, prev) && single(t, cur)) || splits_an_address(t, prev, cur));
        if (join && chain == std::string_view::npos)
            chain = prev.b;
        else if (!join)
            end_chain();
        prev = cur;
        have_prev = true;
    }
    end_chain();
    if (!out) return out;
    out->text.append(t.substr(copied));
    out->map.add(t.size() - copied, t.size() - copied, true);
    return out;
}

bool ends_in_public_suffix(std::string_view domain) {
    const std::size_t dot = domain.rfind('.');
    const std::string last = to_lower(domain.substr(dot == std::string_view::npos ? 0 : dot + 1));
    return psl_is_public_suffix2(public_suffixes(), last.c_str(),
                                 PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

namespace {

// The words for "at" and "dot", bracketed, or standing alone between blanks.
constexpr std::string_view kAt = "at|@|arobase|arroba|chiocciola|klammeraffe";
constexpr std::string_view kDot = "dot|punkt|point|punto";

// kAt's and kDot's words, for the scan that decides whether to search.
constexpr std::array<std::string_view, 10> kWords = {
    "at", "@", "arobase", "arroba", "chiocciola", "klammeraffe", "dot", "punkt", "point", "punto"};
constexpr std::size_t kFirstDot = 6;  // kWords[kFirstDot...]: the words for "dot"

// Whether one of kWords[from...] starts at t[i].
bool starts_with_word(std::string_view t, std::size_t i, std::size_t from) {
    const char c = t[i] >= 'A' && t[i] <= 'Z' ? static_cast<char>(t[i] | 0x20) : t[i];
    // Most bytes start none of them, or go on unlike them (a tag's name
    // after '<', above all): their first two letters tell.
    if (c != 'a' && c != '@' && c != 'c' && c != 'k' && c != 'd' && c != 'p') return false;
    if (c != '@') {
        const char n = i + 1 < t.size() ? lower_char(t[i + 1]) : '\0';
        if (n != 't' && n != 'r' && n != 'h' && n != 'l' && n != 'o' && n != 'u') return false;
    }
    for (std::size_t w = from; w < kWords.size(); ++w)
        if (kWords[w][0] == c && t.size() - i >= kWords[w].size() &&
            iequals(t.substr(i, kWords[w].size()), kWords[w]))
            return true;
    return false;
}

// Whether `t` may spell out an address: a bracket before a word for "at"
// or "dot" (or "@", "."), or a word for "dot" after a blank.  Most texts
// have neither, and are passed over without the full pattern.
bool may_spell_an_address(std::string_view t) {
    // Candidates: a bracket before a blank, '.' or a byte a word starts
    // with, and d or p after a blank (folded: the switch below tells them
    // apart from the other bytes that fold alike).
    auto candidates = [](const bytes::Window& w) {
        const bytes::Block f = bytes::folded(w.cur), n = bytes::folded(w.next);
        const bytes::Block bracket = bytes::eq(f, '(') | bytes::eq(f, '{') | bytes::eq(f, '<');
        const bytes::Block starts = bytes::eq(n, ' ') | bytes::eq(n, ')') | bytes::eq(n, '.') |
                                    bytes::eq(n, '`') | bytes::eq(n, 'a') | bytes::eq(n, 'c') |
                                    bytes::eq(n, 'k') | bytes::eq(n, 'd') | bytes::eq(n, 'p');
        const bytes::Block blank_before =
            bytes::in_range(w.prev, '\t', '\r') | bytes::eq(w.prev, ' ');
        return (bracket & starts) | ((bytes::eq(f, 'd') | bytes::eq(f, 'p')) & blank_before);
    };
    return bytes::scan_bytes(t, candidates, [t](std::size_t i) {
        if (i + 1 >= t.size()) return false;
        switch (t[i]) {
            case '(':
            case '[':
            case '{':
            case '<': {
                std::size_t k = i + 1;
                while (k < t.size() && k < i + 3 && (t[k] == ' ' || t[k] == '\t')) ++k;
                return k < t.size() && (t[k] == '.' || starts_with_word(t, k, 0));
            }
            case 'd':
            case 'D':
            case 'p':
            case 'P':
                return i > 0 && is_space(t[i - 1]) && starts_with_word(t, i, kFirstDot);
            default:
                return false;
        }
    });
}

const RE2& spelled_address_re() {
    static const RE2 re([] {
        const std::string at = "(\\s*[\\[({<]\\s*(?:" + std::string(kAt) +
                               ")\\s*[\\])}>]\\s*|\\s*@\\s*|\\s+(?:" + std::string(kAt) + ")\\s+)";
        const std::string dot = "(?:\\s*[\\[({<]\\s*(?:" + std::string(kDot) +
                                "|\\.)\\s*[\\])}>]\\s*|\\s+(?:" + std::string(kDot) + ")\\s+|\\.)";
        const std::string label = "[\\p{L}\\p{N}\\-]+";
        return "(?i)[\\p{L}\\p{N}._%+\\-]+" + at + "(" + label + "(?:" + dot + label + ")+)";
    }());
    return re;
}

const RE2& dot_re() {
    static const RE2 re("(?i)\\s*[\\[({<]\\s*(?:" + std::string(kDot) +
                        "|\\.)\\s*[\\])}>]\\s*|\\s+(?:" + std::string(kDot) + ")\\s+");
    return re;
}

}  // namespace

std::vector<SpelledAddress> spelled_out_addresses(std::string_view t) {
    std::vector<SpelledAddress> out;
    const re2::StringPiece input(t.data(), t.size());
    if (!may_spell_an_address(t)) return out;
    re2::StringPiece m[3];
    for (std::size_t pos = 0; pos < t.size() && spelled_address_re().Match(
                                                    input, pos, t.size(), RE2::UNANCHORED, m, 3);) {
        const auto begin = static_cast<std::size_t>(m[0].data() - t.data());
        const std::size_t end = begin + m[0].size();
        pos = end;
        std::string domain(m[2].data(), m[2].size());
        const bool spelled_dot = RE2::GlobalReplace(&domain, dot_re(), ".") > 0;
        const std::string_view at(m[1].data(), m[1].size());
        const bool bare_at = at.find_first_of("[({<@") == std::string_view::npos;
        if ((bare_at && !spelled_dot) || !ends_in_public_suffix(domain)) continue;
        out.push_back({begin, end, to_lower(domain)});
    }
    return out;
}

}  // namespace mm::policy
