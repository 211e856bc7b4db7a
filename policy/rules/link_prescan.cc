#include "policy/rules/link_prescan.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "policy/html/html_tokenizer.h"
#include "policy/rules/link_attr.h"
#include "policy/rules/link_text.h"
#include "util/strings.h"

namespace mm::policy::link {
namespace {

// ---- the patterns ----------------------------------------------------------

// Attributes whose value is a URL (or holds URLs): kUrlAttrNames.
const RE2& attr_re() {
    static const RE2 re(
        R"((?is)[\s"'/](href|src|srcset|lowsrc|dynsrc|background|action|formaction|poster|cite|)"
        R"(longdesc|data|codebase|archive|classid|xlink:href|ping|manifest|icon|content|style))"
        R"(\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))");
    return re;
}
// URLs outside attributes: text that clients linkify, CSS, comments.  Group
// 1: a URL with a scheme or www.; group 2: a bare domain's host (its rest is
// found by bare_url_end).
const RE2& bare_re() {
    static const RE2 re(R"((?i)((?:https?|ftp):[^\s"'<>()]+|\bwww\.[^\s"'<>()]+)|)" +
                        std::string(kBareDomainRe));
    return re;
}
// An encoded ':' '.' or '/' hides a URL from every regex; let the tokenizer
// decode it.
const RE2& encoded_punct_re() {
    static const RE2 re(
        R"((?i)&(?:#0*(?:58|46|47|92)|#x0*(?:3a|2e|2f|5c)|colon|period|sol|bsol|dot)\b)");
    return re;
}
// An <a> start tag followed, past whitespace and comments, by an <img>: a
// superset of what the cut treats as a linked image.
const RE2& linked_img_re() {
    static const RE2 re(
        R"((?is)<a[\s/](?:"[^"]*"|'[^']*'|[^>"'])*>(?:\s|<!--.*?-->)*<(?:img|image)\b)");
    return re;
}

// ---- finding the matches without scanning every byte with RE2 -------------
//
// Each pass asks for the matches repeated unanchored searches would find
// (each search from the end of the last match).  An unanchored search
// returns the match that starts leftmost; so trying an anchored match at
// every position where a match can start, in order and from the end of the
// last match, finds the same matches.  The positions come from a byte scan
// for the one literal each pattern needs ('=' of an attribute, ':' or "www."
// of a bare URL, "url(" or '@' in CSS); an RE2 call per candidate costs far
// less than the unanchored DFA passes over the whole part it replaces.  The
// candidate sets may hold positions where nothing matches (RE2 decides),
// never miss one: with (?i), RE2 also folds U+017F to 's' and U+212A to 'k',
// so the byte windows below are wide enough for those spellings.  Built
// with -DMM_CHECK_PASS_MATCHES, every match is checked against the
// unanchored search (LinkPrescan.CandidateMatchesOnRandomLiterals then is a
// differential test).

enum class Pass { attr, bare, css };

// RE2's \s.
bool is_re_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_attr_separator(char c) {
    return is_re_space(c) || c == '"' || c == '\'' || c == '/';
}

// Calls f with each position of byte c in s, ascending (memchr: most bytes
// are none of them).
template <class F>
void each_byte(std::string_view s, char c, F&& f) {
    const char* end = s.data() + s.size();
    for (const char* p = s.data(); p < end;) {
        const void* hit = std::memchr(p, c, static_cast<std::size_t>(end - p));
        if (hit == nullptr) break;
        auto q = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
        f(q);
        p = s.data() + q + 1;
    }
}

