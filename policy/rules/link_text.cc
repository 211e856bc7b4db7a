#include "policy/rules/link_text.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <utility>

#include "policy/html/html_tokenizer.h"
#include "util/strings.h"

namespace mm::policy::link {

using html::find_any;
using html::is_ascii_alnum;

// Group 1: //host after a non-URL character; group 2: scheme://, www.,
// mailto:; group 3: a bare domain's host (kBareDomainRe).
const RE2& text_url_re() {
    static const RE2 re(
        R"((?i)(?:^|[^\w:/])(//[\w-]+\.[\w.-]+[^\s<>"]*)|((?:https?|ftp)://[^\s<>"]+|\bwww\.[^\s<>"]+|\bmailto:[^\s<>"]+)|)" +
        std::string(kBareDomainRe));
    return re;
}

namespace {

// Whether text_url_re can match: each of its alternatives holds "//"
// (//host, scheme://), "www.", "mailto:" (any case) or a dotted host before
// '/', '?' or '#'.  Most text runs and attribute values hold none of them,
// and a call into RE2 costs more than this loop.
bool may_hold_text_link(std::string_view text) {
    for (std::size_t i = find_any<'/', '.', ':', '?', '#'>(text); i != std::string_view::npos;) {
        char c = text[i];
        if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') return true;
        if (c == '.' && i >= 3 && iequals(text.substr(i - 3, 3), "www")) return true;
        if (c == ':' && i >= 6 && iequals(text.substr(i - 6, 6), "mailto")) return true;
        if ((c == '/' || c == '?' || c == '#') &&
            bare_host_start(text, i) != std::string_view::npos)
            return true;
        std::size_t next = find_any<'/', '.', ':', '?', '#'>(text.substr(i + 1));
        i = next == std::string_view::npos ? next : i + 1 + next;
    }
    return false;
}

// RE2's \s.
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_bare_host_byte(char c) {
    return is_ascii_alnum(c) || c == '-' || c == '.' || static_cast<unsigned char>(c) >= 0x80;
}

// A "www" label in `host`, at its start or after a dot: the host is linked
// from there whatever its suffix (the www. alternative of the finders).
std::size_t www_label(std::string_view host) {
    for (std::size_t p = 0; p + 4 <= host.size(); ++p)
        if ((p == 0 || host[p - 1] == '.') && iequals(host.substr(p, 4), "www.")) return p;
    return std::string_view::npos;
}

}  // namespace

// Where text_url_re's next match at or after `pos` may start at the
// earliest (npos: there is none), so that RE2 does not scan the prose
// between links.  Past its first character (any one), each alternative
// reaches a '/', '.' or ':' before any other of / . : ? # and with no white
// space before it ("//", "https:", "www.", "mailto:", "host."), and that
// byte is followed by one that is no white space.  So a match that starts
// before the first such byte holds it, and no white space stands between
// the match's first character and it.
std::size_t earliest_text_link(std::string_view text, std::size_t pos) {
    std::size_t lo = pos;  // no match starts before
    for (std::size_t from = pos; from < text.size();) {
        std::size_t i = find_any<'/', '.', ':', '?', '#'>(text.substr(from));
        if (i == std::string_view::npos) return i;
        i += from;
        const char c = text[i];
        if (c == '?' || c == '#' || i + 1 >= text.size() || is_space(text[i + 1])) {
            // Not where a match's first such byte can be; one may still
            // start on it (the first character of "//host" or a bare host).
            lo = i;
            from = i + 1;
            continue;
        }
        std::size_t q = i;
        while (q > lo && !is_space(text[q - 1])) --q;
        return q > lo ? q - 1 : lo;
    }
    return std::string_view::npos;
}

std::size_t scheme_link_end(std::string_view text, std::size_t from) {
    constexpr auto npos = std::string_view::npos;
    if (from >= text.size() || !is_space(text[from])) return npos;
    std::size_t b = from + 1;
    std::string_view rest = text.substr(b);
    std::size_t scheme = 0;
    if (istarts_with(rest, "https://"))
        scheme = 8;
    else if (istarts_with(rest, "http://"))
        scheme = 7;
    else if (istarts_with(rest, "ftp://"))
        scheme = 6;
    else
        return npos;
    std::size_t e = b + scheme;
    for (; e < text.size(); ++e) {
        const auto c = static_cast<unsigned char>(text[e]);
        if (c >= 0x80) return npos;  // RE2 decides what a UTF-8 sequence is
        if (is_space(static_cast<char>(c)) || c == '<' || c == '>' || c == '"') break;
    }
    return e == b + scheme ? npos : e;
}

std::size_t trim_url_end(std::string_view url) {
    // Bracket counts of url[0, n), taken once when the first closing bracket
    // is met and kept as n shrinks: counting again per byte made a URL
    // ending in a run of ')' quadratic.
    constexpr std::string_view kOpen = "([{", kClose = ")]}";
    std::size_t open[3] = {}, close[3] = {};
    bool counted = false;
    std::size_t n = url.size();
    while (n > 0) {
        char c = url[n - 1];
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
            c == '*') {
            --n;
            continue;
        }
        const std::size_t k = kClose.find(c);
        if (k == std::string_view::npos) break;
        if (!counted) {
            for (std::size_t i = 0; i < n; ++i) {
                if (std::size_t o = kOpen.find(url[i]); o != std::string_view::npos) ++open[o];
                if (std::size_t e = kClose.find(url[i]); e != std::string_view::npos) ++close[e];
            }
            counted = true;
        }
        if (open[k] >= close[k]) break;
        --close[k];
        --n;
    }
    return n;
}

