#include "policy/rules/link_text.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <utility>

#include "policy/html/html_tokenizer.h"
#include "util/strings.h"

namespace mm::policy::link {
namespace {

using html::find_any;

const RE2& text_url_re() {
    static const RE2 re(
        R"((?i)(?:^|[^\w:/])(//[\w-]+\.[\w.-]+[^\s<>"]*)|((?:https?|ftp)://[^\s<>"]+|\bwww\.[^\s<>"]+|\bmailto:[^\s<>"]+))");
    return re;
}

// Whether text_url_re can match: each of its alternatives holds "//"
// (//host, scheme://), "www." or "mailto:" (any case).  Most text runs and
// attribute values hold none of them, and a call into RE2 costs more than
// this loop.
bool may_hold_text_link(std::string_view text) {
    for (std::size_t i = find_any<'/', '.', ':'>(text); i != std::string_view::npos;) {
        char c = text[i];
        if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') return true;
        if (c == '.' && i >= 3 && iequals(text.substr(i - 3, 3), "www")) return true;
        if (c == ':' && i >= 6 && iequals(text.substr(i - 6, 6), "mailto")) return true;
        std::size_t next = find_any<'/', '.', ':'>(text.substr(i + 1));
        i = next == std::string_view::npos ? next : i + 1 + next;
    }
    return false;
}

}  // namespace

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

std::vector<TextHit> find_text_links(const Context& cx, std::string_view text) {
    std::vector<TextHit> hits;
    if (!may_hold_text_link(text)) return hits;
    const RE2& re = text_url_re();
    re2::StringPiece input(text.data(), text.size());
    std::array<re2::StringPiece, 3> g;
    std::size_t pos = 0;
    while (pos < text.size() &&
           re.Match(input, pos, text.size(), RE2::UNANCHORED, g.data(), g.size())) {
        // Group 1: scheme-relative "//host/…", after a non-URL character.
        re2::StringPiece m = g[1].data() ? g[1] : g[2];
        std::size_t begin = static_cast<std::size_t>(m.data() - text.data());
        std::string_view url(m.data(), trim_url_end(std::string_view(m.data(), m.size())));
        pos = std::max(begin + m.size(), static_cast<std::size_t>(g[0].data() - text.data()) + 1);
        if (url.empty()) continue;
        std::string judged(url);
        if (istarts_with(url, "www.")) judged = "http://" + judged;
        Judgement j = judge(cx, judged, Use::link);
        if (!j.keep) hits.push_back({begin, begin + url.size(), std::string(url), std::move(j)});
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

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

}  // namespace mm::policy::link
