// LinkRule.  Three passes over HTML, cheapest first (DESIGN.md, "HTML links:
// speed and safety"; the numbers are in ARCHITECTURE.md):
//
//  1. an RE2 pre-scan of the raw bytes for URL candidates; when every one is
//     allowed and nothing else needs surgery, the input is returned as it is
//     and no tokenizer runs (most messages);
//  2. otherwise an HTML5 tokenizer subset (below) reads the bytes as a
//     browser's tokenizer does and gives each tag, attribute, text run and
//     comment as an exact byte span, so cuts remove source text and nothing
//     is re-serialised (gumbo, 3-5x slower than libxml2 and ~45x slower than
//     this, is kept only for rare named references and the text fallback);
//  3. a safety net: the pre-scan runs again on the result, and if a
//     disallowed URL is still there (the tokenizer saw the markup
//     differently from some client) the part becomes a text rendering.
//
// Judging a URL is one function (judge) shared by text, the pre-scan, the
// tree walk and the safety net, so the passes cannot disagree about a URL.
#include "policy/rules/link_rule.h"

#include <gumbo.h>
#include <idn2.h>
#include <libpsl.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <utility>

#include "policy/html/html_tokenizer.h"

namespace mm::policy {
namespace {

using yaml::Entry;
using yaml::error_at;
// The tokenizer and the reference decoder are shared with html_text.
using html::decode_refs;
using html::decode_text_slow;
using html::find_any;
using html::has_any;
using html::hex_value;
using html::iequals;
using html::is_html_space;
using html::istarts_with;
using html::lower_char;
using html::normalize_newlines;
using html::Tag;
using html::TokAttr;
using html::Token;
using html::Tokenizer;
using html::TokKind;

// ---- small string helpers ------------------------------------------------

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower_char(c);
    return out;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
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

bool ends_with_domain(std::string_view host, std::string_view domain) {
    if (domain.empty()) return false;
    if (host == domain) return true;
    return host.size() > domain.size() && host.ends_with(domain) &&
           host[host.size() - domain.size() - 1] == '.';
}

// ---- RAII for C allocations ------------------------------------------------

struct IdnFree {
    void operator()(char* p) const { idn2_free(p); }
};
using IdnString = std::unique_ptr<char, IdnFree>;

struct GumboDeleter {
    void operator()(GumboOutput* o) const { gumbo_destroy_output(&kGumboDefaultOptions, o); }
};
using GumboPtr = std::unique_ptr<GumboOutput, GumboDeleter>;

GumboPtr gumbo_parse_view(std::string_view html) {
    return GumboPtr(gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()));
}

// ---- IDN and scripts -------------------------------------------------------

// The A-label form of a host, or nullopt when IDNA refuses it (browsers
// refuse to load such hosts, but a refused host is never allowed either).
std::optional<std::string> to_a_label(const std::string& host) {
    for (int flags : {IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL, IDN2_NFC_INPUT | IDN2_TRANSITIONAL}) {
        char* out = nullptr;
        int rc = idn2_to_ascii_8z(host.c_str(), &out, flags);
        IdnString owned(out);
        if (rc == IDN2_OK && owned) return lower_ascii(owned.get());
    }
    return std::nullopt;
}

std::optional<std::string> to_unicode(const std::string& ascii) {
    char* out = nullptr;
    int rc = idn2_to_unicode_8z8z(ascii.c_str(), &out, 0);
    IdnString owned(out);
    if (rc != IDN2_OK || !owned) return std::nullopt;
    return std::string(owned.get());
}

enum class Script { neutral, latin, greek, cyrillic, other };

Script script_of(char32_t cp) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Script::latin;
    if (cp < 0x80) return Script::neutral;  // digits, hyphen
    if ((cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x1E00 && cp <= 0x1EFF)) return Script::latin;
    if (cp >= 0x370 && cp <= 0x3FF) return Script::greek;
    if ((cp >= 0x400 && cp <= 0x52F) || (cp >= 0x1C80 && cp <= 0x1C8F)) return Script::cyrillic;
    return Script::other;
}