// Where a name ending at `end` may start: the ASCII spelling of one of
// `names`, or, when the `window` bytes before `end` hold a non-ASCII byte
// (RE2 may fold it to a letter of a name), the window's start.
std::optional<std::size_t> names_end_at(std::string_view s, std::size_t end,
                                        std::span<const std::string_view> names,
                                        std::size_t window) {
    for (std::string_view name : names)
        if (end >= name.size() && iequals(s.substr(end - name.size(), name.size()), name))
            return end - name.size();
    std::size_t from = end >= window ? end - window : 0;
    for (std::size_t i = from; i < end; ++i)
        if (static_cast<unsigned char>(s[i]) >= 0x80) return from;
    return std::nullopt;
}

// [\s"'/](name)\s*= : back from each '=' over the spaces, then over the name
// (no separator in any name; at most 10 letters, 3 bytes each when folded)
// to the separator that starts the match.
void attr_starts(std::string_view s, std::vector<std::size_t>& out) {
    each_byte(s, '=', [&](std::size_t q) {
        std::size_t r = q;
        while (r > 0 && is_re_space(s[r - 1])) --r;
        std::size_t b = r;
        while (b > 0 && r - b <= 31 && !is_attr_separator(s[b - 1])) --b;
        if (b == 0 || b == r || r - b > 31 || !is_attr_separator(s[b - 1])) return;
        std::string_view name = s.substr(b, r - b);
        bool listed = std::any_of(std::begin(kUrlAttrNames), std::end(kUrlAttrNames),
                                  [&](std::string_view x) { return iequals(name, x); });
        if (listed || !is_ascii(name)) out.push_back(b - 1);
    });
}

void bare_starts(std::string_view s, std::vector<std::size_t>& out) {
    static constexpr std::string_view kSchemes[] = {"https", "http", "ftp"};
    static constexpr std::string_view kWww[] = {"www"};
    each_byte(s, ':', [&](std::size_t q) {
        // ftp: http: https: (or a folded spelling, up to six bytes)
        auto b = names_end_at(s, q, kSchemes, 6);
        if (!b) return;
        if (is_ascii(s.substr(*b, q - *b))) {
            out.push_back(*b);
        } else {
            for (std::size_t p = *b; p + 3 <= q; ++p) out.push_back(p);
        }
    });
    // "www." and "url(" have no folded spelling: a match starts three bytes
    // before the literal, and none can start before the input.
    each_byte(s, '.', [&](std::size_t q) {
        if (q >= 3 && names_end_at(s, q, kWww, 3)) out.push_back(q - 3);  // www.
    });
    // A bare domain: at the character before its host, or at the start of
    // the input, or at a non-ASCII character inside the host run (it may be
    // the non-letter the match begins with).  The host runs of different
    // '/', '?' and '#' do not overlap, so this reads each byte once.
    auto bare_domain = [&](std::size_t q) {
        const std::size_t b = bare_host_start(s, q);
        if (b == std::string_view::npos) return;
        // No match starts at a character kBareDomainRe's class excludes
        // ("https://host/": the '/' before the host).
        static constexpr std::string_view kNotBefore = "_.@/:%&=?#~+\\-";
        if (b == 0 || kNotBefore.find(s[b - 1]) == std::string_view::npos)
            out.push_back(b == 0 ? 0 : b - 1);
        for (std::size_t p = b; p < q; ++p)
            if (static_cast<unsigned char>(s[p]) >= 0xC0) out.push_back(p);
    };
    each_byte(s, '/', bare_domain);
    each_byte(s, '?', bare_domain);
    each_byte(s, '#', bare_domain);
}

void css_starts(std::string_view s, std::vector<std::size_t>& out) {
    static constexpr std::string_view kUrl[] = {"url"};
    // "url(" matches when a ')' follows it (anything up to the first ')' is
    // a URL), and an anchored match that fails reads to the end: without a
    // ')' after them, thousands of "url(" made the pass quadratic.
    const void* last_close = memrchr(s.data(), ')', s.size());
    const std::size_t close_at =
        last_close ? static_cast<std::size_t>(static_cast<const char*>(last_close) - s.data()) : 0;
    each_byte(s, '(', [&](std::size_t q) {
        if (q >= close_at) return;
        if (q >= 3 && names_end_at(s, q, kUrl, 3)) out.push_back(q - 3);  // url(
    });
    each_byte(s, '@', [&](std::size_t q) {
        if (istarts_with(s.substr(q + 1), "import")) out.push_back(q);  // @import
    });
}

