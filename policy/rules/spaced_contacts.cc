#include "policy/rules/spaced_contacts.h"

#include <algorithm>
#include <cstddef>

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

}  // namespace mm::policy