// Latin, Greek and Cyrillic share look-alike letters (а/a, о/o, ρ/p); a label
// that mixes two of them is the classic homograph.  Latin with CJK and the
// like is legitimate and left to the allow-list.
bool label_mixes_scripts(std::string_view label) {
    bool latin = false, greek = false, cyrillic = false;
    for (std::size_t i = 0; i < label.size();) {
        auto c = static_cast<unsigned char>(label[i]);
        char32_t cp = c;
        std::size_t len = 1;
        if (c >= 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else if (c >= 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xC0) {
            len = 2;
            cp = c & 0x1F;
        }
        for (std::size_t k = 1; k < len && i + k < label.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(label[i + k]) & 0x3F);
        i += len;
        switch (script_of(cp)) {
            case Script::latin:
                latin = true;
                break;
            case Script::greek:
                greek = true;
                break;
            case Script::cyrillic:
                cyrillic = true;
                break;
            default:
                break;
        }
    }
    return (latin ? 1 : 0) + (greek ? 1 : 0) + (cyrillic ? 1 : 0) > 1;
}

bool mixes_scripts(std::string_view unicode_host) {
    std::size_t start = 0;
    while (start <= unicode_host.size()) {
        std::size_t dot = unicode_host.find('.', start);
        if (dot == std::string_view::npos) dot = unicode_host.size();
        if (label_mixes_scripts(unicode_host.substr(start, dot - start))) return true;
        start = dot + 1;
    }
    return false;
}

// ---- judging one URL ---------------------------------------------------------

// Where a URL was found: images are judged as remote resources too.
enum class Use { link, image };

struct Judgement {
    bool keep = true;
    std::string domain;
    std::string reason;
};

// The hosts judged so far in one call (one message part): marketing mail
// names the same few hosts hundreds of times, and each judgement is an IDNA
// and a libpsl look-up.  Keyed by the use ('l'/'i') and the raw authority.
struct HostCache {
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, Judgement, Hash, std::equal_to<>> map;
    std::string key;  // reused for look-ups
};

struct Context {
    const LinkPolicy& policy;
    std::string marketplace;  // lower-case A-label
    mutable HostCache hosts;  // per call: a Context lives for one scan
};

bool allowed_domain(const Context& cx, std::string_view host, std::string_view domain) {
    if (ends_with_domain(host, cx.marketplace) || ends_with_domain(domain, cx.marketplace))
        return true;
    for (const std::string& d : cx.policy.allow_domains)
        if (ends_with_domain(domain, d) || ends_with_domain(host, d)) return true;
    return false;
}

Judgement reject(std::string domain, std::string reason) {
    return {false, std::move(domain), std::move(reason)};
}

// WHATWG URL: a host whose last label is a number is an IPv4 address in one
// of its many spellings (3232235777, 0x7f.1, 127.1).
bool ends_in_number(std::string_view host) {
    std::size_t dot = host.rfind('.');
    std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
    if (last.empty()) return false;
    if (istarts_with(last, "0x"))
        return std::all_of(last.begin() + 2, last.end(), [](char c) { return hex_value(c) >= 0; });
    return std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Judgement judge_host(const Context& cx, std::string_view authority, Use use) {
    std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    if (!authority.empty() && authority.front() == '[') return reject("", "ip literal");
    std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) authority = authority.substr(0, colon);
    std::string host = lower_ascii(percent_decode(authority));
    while (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty()) return reject("", "invalid host");

    bool ascii = std::all_of(host.begin(), host.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (!ascii || host.find("xn--") != std::string::npos) {
        auto a_label = to_a_label(host);
        if (!a_label) return reject(host, "invalid host");
        auto unicode = to_unicode(*a_label);
        host = *a_label;
        if (unicode && mixes_scripts(*unicode)) return reject(host, "lookalike");
    }
    if (ends_in_number(host)) return reject(host, "ip literal");
    if (!std::all_of(host.begin(), host.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                   c == '_';
        }))
        return reject(host, "invalid host");

    const char* reg = psl_registrable_domain(psl_builtin(), host.c_str());
    std::string domain = reg ? reg : host;
    bool own = ends_with_domain(host, cx.marketplace);
    if (use == Use::image && cx.policy.remove_remote_images && !own)
        return reject(domain, "remote image");
    if (!allowed_domain(cx, host, domain)) return reject(domain, "domain not allowed");
    return {true, domain, ""};
}

// mailto: may name only marketplace aliases, in the path and in to/cc/bcc.
Judgement judge_mailto(const Context& cx, std::string_view rest) {
    std::vector<std::string> addresses;
    auto add_list = [&](std::string_view list) {
        std::string decoded = percent_decode(list);
        std::size_t start = 0;
        while (start <= decoded.size()) {
            std::size_t comma = decoded.find_first_of(",;", start);
            if (comma == std::string::npos) comma = decoded.size();
            std::string a = decoded.substr(start, comma - start);
            auto b = a.find_first_not_of(" \t");
            if (b != std::string::npos) addresses.push_back(a.substr(b));
            start = comma + 1;
        }
    };
    std::size_t q = rest.find('?');
    add_list(rest.substr(0, q));
    if (q != std::string_view::npos) {
        std::string_view query = rest.substr(q + 1);
        while (!query.empty()) {
            std::size_t amp = query.find('&');
            std::string_view field = query.substr(0, amp);
            std::size_t eq = field.find('=');
            std::string_view name = field.substr(0, eq);
            if (eq != std::string_view::npos &&
                (iequals(name, "to") || iequals(name, "cc") || iequals(name, "bcc")))
                add_list(field.substr(eq + 1));
            if (amp == std::string_view::npos) break;
            query.remove_prefix(amp + 1);
        }
    }
    for (std::string& a : addresses) {
        while (!a.empty() && (a.back() == ' ' || a.back() == '>')) a.pop_back();
        std::size_t at = a.rfind('@');
        std::string domain = at == std::string::npos ? "" : lower_ascii(a.substr(at + 1));
        if (domain != cx.marketplace) return reject(domain, "mailto non-alias");
    }
    return {};
}

// Browsers drop tabs and newlines anywhere in a URL, trim C0 controls and
// spaces, and read '\' as '/' in http(s) URLs; judge what they would load.
// The normalised URL: a view into `raw` when only the ends are trimmed (the
// common case, no allocation), else built in `buf`.
std::string_view normalize_url(std::string_view raw, std::string& buf) {
    // Trimming first is the same: the ends are C0-or-space either way.
    std::size_t b0 = 0, e0 = raw.size();
    while (b0 < e0 && static_cast<unsigned char>(raw[b0]) <= 0x20) ++b0;
    while (e0 > b0 && static_cast<unsigned char>(raw[e0 - 1]) <= 0x20) --e0;
    if (!has_any<'\t', '\n', '\r'>(raw.substr(b0, e0 - b0))) return raw.substr(b0, e0 - b0);
    std::string& u = buf;
    u.clear();
    u.reserve(raw.size());
    for (char c : raw)
        if (c != '\t' && c != '\n' && c != '\r') u.push_back(c);
    auto is_trim = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
    while (!u.empty() && is_trim(u.back())) u.pop_back();
    std::size_t b = 0;
    while (b < u.size() && is_trim(u[b])) ++b;
    u.erase(0, b);
    return u;
}

std::string normalize_url(std::string_view raw) {
    std::string buf;
    return std::string(normalize_url(raw, buf));
}

Judgement judge(const Context& cx, std::string_view raw, Use use) {
    std::string buf;
    std::string_view u = normalize_url(raw, buf);
    if (u.empty() || u[0] == '#') return {};
    std::size_t i = 0;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    std::string scheme;
    if (alpha(u[0])) {
        while (i < u.size() && (alpha(u[i]) || (u[i] >= '0' && u[i] <= '9') || u[i] == '+' ||
                                u[i] == '-' || u[i] == '.'))
            ++i;
        if (i < u.size() && u[i] == ':') scheme = lower_ascii(u.substr(0, i));
    }
    std::string_view rest;
    if (!scheme.empty()) {
        rest = std::string_view(u).substr(i + 1);
        if (scheme == "cid") return {};
        if (scheme == "mailto") return judge_mailto(cx, rest);
        if (scheme == "data" && use == Use::image && istarts_with(rest, "image/")) return {};
        if (scheme != "http" && scheme != "https" && scheme != "ftp")
            return reject("", "scheme not allowed");
    } else if (u.size() >= 2 && (u[0] == '/' || u[0] == '\\') && (u[1] == '/' || u[1] == '\\')) {
        rest = u;  // scheme-relative: remote, on whatever host follows
    } else {
        return {};  // relative: resolves against the message, nowhere remote
    }
    std::size_t s = 0;
    while (s < rest.size() && (rest[s] == '/' || rest[s] == '\\')) ++s;
    rest.remove_prefix(s);
    std::size_t end = find_any<'/', '\\', '?', '#'>(rest);
    std::string_view authority = rest.substr(0, end);
    std::string& key = cx.hosts.key;
    key.assign(1, use == Use::image ? 'i' : 'l');
    key.append(authority);
    auto it = cx.hosts.map.find(std::string_view(key));
    if (it != cx.hosts.map.end()) return it->second;
    Judgement j = judge_host(cx, authority, use);
    if (cx.hosts.map.size() < 4096) cx.hosts.map.emplace(key, j);
    return j;
}

// ---- text --------------------------------------------------------------------

const RE2& text_url_re() {
    static const RE2 re(
        R"((?i)(?:^|[^\w:/])(//[\w-]+\.[\w.-]+[^\s<>"]*)|((?:https?|ftp)://[^\s<>"]+|\bwww\.[^\s<>"]+|\bmailto:[^\s<>"]+))");
    return re;
}

// Sentence punctuation after a URL, and a closing bracket that has no opener
// inside the URL, belong to the prose around it.
std::size_t trim_url_end(std::string_view url) {
    std::size_t n = url.size();
    while (n > 0) {
        char c = url[n - 1];
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
            c == '*') {
            --n;
            continue;
        }
        if (c == ')' || c == ']' || c == '}') {
            char open = c == ')' ? '(' : c == ']' ? '[' : '{';
            auto sub = url.substr(0, n);
            if (std::count(sub.begin(), sub.end(), open) < std::count(sub.begin(), sub.end(), c)) {
                --n;
                continue;
            }
        }
        break;
    }
    return n;
}