// Ascending positions where a match of the pass's pattern can start.
std::vector<std::size_t> candidate_starts(std::string_view s, Pass pass) {
    std::vector<std::size_t> out;
    switch (pass) {
        case Pass::attr:
            attr_starts(s, out);
            break;
        case Pass::bare:
            bare_starts(s, out);
            break;
        case Pass::css:
            css_starts(s, out);
            break;
    }
    // Windows of neighbouring literals may overlap or come out of order.
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

// The pass's matches in order, as described above.
class PassMatches {
public:
    PassMatches(const RE2& re, std::string_view s, Pass pass)
        : re_(re), input_(s.data(), s.size()), starts_(candidate_starts(s, pass)) {}

    // The next match at or after `pos`, its groups in g[0..n).
    bool next(std::size_t pos, re2::StringPiece* g, int n) {
#ifdef MM_CHECK_PASS_MATCHES
        std::array<re2::StringPiece, 4> ref;
        bool want = re_.Match(input_, pos, input_.size(), RE2::UNANCHORED, ref.data(), n);
        bool got = next_(pos, g, n);
        if (want != got || (got && (ref[0].data() != g[0].data() || ref[0].size() != g[0].size())))
            std::abort();
        return got;
    }
    bool next_(std::size_t pos, re2::StringPiece* g, int n) {
#endif
        for (; i_ < starts_.size(); ++i_) {
            if (starts_[i_] < pos) continue;
            if (re_.Match(input_, starts_[i_], input_.size(), RE2::ANCHOR_START, g, n)) {
                ++i_;
                return true;
            }
        }
        return false;
    }

private:
    const RE2& re_;
    re2::StringPiece input_;
    std::vector<std::size_t> starts_;
    std::size_t i_ = 0;
};

// ---- the passes --------------------------------------------------------------

// The pre-scan stops at the first candidate that may not stay (the
// tokenizer is needed); the safety net stops there with the violation.
enum class Mode { prescan, net };

bool only_amp_entities(std::string_view v) {
    for (std::size_t p = v.find('&'); p != std::string_view::npos; p = v.find('&', p + 1))
        if (v.substr(p, 5) != "&amp;") return false;
    return true;
}

std::string replace_amp(std::string_view v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        out.push_back(v[i]);
        if (v[i] == '&') i += 4;
    }
    return out;
}

// An attribute value's source (quotes included) decoded, or nullopt when the
// pre-scan leaves its references to the tokenizer's decoder.  "&amp;" in
// query strings is in nearly every link, so the pre-scan decodes that one.
std::optional<std::string> attr_value(std::string_view raw, Mode mode) {
    if (raw.find('&') == std::string_view::npos) return std::string(unquote(raw));
    if (mode == Mode::net) return decode_attr(raw);
    if (only_amp_entities(raw)) return replace_amp(unquote(raw));
    return std::nullopt;
}

struct AttrMatch {
    std::string name;  // lower case
    std::string_view raw_value;
};

// The groups of an attr_re match, split out of the whole match by hand: one
// separator byte, the name (no space or '=' in any alternative), \s*=\s*,
// and the value, which starts with a non-space byte and runs to the end.
AttrMatch split_attr_match(std::string_view whole) {
    std::size_t k = 1;
    while (k < whole.size() && whole[k] != '=' && !is_re_space(whole[k])) ++k;
    std::string name = to_lower(whole.substr(1, k - 1));
    while (k < whole.size() && is_re_space(whole[k])) ++k;
    ++k;  // '='
    while (k < whole.size() && is_re_space(whole[k])) ++k;
    return {std::move(name), whole.substr(k)};
}

