#include "policy/rules/link_url.h"
#include "policy/rules/public_suffixes.h"

#include <idn2.h>
#include <libpsl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/html/html_tokenizer.h"
#include "util/strings.h"

namespace mm::policy::link {
namespace {

using html::find_any;
using html::has_any;
using html::hex_value;

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

bool ends_with_domain(std::string_view host, std::string_view domain) {
    if (domain.empty()) return false;
    if (host == domain) return true;
    return host.size() > domain.size() && host.ends_with(domain) &&
           host[host.size() - domain.size() - 1] == '.';
}

// ---- IDN and scripts -------------------------------------------------------

struct IdnFree {
    void operator()(char* p) const { idn2_free(p); }
};
using IdnString = std::unique_ptr<char, IdnFree>;

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

// The code point of the UTF-8 sequence at label[i]; `i` moves past it.
char32_t next_code_point(std::string_view label, std::size_t& i) {
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
    return cp;
}

// Latin, Greek and Cyrillic share look-alike letters (а/a, о/o, ρ/p); a label
// that mixes two of them is the classic homograph.  Latin with CJK and the
// like is legitimate and left to the allow-list.
bool label_mixes_scripts(std::string_view label) {
    bool latin = false, greek = false, cyrillic = false;
    for (std::size_t i = 0; i < label.size();) {
        switch (script_of(next_code_point(label, i))) {
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

// ---- hosts -------------------------------------------------------------------

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

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

Judgement judge_host(const Context& cx, std::string_view authority, Use use) {
    std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    if (!authority.empty() && authority.front() == '[') return reject("", "ip literal");
    std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) authority = authority.substr(0, colon);
    std::string host = to_lower(percent_decode(authority));
    while (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty()) return reject("", "invalid host");

    if (!is_ascii(host) || host.find("xn--") != std::string::npos) {
        auto a_label = to_a_label(host);
        if (!a_label) return reject(host, "invalid host");
        auto unicode = to_unicode(*a_label);
        host = *a_label;
        if (unicode && mixes_scripts(*unicode)) return reject(host, "lookalike");
    }
    if (ends_in_number(host)) return reject(host, "ip literal");
    if (!std::all_of(host.begin(), host.end(), is_host_char)) return reject(host, "invalid host");

    const char* reg = psl_registrable_domain(public_suffixes(), host.c_str());
    std::string domain = reg ? reg : host;
    bool own = ends_with_domain(host, cx.marketplace);
    if (use == Use::image && cx.policy.remove_remote_images && !own)
        return reject(domain, "remote image");
    if (!allowed_domain(cx, host, domain)) return reject(domain, "domain not allowed");
    return {true, domain, ""};
}

// The judgement of the host in `authority`, from the call's cache when it
// was judged before.
Judgement judge_host_cached(const Context& cx, std::string_view authority, Use use) {
    std::string& key = cx.hosts.key;
    key.assign(1, use == Use::image ? 'i' : 'l');
    key.append(authority);
    auto it = cx.hosts.map.find(std::string_view(key));
    if (it != cx.hosts.map.end()) return it->second;
    Judgement j = judge_host(cx, authority, use);
    if (cx.hosts.map.size() < 4096) cx.hosts.map.emplace(key, j);
    return j;
}

// ---- mailto: -----------------------------------------------------------------

// Appends the addresses of a comma- or semicolon-separated list.
void add_address_list(std::string_view list, std::vector<std::string>& addresses) {
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
}

// The recipients a mailto: URL names: its path and its to/cc/bcc fields.
std::vector<std::string> mailto_addresses(std::string_view rest) {
    std::vector<std::string> addresses;
    std::size_t q = rest.find('?');
    add_address_list(rest.substr(0, q), addresses);
    if (q == std::string_view::npos) return addresses;
    std::string_view query = rest.substr(q + 1);
    while (!query.empty()) {
        std::size_t amp = query.find('&');
        std::string_view field = query.substr(0, amp);
        std::size_t eq = field.find('=');
        std::string_view name = field.substr(0, eq);
        if (eq != std::string_view::npos &&
            (iequals(name, "to") || iequals(name, "cc") || iequals(name, "bcc")))
            add_address_list(field.substr(eq + 1), addresses);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return addresses;
}

// mailto: may name only marketplace aliases.
Judgement judge_mailto(const Context& cx, std::string_view rest) {
    for (std::string& a : mailto_addresses(rest)) {
        while (!a.empty() && (a.back() == ' ' || a.back() == '>')) a.pop_back();
        std::size_t at = a.rfind('@');
        std::string domain = at == std::string::npos ? "" : to_lower(a.substr(at + 1));
        if (domain != cx.marketplace) return reject(domain, "mailto non-alias");
    }
    return {};
}

// ---- the URL -----------------------------------------------------------------

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The lower-case scheme of `u` and the length of its name, or "" when `u`
// has none (relative or scheme-relative).
std::string scheme_of(std::string_view u, std::size_t& len) {
    std::size_t i = 0;
    if (!is_alpha(u[0])) return {};
    while (i < u.size() && (is_alpha(u[i]) || (u[i] >= '0' && u[i] <= '9') || u[i] == '+' ||
                            u[i] == '-' || u[i] == '.'))
        ++i;
    if (i >= u.size() || u[i] != ':') return {};
    len = i;
    return to_lower(u.substr(0, i));
}

}  // namespace

namespace {

// Longer names are no DNS names; they are converted each time.
constexpr std::size_t kCachedHostMaxBytes = 253;
constexpr std::size_t kCachedHosts = 1024;

std::optional<std::string> idna_a_label(const std::string& host) {
    // Browsers refuse to load a host IDNA refuses, and a refused host is
    // never allowed either.
    for (int flags : {IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL, IDN2_NFC_INPUT | IDN2_TRANSITIONAL}) {
        char* out = nullptr;
        int rc = idn2_to_ascii_8z(host.c_str(), &out, flags);
        IdnString owned(out);
        if (rc == IDN2_OK && owned) return to_lower(owned.get());
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> to_a_label(const std::string& host) {
    // Messages name the same few hosts again and again (the marketplace's
    // own, carriers, shops), and libidn2 costs more than the rest of a
    // link's judgement: the process remembers the answers.  Not each
    // thread: libmilter runs every SMTP connection on a new thread, and a
    // connection mostly carries one message, so a thread's memory was
    // empty for nearly every message.  Never freed: a connection thread
    // may still judge a link while the process exits.
    if (host.size() > kCachedHostMaxBytes) return idna_a_label(host);
    static std::mutex mu;
    static auto* const known = new std::unordered_map<std::string, std::optional<std::string>>;
    {
        std::lock_guard lock(mu);
        if (auto it = known->find(host); it != known->end()) return it->second;
    }
    std::optional<std::string> a = idna_a_label(host);
    std::lock_guard lock(mu);
    if (known->size() >= kCachedHosts) known->clear();
    known->emplace(host, a);
    return a;
}

bool ends_in_number(std::string_view host) {
    std::size_t dot = host.rfind('.');
    std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
    if (last.empty()) return false;
    if (istarts_with(last, "0x"))
        return std::all_of(last.begin() + 2, last.end(), [](char c) { return hex_value(c) >= 0; });
    return std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Browsers drop tabs and newlines anywhere in a URL, trim C0 controls and
// spaces, and read '\' as '/' in http(s) URLs; judge what they would load.
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
    std::size_t scheme_len = 0;
    std::string scheme = scheme_of(u, scheme_len);
    std::string_view rest;
    if (!scheme.empty()) {
        rest = u.substr(scheme_len + 1);
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
    return judge_host_cached(cx, rest.substr(0, end), use);
}

bool is_registrable_host(const Context& cx, std::string_view host) {
    std::string& key = cx.hosts.key;
    key.assign(1, 'r');
    key.append(host);
    auto it = cx.hosts.map.find(std::string_view(key));
    if (it != cx.hosts.map.end()) return it->second.keep;
    bool real = false;
    std::string h = to_lower(host);
    while (!h.empty() && h.back() == '.') h.pop_back();
    if (!is_ascii(h) || h.find("xn--") != std::string::npos) {
        auto a_label = to_a_label(h);
        h = a_label ? *a_label : std::string();
    }
    if (!h.empty() && !ends_in_number(h) && std::all_of(h.begin(), h.end(), is_host_char)) {
        const char* reg = psl_registrable_domain(public_suffixes(), h.c_str());
        const char* dot = reg ? std::strchr(reg, '.') : nullptr;
        real = dot != nullptr && psl_is_public_suffix2(public_suffixes(), dot + 1,
                                                       PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
    }
    if (cx.hosts.map.size() < 4096) cx.hosts.map.emplace(key, Judgement{real, "", ""});
    return real;
}

Context make_context(const LinkPolicy& policy, const std::string& marketplace_domain) {
    std::string md = to_lower(marketplace_domain);
    if (auto a = to_a_label(md)) md = *a;
    return Context{policy, std::move(md), HostCache{}};
}

}  // namespace mm::policy::link