struct TextHit {
    std::size_t begin, end;
    std::string url;
    Judgement j;
};

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
                   Unchanged unchanged = Unchanged::copy) {
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

// ---- the HTML pre-scan (and safety net) ----------------------------------------

// Attributes whose value is a URL (or, for srcset/content/style, holds URLs).
const RE2& attr_re() {
    static const RE2 re(
        R"((?is)[\s"'/](href|src|srcset|lowsrc|dynsrc|background|action|formaction|poster|cite|)"
        R"(longdesc|data|codebase|archive|classid|xlink:href|ping|manifest|icon|content|style))"
        R"(\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))");
    return re;
}
// URLs outside attributes: text that clients linkify, CSS, comments.
const RE2& bare_re() {
    static const RE2 re(R"((?i)((?:https?|ftp):[^\s"'<>()]+|\bwww\.[^\s"'<>()]+))");
    return re;
}
const RE2& css_url_re() {
    static const RE2 re(
        R"((?is)(url\(\s*("[^"]*"|'[^']*'|[^)]*?)\s*\)|@import\s*("[^"]*"|'[^']*')))");
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
// superset of what the tree walk treats as a linked image.
const RE2& linked_img_re() {
    static const RE2 re(
        R"((?is)<a[\s/](?:"[^"]*"|'[^']*'|[^>"'])*>(?:\s|<!--.*?-->)*<(?:img|image)\b)");
    return re;
}

std::string_view unquote(std::string_view v) {
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        return v.substr(1, v.size() - 2);
    if (!v.empty() && (v.front() == '"' || v.front() == '\'')) return v.substr(1);
    return v;
}

// The URL in <meta http-equiv=refresh content="5; url=...">, if any.
std::optional<std::string_view> refresh_url(std::string_view content) {
    std::string low = lower_ascii(content);
    std::size_t p = low.find("url");
    if (p == std::string::npos) return std::nullopt;
    p += 3;
    while (p < content.size() && is_html_space(content[p])) ++p;
    if (p >= content.size() || content[p] != '=') return std::nullopt;
    ++p;
    while (p < content.size() && is_html_space(content[p])) ++p;
    return unquote(content.substr(p));
}

// srcset: "a.png 1x, b.png 2x" -> the URLs.
std::vector<std::string_view> srcset_urls(std::string_view v) {
    std::vector<std::string_view> urls;
    std::size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (is_html_space(v[i]) || v[i] == ',')) ++i;
        std::size_t b = i;
        while (i < v.size() && !is_html_space(v[i])) ++i;
        std::string_view url = v.substr(b, i - b);
        while (!url.empty() && url.back() == ',') url.remove_suffix(1);
        if (!url.empty()) urls.push_back(url);
        while (i < v.size() && v[i] != ',') ++i;
    }
    return urls;
}

bool is_image_attr(std::string_view name) {
    return name == "src" || name == "srcset" || name == "lowsrc" || name == "dynsrc" ||
           name == "background" || name == "poster" || name == "data" || name == "style";
}

// A (decoded) attribute value -> the first URL in it that is not kept.
std::optional<std::pair<std::string, Judgement>> judge_attr(const Context& cx,
                                                            std::string_view name,
                                                            std::string_view value) {
    Use use = is_image_attr(name) ? Use::image : Use::link;
    auto check = [&](std::string_view url) -> std::optional<std::pair<std::string, Judgement>> {
        Judgement j = judge(cx, url, use);
        if (j.keep) return std::nullopt;
        return std::make_pair(normalize_url(url), std::move(j));
    };
    if (name == "srcset") {
        for (std::string_view url : srcset_urls(value))
            if (auto r = check(url)) return r;
        return std::nullopt;
    }
    if (name == "content") {
        auto url = refresh_url(value);
        return url ? check(*url) : std::nullopt;
    }
    if (name == "style") {
        const RE2& re = css_url_re();
        re2::StringPiece input(value.data(), value.size());
        std::array<re2::StringPiece, 4> g;
        std::size_t pos = 0;
        while (pos < value.size() &&
               re.Match(input, pos, value.size(), RE2::UNANCHORED, g.data(), g.size())) {
            pos = static_cast<std::size_t>(g[0].data() - value.data()) + g[0].size();
            re2::StringPiece u = g[2].data() ? g[2] : g[3];
            if (auto r = check(unquote(std::string_view(u.data(), u.size())))) return r;
        }
        return std::nullopt;
    }
    return check(value);
}