// Each pass returns true when the scan is decided: the tokenizer is needed
// (pre-scan) or `left` holds the first violation (net).
bool attr_pass(const Context& cx, std::string_view html, Mode mode,
               std::optional<Violation>& left) {
    // Only the whole match is asked of RE2 (its DFA alone finds it; groups
    // would cost a submatch search per attribute).
    re2::StringPiece m;
    std::size_t pos = 0;
    PassMatches matches(attr_re(), html, Pass::attr);
    while (pos < html.size() && matches.next(pos, &m, 1)) {
        pos = static_cast<std::size_t>(m.data() - html.data()) + m.size();
        AttrMatch a = split_attr_match(std::string_view(m.data(), m.size()));
        std::optional<std::string> value = attr_value(a.raw_value, mode);
        if (!value) return true;
        if (auto r = judge_attr(cx, a.name, *value)) {
            if (mode == Mode::net) left = std::move(*r);
            return true;
        }
    }
    return false;
}

// The last '<' and the last '>' before a position, for positions that only
// grow: each byte is looked at once (a search back from every URL made a
// part of many URLs quadratic).
class LastBrackets {
public:
    explicit LastBrackets(std::string_view s) : s_(s) {}

    void advance_to(std::size_t to) {
        if (to <= done_) return;
        const char* seg = s_.data() + done_;
        const std::size_t len = to - done_;
        if (const void* p = memrchr(seg, '<', len)) lt_ = done_ + offset(seg, p);
        if (const void* p = memrchr(seg, '>', len)) gt_ = done_ + offset(seg, p);
        done_ = to;
    }
    std::size_t lt() const { return lt_; }
    std::size_t gt() const { return gt_; }

private:
    static std::size_t offset(const char* from, const void* at) {
        return static_cast<std::size_t>(static_cast<const char*>(at) - from);
    }
    std::string_view s_;
    std::size_t done_ = 0;
    std::size_t lt_ = std::string_view::npos, gt_ = std::string_view::npos;
};

