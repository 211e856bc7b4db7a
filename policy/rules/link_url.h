// Judging one URL for the link rule.  judge() is the one answer that the text
// rule, the HTML pre-scan, the cut and the safety net all ask, so the passes
// cannot disagree about a URL: what a browser would load (tabs and newlines
// dropped, '\' read as '/'), the host as an IDNA A-label (a label mixing
// Latin, Greek or Cyrillic is a look-alike), IP literals in every WHATWG
// spelling, the registrable domain by the public suffix list, and mailto:
// recipients, which may only be the marketplace's aliases.
//
// Internal to policy/rules (the link_* files).  A Context lives for one scan
// and one thread (its host cache is mutable); everything else is pure.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policy/rules/link_rule.h"

namespace mm::policy::link {

// Where a URL was found: images are judged as remote resources too.
enum class Use { link, image };

struct Judgement {
    bool keep = true;
    std::string domain;
    std::string reason;
};

// A URL that may not stay, as found (normalised), and why.
struct Violation {
    std::string url;
    Judgement j;
};

// The hosts judged so far in one call (one message part): marketing mail
// names the same few hosts hundreds of times, and each judgement is an IDNA
// and a libpsl look-up.  Keyed by the use ('l'/'i') and the raw authority,
// or by 'r' and a host is_registrable_host was asked about.
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

Context make_context(const LinkPolicy& policy, const std::string& marketplace_domain);

Judgement judge(const Context& cx, std::string_view raw, Use use);

// The URL a browser would load from `raw`: a view into `raw` when only the
// ends are trimmed (the common case, no allocation), else built in `buf`.
std::string_view normalize_url(std::string_view raw, std::string& buf);
std::string normalize_url(std::string_view raw);

// The lower-case A-label form of a host, or nullopt when IDNA refuses it.
std::optional<std::string> to_a_label(const std::string& host);

// WHATWG URL: a host whose last label is a number is an IPv4 address in one
// of its many spellings (3232235777, 0x7f.1, 127.1).
bool ends_in_number(std::string_view host);

// Whether `host` (as written, any case, U-labels or A-labels) is a name under
// a public suffix the list names, not just under its "*" rule: what tells a
// bare domain a client links ("shop.example.co.uk") from a word with dots
// ("e.g", "file.txt", "1.2.3").  Asked through the call's cache.
bool is_registrable_host(const Context& cx, std::string_view host);

}  // namespace mm::policy::link