// Namespace URIs (xmlns, xmlns:v in Word's HTML) and the DOCTYPE's DTD
// address are identifiers no client fetches or shows; without this every
// Outlook message would fall to the safety net.
bool inert_context(std::string_view html, std::size_t at) {
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
    std::size_t lt = html.rfind('<', at);
    return lt != std::string_view::npos && istarts_with(html.substr(lt), "<!doctype") &&
           html.substr(lt, at - lt).find('>') == std::string_view::npos;
}

// Decodes the references of one attribute value (source, quotes included)
// by letting gumbo read it: for the names decode_refs does not know.
std::string decode_attr_slow(std::string_view raw_value) {
    std::string doc = "<a x=" + std::string(raw_value) + ">";
    GumboPtr out = gumbo_parse_view(doc);
    // html > body > a
    const GumboNode* body = nullptr;
    const GumboVector& kids = out->root->v.element.children;
    for (unsigned i = 0; i < kids.length; ++i) {
        auto* n = static_cast<const GumboNode*>(kids.data[i]);
        if (n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == GUMBO_TAG_BODY) body = n;
    }
    if (!body || body->v.element.children.length == 0) return std::string(unquote(raw_value));
    auto* a = static_cast<const GumboNode*>(body->v.element.children.data[0]);
    if (a->type != GUMBO_NODE_ELEMENT) return std::string(unquote(raw_value));
    const GumboAttribute* attr = gumbo_get_attribute(&a->v.element.attributes, "x");
    return attr ? std::string(attr->value) : std::string(unquote(raw_value));
}

// One attribute value (source, quotes included) as the tokenizer decodes it.
std::string decode_attr(std::string_view raw_value) {
    std::string out;
    if (decode_refs(unquote(raw_value), true, out)) return out;
    return decode_attr_slow(raw_value);
}

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

// ---- finding the pre-scan's matches without scanning every byte with RE2 --
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

bool is_re_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_attr_separator(char c) {
    return is_re_space(c) || c == '"' || c == '\'' || c == '/';
}