// Namespace URIs (xmlns, xmlns:v in Word's HTML) and the DOCTYPE's DTD
// address are identifiers no client fetches or shows; without this every
// Outlook message would fall to the safety net.
bool inert_context(std::string_view html, std::size_t at, LastBrackets& brackets) {
    static const RE2 xmlns(R"((?i)xmlns(?::[\w.-]+)?\s*=\s*["']?$)");
    std::size_t from = at > 64 ? at - 64 : 0;
    std::string_view before = html.substr(from, at - from);
    // The pattern needs "xmln" (no case fold of x, m, l or n is outside
    // ASCII): most windows have none, and then RE2 is not asked.
    bool maybe = false;
    for (std::size_t i = 0; i + 4 <= before.size() && !maybe; ++i)
        maybe = lower_char(before[i]) == 'x' && iequals(before.substr(i, 4), "xmln");
    if (maybe && RE2::PartialMatch(re2::StringPiece(before.data(), before.size()), xmlns))
        return true;
    brackets.advance_to(at);
    const std::size_t lt = brackets.lt(), gt = brackets.gt();
    return lt != std::string_view::npos && istarts_with(html.substr(lt), "<!doctype") &&
           (gt == std::string_view::npos || gt < lt);
}

// A CSS url() (an image) or @import (a link) of a css_url_re match.
std::pair<std::string, Use> css_url(const re2::StringPiece* g) {
    re2::StringPiece u = g[2].data() ? g[2] : g[3];
    return {std::string(unquote(std::string_view(u.data(), u.size()))),
            g[2].data() ? Use::image : Use::link};
}

// A bare_re match [at, at + len): where its URL starts in `html` and, for a
// bare domain, where its host ends (else npos).  Only the whole match is
// asked of RE2: a URL with a scheme or www. starts with a letter, and a bare
// domain after the character it begins with, which is no letter or digit;
// at the input's start either may, and there RE2 is asked again for groups.
std::pair<std::size_t, std::size_t> bare_match(std::string_view html, std::size_t at,
                                               std::size_t len) {
    constexpr auto npos = std::string_view::npos;
    auto c = static_cast<unsigned char>(html[at]);
    if (at == 0) {
        std::array<re2::StringPiece, 3> g;
        re2::StringPiece input(html.data(), html.size());
        bare_re().Match(input, 0, html.size(), RE2::ANCHOR_START, g.data(), 3);
        if (!g[2].data()) return {0, npos};
        const auto b = static_cast<std::size_t>(g[2].data() - html.data());
        return {b, b + g[2].size()};
    }
    if (c < 0x80 && html::is_ascii_alnum(static_cast<char>(c))) return {at, npos};
    std::size_t b = at + 1;  // past the (UTF-8) character the match begins with
    while (b < at + len && (static_cast<unsigned char>(html[b]) & 0xC0) == 0x80) ++b;
    return {b, at + len - 1};
}

// Bare URLs (Pass::bare) or CSS url() and @import (Pass::css).
bool url_pass(const Context& cx, std::string_view html, Pass pass, Mode mode,
              std::optional<Violation>& left) {
    const RE2& re = pass == Pass::bare ? bare_re() : css_url_re();
    std::array<re2::StringPiece, 4> g;
    std::size_t pos = 0;
    // The whole match is all bare_match needs: ask RE2 for that alone.
    const int groups = pass == Pass::bare ? 1 : static_cast<int>(g.size());
    PassMatches matches(re, html, pass);
    LastBrackets brackets(html);
    while (pos < html.size() && matches.next(pos, g.data(), groups)) {
        auto at = static_cast<std::size_t>(g[0].data() - html.data());
        pos = at + g[0].size();
        std::string url;
        Use use = Use::link;
        if (pass == Pass::css) {
            std::tie(url, use) = css_url(g.data());
        } else if (auto [b, host_e] = bare_match(html, at, g[0].size());
                   host_e == std::string_view::npos) {
            url.assign(html.substr(b, trim_url_end(html.substr(b, pos - b))));
            if (istarts_with(url, "www.")) url = "http://" + url;
        } else {
            // The text rule's stops: a bare domain is a link here when it is
            // one to the text rule (the host decides the judgement; the path
            // only whether there is a link).
            const std::size_t end = bare_url_end(cx, html, b, host_e, "\"<>", pos);
            if (end == std::string_view::npos) continue;
            url = "http://" + std::string(html.substr(b, end - b));
            at = b;
        }
        if (use == Use::link && inert_context(html, at, brackets)) continue;
        Judgement j = judge(cx, url, use);
        if (j.keep) continue;
        if (mode == Mode::net) left = Violation{normalize_url(url), std::move(j)};
        return true;
    }
    return false;
}

bool any_pass(const Context& cx, std::string_view html, Mode mode, std::optional<Violation>& left) {
    return attr_pass(cx, html, mode, left) || url_pass(cx, html, Pass::bare, mode, left) ||
           url_pass(cx, html, Pass::css, mode, left);
}

}  // namespace

bool needs_tokenizer(const Context& cx, std::string_view html) {
    std::optional<Violation> unused;
    if (any_pass(cx, html, Mode::prescan, unused)) return true;
    re2::StringPiece input(html.data(), html.size());
    if (RE2::PartialMatch(input, encoded_punct_re())) return true;
    // A logo in a link loses the link whatever its domain: any <img> next to
    // any href may be one; the cut decides.
    return cx.policy.unwrap_linked_images && RE2::PartialMatch(input, linked_img_re());
}

std::optional<Violation> first_violation(const Context& cx, std::string_view html) {
    std::optional<Violation> left;
    any_pass(cx, html, Mode::net, left);
    return left;
}

}  // namespace mm::policy::link