std::size_t bare_host_start(std::string_view s, std::size_t q) {
    std::size_t j = q;  // where the host ends: before ":port", if there is one
    std::size_t d = q;
    while (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9') --d;
    if (d < q && d > 0 && s[d - 1] == ':') j = d - 1;
    std::size_t b = j;
    bool dot = false;
    while (b > 0 && is_bare_host_byte(s[b - 1])) dot = s[--b] == '.' || dot;
    if (b == j || !dot || s[j - 1] == '.') return std::string_view::npos;
    return b;
}

std::size_t bare_url_end(const Context& cx, std::string_view s, std::size_t host_b,
                         std::size_t host_e, std::string_view stops, std::size_t& resume) {
    std::string_view host = s.substr(host_b, host_e - host_b);
    if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos)
        host = host.substr(0, colon);
    resume = host_e + 1;
    const std::size_t www = www_label(host);
    if (www != 0 && !is_registrable_host(cx, host)) {
        if (www != std::string_view::npos) resume = host_b + www;
        return std::string_view::npos;
    }
    std::size_t e = host_e + 1;
    while (e < s.size() && !is_space(s[e]) && stops.find(s[e]) == std::string_view::npos) ++e;
    resume = e;
    const std::size_t end = host_b + trim_url_end(s.substr(host_b, e - host_b));
    if (end <= host_e || (end == host_e + 1 && s[host_e] != '/')) return std::string_view::npos;
    return end;
}

namespace {

// Which alternative of text_url_re a match is, and its group's span, from the
// whole match alone: RE2 finds that with its DFA, and asking for the groups
// cost three times as much (the Unicode classes of the bare-domain
// alternative).  A URL with a scheme, www. or mailto: starts with a letter;
// the other two after the one character they begin with (no letter or digit:
// "//host" after it is scheme-relative, else a bare domain's host, which
// ends before the match's last byte).  At the start of the text either may
// start with a letter, and RE2 is asked for the groups there.
struct TextMatch {
    int group;  // 1, 2 or 3, as in text_url_re
    std::size_t b, e;
};

TextMatch text_match(std::string_view text, std::size_t at, std::size_t len) {
    if (at == 0) {
        std::array<re2::StringPiece, 4> g;
        text_url_re().Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                            RE2::ANCHOR_START, g.data(), static_cast<int>(g.size()));
        for (int k = 1; k <= 3; ++k) {
            if (!g[k].data()) continue;
            const auto b = static_cast<std::size_t>(g[k].data() - text.data());
            return {k, b, b + g[k].size()};
        }
    }
    const auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80 && is_ascii_alnum(static_cast<char>(c))) return {2, at, at + len};
    std::size_t b = at + 1;  // past the (UTF-8) character the match begins with
    while (b < at + len && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) ++b;
    if (text.substr(b, 2) == "//") return {1, b, at + len};
    return {3, b, at + len - 1};
}

}  // namespace

std::vector<TextHit> find_text_links(const Context& cx, std::string_view text) {
    std::vector<TextHit> hits;
    if (!may_hold_text_link(text)) return hits;
    const RE2& re = text_url_re();
    re2::StringPiece input(text.data(), text.size());
    re2::StringPiece whole;
    std::string last_judged;
    Judgement last;
    bool have_last = false;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t from = earliest_text_link(text, pos);
        if (from == std::string_view::npos) break;
        std::size_t at = from + 1, len = 0;
        if (const std::size_t e = scheme_link_end(text, from); e != std::string_view::npos) {
            len = e - at;
        } else {
            if (!re.Match(input, from, text.size(), RE2::UNANCHORED, &whole, 1)) break;
            at = static_cast<std::size_t>(whole.data() - text.data());
            len = whole.size();
        }
        const TextMatch m = text_match(text, at, len);
        std::string judged;
        std::size_t begin = m.b;
        std::string_view url;
        if (m.group == 3) {
            std::size_t end = bare_url_end(cx, text, m.b, m.e, "<>\"", pos);
            if (end == std::string_view::npos) continue;
            url = text.substr(begin, end - begin);
            judged = "http://" + std::string(url);
        } else {
            url = text.substr(m.b, trim_url_end(text.substr(m.b, m.e - m.b)));
            pos = std::max(m.e, at + 1);
            if (url.empty()) continue;
            judged = url;
            if (istarts_with(url, "www.")) judged = "http://" + judged;
        }
        // A text repeats its link (a tracking link per paragraph): the
        // judgement of the same URL as the one before is that one's.
        if (judged != last_judged || !have_last) {
            last = judge(cx, judged, Use::link);
            last_judged = judged;
            have_last = true;
        }
        if (!last.keep) hits.push_back({begin, begin + url.size(), std::string(url), last});
    }
    return hits;
}

LinkScan scan_text(const Context& cx, std::string_view text, std::string_view marker,
                   Unchanged unchanged) {
    LinkScan out;
    std::vector<TextHit> hits = find_text_links(cx, text);
    if (hits.empty() && unchanged == Unchanged::leave_empty) return out;
    std::size_t last = 0;
    for (TextHit& h : hits) {
        out.text.append(text.substr(last, h.begin - last));
        out.text.append(marker);
        out.bytes_cut += h.end - h.begin;
        out.bytes_inserted += marker.size();
        out.note({std::move(h.url), std::move(h.j.domain), std::move(h.j.reason)});
        last = h.end;
    }
    out.text.append(text.substr(last));
    return out;
}

}  // namespace mm::policy::link