bool is_ascii_text(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Ascending positions where a match of the pass's pattern can start.
std::vector<std::size_t> candidate_starts(std::string_view s, Pass pass) {
    std::vector<std::size_t> out;
    const std::size_t n = s.size();
    auto add = [&](std::size_t p) { out.push_back(p); };
    // A window of bytes before a literal: the ASCII spelling of a name the
    // pattern lists, or bytes RE2 may fold to one (non-ASCII).
    auto names_end_at = [&](std::size_t end, std::span<const std::string_view> names,
                            std::size_t window) -> std::optional<std::size_t> {
        for (std::string_view name : names)
            if (end >= name.size() && iequals(s.substr(end - name.size(), name.size()), name))
                return end - name.size();
        std::size_t from = end >= window ? end - window : 0;
        for (std::size_t i = from; i < end; ++i)
            if (static_cast<unsigned char>(s[i]) >= 0x80) return from;
        return std::nullopt;
    };
    static constexpr std::string_view kAttrNames[] = {
        "href",       "src",        "srcset", "lowsrc",   "dynsrc", "background", "action",
        "formaction", "poster",     "cite",   "longdesc", "data",   "codebase",   "archive",
        "classid",    "xlink:href", "ping",   "manifest", "icon",   "content",    "style"};
    static constexpr std::string_view kSchemes[] = {"https", "http", "ftp"};
    static constexpr std::string_view kWww[] = {"www"};
    static constexpr std::string_view kUrl[] = {"url"};
    // Each position of byte c, by memchr (most bytes are none of them).
    auto each = [&](char c, auto&& f) {
        for (const char* p = s.data(); p < s.data() + n;) {
            const void* hit = std::memchr(p, c, static_cast<std::size_t>(s.data() + n - p));
            if (hit == nullptr) break;
            auto q = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
            f(q);
            p = s.data() + q + 1;
        }
    };
    switch (pass) {
        case Pass::attr:
            each('=', [&](std::size_t q) {
                // [\s"'/](name)\s*= : back over the spaces, then over the
                // name (no separator in any name; at most 10 letters, 3
                // bytes each when folded) to the separator that starts it.
                std::size_t r = q;
                while (r > 0 && is_re_space(s[r - 1])) --r;
                std::size_t b = r;
                while (b > 0 && r - b <= 31 && !is_attr_separator(s[b - 1])) --b;
                if (b == 0 || b == r || r - b > 31 || !is_attr_separator(s[b - 1])) return;
                std::string_view name = s.substr(b, r - b);
                bool listed = std::any_of(std::begin(kAttrNames), std::end(kAttrNames),
                                          [&](std::string_view x) { return iequals(name, x); });
                if (listed || !is_ascii_text(name)) add(b - 1);
            });
            break;
        case Pass::bare:
            each(':', [&](std::size_t q) {
                // ftp: http: https: (or a folded spelling, up to six bytes)
                auto b = names_end_at(q, kSchemes, 6);
                if (!b) return;
                if (is_ascii_text(s.substr(*b, q - *b))) {
                    add(*b);
                } else {
                    for (std::size_t p = *b; p + 3 <= q; ++p) add(p);
                }
            });
            each('.', [&](std::size_t q) {
                if (names_end_at(q, kWww, 3)) add(q - 3);  // www.
            });
            break;
        case Pass::css:
            each('(', [&](std::size_t q) {
                if (names_end_at(q, kUrl, 3)) add(q - 3);  // url(
            });
            each('@', [&](std::size_t q) {
                if (istarts_with(s.substr(q + 1), "import")) add(q);  // @import
            });
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

struct Violation {
    std::string url;
    Judgement j;
};

// Every URL candidate in raw HTML bytes.  As the pre-scan: is the tokenizer
// needed?  As the safety net (`net`): the first disallowed URL left, if any;
// entities are then decoded rather than deferred to the tokenizer.
std::optional<Violation> scan_candidates(const Context& cx, std::string_view html, bool net,
                                         bool* needs_tokenizer) {
    re2::StringPiece input(html.data(), html.size());
    {
        const RE2& re = attr_re();
        // Only the whole match is asked of RE2 (its DFA alone finds it; groups
        // would cost a submatch search per attribute): the groups are split
        // out of it by hand.  The match is one separator byte, the name (no
        // space or '=' in any alternative), \s*=\s*, and the value, which
        // starts with a non-space byte and runs to the end of the match.
        re2::StringPiece m;
        std::size_t pos = 0;
        PassMatches matches(re, html, Pass::attr);
        while (pos < html.size() && matches.next(pos, &m, 1)) {
            std::string_view whole(m.data(), m.size());
            pos = static_cast<std::size_t>(m.data() - html.data()) + m.size();
            std::size_t k = 1;
            while (k < whole.size() && whole[k] != '=' && !is_re_space(whole[k])) ++k;
            std::string name = lower_ascii(whole.substr(1, k - 1));
            while (k < whole.size() && is_re_space(whole[k])) ++k;
            ++k;  // '='
            while (k < whole.size() && is_re_space(whole[k])) ++k;
            std::string_view raw = whole.substr(k);
            std::string value;
            if (raw.find('&') == std::string_view::npos) {
                value = unquote(raw);
            } else if (net) {
                value = decode_attr(raw);
            } else if (only_amp_entities(raw)) {
                // "&amp;" in query strings is in nearly every link; any other
                // entity is left to the tokenizer's decoder.
                value = replace_amp(unquote(raw));
            } else {
                *needs_tokenizer = true;
                return std::nullopt;
            }
            if (auto r = judge_attr(cx, name, value)) {
                if (!net) {
                    *needs_tokenizer = true;
                    return std::nullopt;
                }
                return Violation{std::move(r->first), std::move(r->second)};
            }
        }
    }
    for (const RE2* re : {&bare_re(), &css_url_re()}) {
        std::array<re2::StringPiece, 4> g;
        std::size_t pos = 0;
        // bare_re's group 1 is the whole match: ask RE2 for that alone.
        const int groups = re == &bare_re() ? 1 : static_cast<int>(g.size());
        PassMatches matches(*re, html, re == &bare_re() ? Pass::bare : Pass::css);
        while (pos < html.size() && matches.next(pos, g.data(), groups)) {
            pos = static_cast<std::size_t>(g[0].data() - html.data()) + g[0].size();
            std::string url;
            Use use = Use::link;
            if (re == &bare_re()) {
                g[1] = g[0];
                url = std::string(g[1].data(),
                                  trim_url_end(std::string_view(g[1].data(), g[1].size())));
                if (istarts_with(url, "www.")) url = "http://" + url;
            } else {
                re2::StringPiece u = g[2].data() ? g[2] : g[3];
                url = unquote(std::string_view(u.data(), u.size()));
                use = g[2].data() ? Use::image : Use::link;
            }
            if (use == Use::link &&
                inert_context(html, static_cast<std::size_t>(g[0].data() - html.data())))
                continue;
            Judgement j = judge(cx, url, use);
            if (!j.keep) {
                if (!net) {
                    *needs_tokenizer = true;
                    return std::nullopt;
                }
                return Violation{normalize_url(url), std::move(j)};
            }
        }
    }
    if (!net) {
        if (RE2::PartialMatch(input, encoded_punct_re())) *needs_tokenizer = true;
        // A logo in a link loses the link whatever its domain: any <img> next
        // to any href may be one; the tree decides.
        if (cx.policy.unwrap_linked_images && RE2::PartialMatch(input, linked_img_re()))
            *needs_tokenizer = true;
    }
    return std::nullopt;
}

// ---- the cut -----------------------------------------------------------------

struct Cut {
    std::size_t begin, end;
    std::string replacement;
};

// One pass over the tokens; each decision is the one the former tree walk
// made on gumbo's nodes, on the same source spans.
class HtmlCutter {
public:
    HtmlCutter(const Context& cx, std::string_view html, LinkScan& out)
        : cx_(cx), html_(html), out_(out), tok_(html) {}

    void run() {
        Token t;
        while (tok_.next(t)) {
            switch (t.kind) {
                case TokKind::start_tag:
                    start_tag(t);
                    break;
                case TokKind::end_tag:
                    if (t.tag == Tag::table && table_depth_ > 0 && !tok_.in_foreign())
                        --table_depth_;
                    break;
                case TokKind::text:
                    text(t.b, t.e, std::string_view(), t.refs);
                    break;
                case TokKind::cdata:
                    text(t.b, t.e, html_.substr(t.inner_b, t.inner_e - t.inner_b), false);
                    break;
                case TokKind::comment:
                    comment(t.b, t.e);
                    break;
                case TokKind::doctype:
                    break;
            }
        }
    }

    std::vector<Cut> take_cuts() { return std::move(cuts_); }

private:
    void remove(std::size_t b, std::size_t e, std::string url, Judgement j) {
        cuts_.push_back({b, e, ""});
        out_.note({std::move(url), std::move(j.domain), std::move(j.reason)});
    }

    // The attribute's source span, with the whitespace before it, so that
    // `<a href="x">` becomes `<a>`.
    std::pair<std::size_t, std::size_t> attr_span(const TokAttr& a, std::size_t tag_b) const {
        std::size_t b = a.name_b;
        while (b > tag_b + 1 && is_html_space(html_[b - 1])) --b;
        return {b, a.end};
    }

    // The attribute's value as the tree holds it (unquoted, references
    // decoded, CRs normalised), in `buf` unless the source is already that.
    std::string_view value_of(const TokAttr& a, std::string& buf) const {
        std::string_view raw = html_.substr(a.val_b, a.val_e - a.val_b);
        if (a.quoted) raw = raw.substr(1, raw.size() - 2);
        if (!has_any<'&', '\r'>(raw)) return raw;
        if (!decode_refs(raw, true, buf))
            buf = decode_attr_slow(html_.substr(a.val_b, a.val_e - a.val_b));
        return buf;
    }

    static bool removes_element(Tag tag) {
        switch (tag) {
            case Tag::img:
            case Tag::image:
            case Tag::input:
            case Tag::iframe:
            case Tag::frame:
            case Tag::embed:
            case Tag::object:
            case Tag::applet:
            case Tag::script:
            case Tag::video:
            case Tag::audio:
            case Tag::source:
            case Tag::track:
            case Tag::meta:
                return true;
            default:
                return false;
        }
    }

    // Start tags the tree builder drops in body ("in body": a table part
    // outside any table is a parse error and ignored): the browser never
    // sees their attributes, so neither does the cut; the safety net judges
    // their bytes.
    bool ignored(const Token& t) const {
        switch (t.tag) {
            case Tag::caption:
            case Tag::col:
            case Tag::colgroup:
            case Tag::tbody:
            case Tag::td:
            case Tag::tfoot:
            case Tag::th:
            case Tag::thead:
            case Tag::tr:
                return table_depth_ == 0 && !tok_.in_foreign();
            default:
                return false;
        }
    }

    // Where the element that starts with `t` ends in the source: its end
    // tag's end when it has one (RAWTEXT/RCDATA/script elements know it; the
    // others are matched by nesting), else the start tag's end.
    std::size_t element_end(const Token& t) {
        if (t.raw_end != std::string_view::npos)
            return t.close_e != std::string_view::npos ? t.close_e : t.e;
        switch (t.tag) {
            case Tag::object:
            case Tag::applet:
            case Tag::video:
            case Tag::audio:
                break;
            default:
                if (!tok_.in_foreign() || t.self_closing) return t.e;  // void elements
        }
        if (unmatched_.contains(static_cast<int>(t.tag))) return t.e;
        Tokenizer ahead = tok_;
        Token u;
        int depth = 1;
        while (ahead.next(u)) {
            if (u.tag != t.tag) continue;
            if (u.kind == TokKind::start_tag && !u.self_closing) ++depth;
            if (u.kind == TokKind::end_tag && --depth == 0) return u.e;
        }
        // No end tag: only the start tag goes (and the scan stays linear).
        unmatched_.insert(static_cast<int>(t.tag));
        return t.e;
    }

    // An <a> whose content, apart from whitespace and comments, is one <img>
    // (ended by its end tag, any end tag, another <a>, or the input's end).
    bool wraps_only_image() const {
        Tokenizer ahead = tok_;
        Token u;
        int images = 0;
        while (ahead.next(u)) {
            if (u.kind == TokKind::comment) continue;
            if (u.kind == TokKind::text) {
                std::string_view s = html_.substr(u.b, u.e - u.b);
                if (std::all_of(s.begin(), s.end(), is_html_space)) continue;
                return false;
            }
            if (u.kind == TokKind::start_tag && (u.tag == Tag::img || u.tag == Tag::image)) {
                if (++images > 1) return false;
                continue;
            }
            if (u.kind == TokKind::end_tag || (u.kind == TokKind::start_tag && u.tag == Tag::a))
                return images == 1;
            return false;
        }
        return images == 1;
    }

    static bool is_url_attr(std::string_view n) {
        static constexpr std::string_view kNames[] = {
            "href",       "src",        "srcset", "lowsrc",   "dynsrc", "background", "action",
            "formaction", "poster",     "cite",   "longdesc", "data",   "codebase",   "archive",
            "classid",    "xlink:href", "ping",   "manifest", "icon",   "content",    "style"};
        return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
    }

    std::string_view lower_name(const TokAttr& a, std::string& buf) const {
        std::string_view raw = html_.substr(a.name_b, a.name_e - a.name_b);
        if (std::none_of(raw.begin(), raw.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
            return raw;
        buf.assign(raw);
        for (char& c : buf) c = lower_char(c);
        return buf;
    }

    void start_tag(const Token& t) {
        if (t.tag == Tag::table && !tok_.in_foreign()) ++table_depth_;
        if (ignored(t)) return;
        const std::size_t tag_b = t.b, tag_e = t.e;

        bool refresh = false;
        if (t.tag == Tag::meta) {
            for (const TokAttr& a : t.attrs) {
                if (!iequals(lower_name(a, name_buf_), "http-equiv")) continue;
                refresh = iequals(value_of(a, value_buf_), "refresh");
                break;  // the first of duplicated attributes wins
            }
        }
        std::optional<std::size_t> href;  // the first href, when it stays
        bool href_seen = false;
        for (const TokAttr& a : t.attrs) {
            std::string_view name = lower_name(a, name_buf_);
            if (name.starts_with("xmlns")) continue;  // namespace names, never fetched
            std::string_view value = value_of(a, value_buf_);
            bool first_href = name == "href" && !href_seen;
            if (name == "href") href_seen = true;
            if (!is_url_attr(name) || (name == "content" && !refresh)) {
                // title="…", alt="…", og:url content="…": not links, but text
                // that carries one; the attribute goes rather than the part.
                auto hits = find_text_links(cx_, value);
                if (!hits.empty()) {
                    auto [b, e] = attr_span(a, tag_b);
                    remove(b, e, std::move(hits[0].url), std::move(hits[0].j));
                }
                continue;
            }
            auto bad = judge_attr(cx_, name, value);
            if (!bad) {
                if (first_href) href = &a - t.attrs.data();
                continue;
            }
            bool is_image = t.tag == Tag::img || t.tag == Tag::image || t.tag == Tag::input;
            bool whole = removes_element(t.tag) && name != "style" &&
                         (!is_image || name == "src" || name == "lowsrc" || name == "dynsrc");
            if (whole || name == "content") {
                std::size_t el_e = element_end(t);
                remove(tag_b, el_e, std::move(bad->first), std::move(bad->second));
                tok_.skip_to(el_e);  // the element, and all inside it, is gone
                return;
            }
            auto [b, e] = attr_span(a, tag_b);
            if (name == "style" && cut_css_in_attr(a)) continue;
            remove(b, e, std::move(bad->first), std::move(bad->second));
        }
        if (t.tag == Tag::a && href && cx_.policy.unwrap_linked_images && wraps_only_image()) {
            const TokAttr& a = t.attrs[*href];
            auto [b, e] = attr_span(a, tag_b);
            Judgement j{false, "", "linked image"};
            remove(b, e, normalize_url(value_of(a, value_buf_)), std::move(j));
        }
        if (t.raw_end == std::string_view::npos) {
            if (t.tag == Tag::script && !t.self_closing) {  // svg script: not script data
                std::size_t el_e = element_end(t);
                if (el_e > tag_e && source_has_violation(tag_e, el_e)) {
                    remove(tag_b, el_e, "", Judgement{false, "", "script"});
                    tok_.skip_to(el_e);
                }
            }
            return;
        }
        std::size_t raw_end = std::min(t.raw_end, html_.size());
        if (t.tag == Tag::style) {
            cut_css(tag_e, html_.substr(tag_e, raw_end - tag_e));
            tok_.skip_to(raw_end);
            return;
        }
        if (t.tag == Tag::script) {
            // Clients never run it; a URL in it is only there to be found.
            std::size_t el_e = element_end(t);
            if (el_e > tag_e && source_has_violation(tag_e, el_e)) {
                remove(tag_b, el_e, "", Judgement{false, "", "script"});
                tok_.skip_to(el_e);
            } else {
                tok_.skip_to(raw_end);
            }
        }
    }

    bool source_has_violation(std::size_t b, std::size_t e) {
        bool unused = false;
        return scan_candidates(cx_, html_.substr(b, e - b), true, &unused).has_value();
    }

    // Cuts each disallowed url(...) out of a style attribute, when its source
    // has no references (so decoded offsets are source offsets).  False: the
    // caller removes the whole attribute.
    bool cut_css_in_attr(const TokAttr& a) {
        std::string_view inner = html_.substr(a.val_b, a.val_e - a.val_b);
        if (a.quoted) inner = inner.substr(1, inner.size() - 2);
        if (has_any<'&', '\r'>(inner)) return false;
        return cut_css(a.val_b + (a.quoted ? 1 : 0), inner);
    }

    bool cut_css(std::size_t base, std::string_view css) {
        const RE2& re = css_url_re();
        re2::StringPiece input(css.data(), css.size());
        std::array<re2::StringPiece, 4> g;
        std::size_t pos = 0;
        while (pos < css.size() &&
               re.Match(input, pos, css.size(), RE2::UNANCHORED, g.data(), g.size())) {
            std::size_t mb = static_cast<std::size_t>(g[0].data() - css.data());
            pos = mb + g[0].size();
            bool is_url = g[2].data() != nullptr;
            re2::StringPiece u = is_url ? g[2] : g[3];
            std::string_view url = unquote(std::string_view(u.data(), u.size()));
            Judgement j = judge(cx_, url, is_url ? Use::image : Use::link);
            if (j.keep) continue;
            // `@import "x";` keeps "@import" and loses the string.
            std::size_t cb = is_url ? mb : static_cast<std::size_t>(u.data() - css.data());
            std::size_t ce = is_url ? pos : cb + u.size();
            remove(base + cb, base + ce, normalize_url(url), std::move(j));
        }
        // Whatever else is in the CSS is left to the safety net.
        return true;
    }

    // A text run [b, e); `decoded` given for CDATA (its content), else
    // computed: references decoded when `refs`, CRs normalised.
    void text(std::size_t b, std::size_t e, std::string_view decoded, bool refs) {
        if (e <= b) return;
        std::string_view raw = html_.substr(b, e - b);
        std::string buf;
        if (decoded.data() == nullptr) {
            decoded = raw;
            if (refs ? has_any<'&', '\r'>(raw) : has_any<'\r'>(raw)) {
                if (refs) {
                    if (!decode_refs(raw, false, buf)) buf = decode_text_slow(raw);
                } else {
                    normalize_newlines(raw, buf);
                }
                decoded = buf;
            }
        } else if (decoded.find('\r') != std::string_view::npos) {
            normalize_newlines(decoded, buf);
            decoded = buf;
        }
        auto hits = find_text_links(cx_, decoded);
        if (hits.empty()) return;
        if (raw == decoded) {
            for (TextHit& h : hits) {
                cuts_.push_back({b + h.begin, b + h.end, html_escape(cx_.policy.text_marker)});
                out_.note({std::move(h.url), std::move(h.j.domain), std::move(h.j.reason)});
            }
            return;
        }
        // References in the text: the clients' linkifiers read decoded text,
        // so the run is re-written from its decoded form.
        LinkScan s = scan_text(cx_, decoded, cx_.policy.text_marker);
        cuts_.push_back({b, e, html_escape(s.text)});
        out_.absorb(s);
    }

    // Outlook reads conditional comments (VML buttons carry hrefs), so a
    // comment with a disallowed URL goes whole.
    void comment(std::size_t b, std::size_t e) {
        bool unused = false;
        auto v = scan_candidates(cx_, html_.substr(b, e - b), true, &unused);
        if (v) remove(b, e, std::move(v->url), std::move(v->j));
    }

    const Context& cx_;
    std::string_view html_;
    LinkScan& out_;
    Tokenizer tok_;
    std::vector<Cut> cuts_;
    int table_depth_ = 0;
    std::set<int> unmatched_;  // elements already found to have no end tag
    std::string name_buf_, value_buf_;
};

// Applies cuts; a cut inside an earlier, wider one is dropped (an attribute
// of an element already removed; a node the adoption agency cloned).
std::string apply_cuts(std::string_view html, std::vector<Cut> cuts, LinkScan& out) {
    std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
    });
    std::string result;
    result.reserve(html.size());
    std::size_t last = 0;
    for (const Cut& c : cuts) {
        if (c.begin < last || c.end > html.size()) continue;
        result.append(html.substr(last, c.begin - last));
        result.append(c.replacement);
        out.bytes_cut += c.end - c.begin;
        out.bytes_inserted += c.replacement.size();
        last = c.end;
    }
    result.append(html.substr(last));
    return result;
}

bool is_block(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_P:
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_BR:
        case GUMBO_TAG_TR:
        case GUMBO_TAG_LI:
        case GUMBO_TAG_H1:
        case GUMBO_TAG_H2:
        case GUMBO_TAG_H3:
        case GUMBO_TAG_H4:
        case GUMBO_TAG_H5:
        case GUMBO_TAG_H6:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_HR:
            return true;
        default:
            return false;
    }
}

void render_text(const Context& cx, const GumboNode* node, std::string& out) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE ||
        node->type == GUMBO_NODE_CDATA) {
        out += node->v.text.text;
        return;
    }
    if (node->type == GUMBO_NODE_DOCUMENT) {
        for (unsigned i = 0; i < node->v.document.children.length; ++i)
            render_text(cx, static_cast<const GumboNode*>(node->v.document.children.data[i]), out);
        return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) return;
    const GumboElement& el = node->v.element;
    if (el.tag == GUMBO_TAG_SCRIPT || el.tag == GUMBO_TAG_STYLE || el.tag == GUMBO_TAG_HEAD ||
        el.tag == GUMBO_TAG_TEMPLATE)
        return;
    for (unsigned i = 0; i < el.children.length; ++i)
        render_text(cx, static_cast<const GumboNode*>(el.children.data[i]), out);
    // A link that may stay is kept visible, as text.
    if (el.tag == GUMBO_TAG_A) {
        const GumboAttribute* href = gumbo_get_attribute(&el.attributes, "href");
        if (href && judge(cx, href->value, Use::link).keep &&
            normalize_url(href->value).find(':') != std::string::npos)
            out += " <" + normalize_url(href->value) + ">";
    }
    if (is_block(el.tag) && !out.ends_with('\n')) out += '\n';
}

