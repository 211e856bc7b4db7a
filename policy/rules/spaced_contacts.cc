#include "policy/rules/spaced_contacts.h"

#include <libpsl.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstddef>

#include "policy/rules/public_suffixes.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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

bool closable(std::string_view t, std::size_t b, std::size_t e) {
    if (e - b > 3) return false;
    for (std::size_t k = b; k < e; ++k)
        if (t[k] != ' ' && t[k] != '\t') return false;
    return true;
}

}  // namespace

std::optional<ClosedText> close_spaced_contacts(std::string_view t) {
    std::optional<ClosedText> out;
    std::size_t copied = 0;                      // t[0, copied) is in `out`
    std::size_t chain = std::string_view::npos;  // where the chain being joined began
    Word prev{0, 0};
    bool have_prev = false;
    auto end_chain = [&] {
        if (chain == std::string_view::npos) return;
        // The chain's words without their blanks, one replaced piece.
        const std::size_t before = out->text.size();
        for (std::size_t k = chain; k < prev.e; ++k)
            if (t[k] != ' ' && t[k] != '\t') out->text.push_back(t[k]);
        out->map.add(prev.e - chain, out->text.size() - before, false);
        copied = prev.e;
        chain = std::string_view::npos;
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
        if (join && chain == std::string_view::npos) {
            if (!out) {
                out.emplace();
                out->text.reserve(t.size());
            }
            out->text.append(t.substr(copied, prev.b - copied));
            out->map.add(prev.b - copied, prev.b - copied, true);
            chain = prev.b;
        } else if (!join) {
            end_chain();
        }
        prev = cur;
        have_prev = true;
    }
    if (!out) return out;
    end_chain();
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

// Most texts have no bracketed "at" or "dot" and no spelled-out dot word.
const RE2& spelled_hint_re() {
    static const RE2 re("(?i)[\\[({<]\\s*(?:" + std::string(kAt) + "|" + std::string(kDot) +
                        "|\\.)\\s*[\\])}>]|\\s(?:" + std::string(kDot) + ")\\s");
    return re;
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
    if (!RE2::PartialMatch(input, spelled_hint_re())) return out;
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