// The last resort: the markup is gone, the words stay, links become markers.
void fall_back_to_text(const Context& cx, const GumboOutput& tree, const Violation& left,
                       LinkScan& out, std::size_t input_size) {
    std::string plain;
    render_text(cx, tree.document, plain);
    LinkScan s = scan_text(cx, plain, cx.policy.text_marker);
    std::string html = "<html><body><pre>" + html_escape(s.text) + "</pre></body></html>";
    bool unused = false;
    if (scan_candidates(cx, html, true, &unused))
        html = "<html><body><p>" + html_escape(cx.policy.text_marker) + "</p></body></html>";
    out.absorb(s);
    out.note({left.url, left.j.domain, left.j.reason + "; safety net: replaced by text rendering"});
    out.text = std::move(html);
    out.bytes_cut = input_size;
    out.bytes_inserted = out.text.size();
}

Context make_context(const LinkPolicy& policy, const std::string& marketplace_domain) {
    std::string md = lower_ascii(marketplace_domain);
    if (auto a = to_a_label(md)) md = *a;
    return Context{policy, std::move(md), HostCache{}};
}

}  // namespace

LinkScan scan_text_links(std::string_view text, const LinkPolicy& policy,
                         const std::string& marketplace_domain, Unchanged unchanged) {
    Context cx = make_context(policy, marketplace_domain);
    return scan_text(cx, text, policy.text_marker, unchanged);
}

LinkScan scan_html_links(std::string_view html, const LinkPolicy& policy,
                         const std::string& marketplace_domain, Unchanged unchanged) {
    Context cx = make_context(policy, marketplace_domain);
    LinkScan out;
    bool needs_tokenizer = false;
    scan_candidates(cx, html, false, &needs_tokenizer);
    if (!needs_tokenizer) {
        if (unchanged == Unchanged::copy) out.text = std::string(html);
        return out;
    }
    out.tokenized = true;
    HtmlCutter cutter(cx, html, out);
    cutter.run();
    out.text = apply_cuts(html, cutter.take_cuts(), out);

    bool unused = false;
    if (auto left = scan_candidates(cx, out.text, true, &unused)) {
        GumboPtr cut_tree = gumbo_parse_view(out.text);
        fall_back_to_text(cx, *cut_tree, *left, out, html.size());
    }
    return out;
}

// ---- policy.yaml `links:` --------------------------------------------------------

namespace {

// An allow-list entry: a bare registrable domain, stored as a lower-case
// A-label so it compares with what judge() computes.
std::string validate_domain(const YAML::Node& item, const std::string& where) {
    const std::string& raw = item.Scalar();
    auto bad = [&](const std::string& why) {
        error_at(item.Mark(), where + ": '" + raw + "' is not a domain" + why);
    };
    if (raw.empty() || raw.find_first_of(":/?#@ \t[]\\") != std::string::npos) bad("");
    std::string host = lower_ascii(raw);
    while (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty() || host.front() == '.' || host.find("..") != std::string::npos) bad("");
    auto a_label = to_a_label(host);
    if (!a_label) bad(" (IDNA refuses it)");
    host = *a_label;
    if (ends_in_number(host)) bad(" (an IP address)");
    if (host.find('.') == std::string::npos || psl_is_public_suffix(psl_builtin(), host.c_str()))
        bad(" (a public suffix, which would allow every site under it)");
    return host;
}

void load_allow_domains(const Entry& e, LinkPolicy& p) {
    yaml::expect_list(e);
    std::vector<std::string> domains;
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(),
                     e.name + ": expected a domain, got " + std::string(yaml::type_name(item)));
        std::string d = validate_domain(item, e.name);
        if (std::find(domains.begin(), domains.end(), d) == domains.end())
            domains.push_back(std::move(d));
    }
    p.allow_domains = std::move(domains);
}

void load_action(const Entry& e, LinkPolicy& p) {
    std::string a = yaml::get_string(e);
    if (a == "strip")
        p.action = LinkPolicy::Action::strip;
    else if (a == "reject")
        p.action = LinkPolicy::Action::reject;
    else
        error_at(e.value.Mark(),
                 e.name + ": unknown action '" + a + "' (expected strip or reject)");
}

void load_text_marker(const Entry& e, LinkPolicy& p) {
    std::string m = yaml::get_string(e);
    if (m.size() > 200 || m.find_first_of("\r\n") != std::string::npos)
        error_at(e.value.Mark(), e.name + ": must be one line of at most 200 characters");
    p.text_marker = std::move(m);
}

void load_remove_remote_images(const Entry& e, LinkPolicy& p) {
    p.remove_remote_images = yaml::get_bool(e);
}

void load_unwrap_linked_images(const Entry& e, LinkPolicy& p) {
    p.unwrap_linked_images = yaml::get_bool(e);
}

constexpr yaml::Key<LinkPolicy> kLinksKeys[] = {
    {"allow_domains", false, load_allow_domains},
    {"action", false, load_action},
    {"text_marker", false, load_text_marker},
    {"remove_remote_images", false, load_remove_remote_images},
    {"unwrap_linked_images", false, load_unwrap_linked_images},
};

}  // namespace

void load_links_section(const yaml::Entry& e, LinkPolicy& out) {
    yaml::load_section<LinkPolicy>(e, kLinksKeys, out);
}

}  // namespace mm::policy
