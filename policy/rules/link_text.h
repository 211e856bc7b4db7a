// The text-link rule: URLs as mail clients linkify them in plain text
// (scheme://, //host, www., mailto:, and a bare domain with a path:
// "shop.example.co.uk/deal"), each judged by judge() and, when it may not
// stay, replaced by the policy's marker.  The HTML cut uses the same finder
// on text runs and on attribute values that are not URLs.
//
// A bare domain is a host under a public suffix the list names
// (is_registrable_host: "e.g./", "file.txt/", "1.2/3" are words), after a
// character that cannot be part of a URL, followed by '/', '?' or '#' and
// the rest of the URL.  One without a path ("see shop.example") is left
// alone: too many words end in a suffix ("README.md", "tomorrow.best").
//
// Internal to policy/rules (the link_* files).  Pure; thread-safe given a
// Context per thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rules/link_rule.h"
#include "policy/rules/link_url.h"

namespace re2 {
class RE2;
}

namespace mm::policy::link {

// The text finder's pattern: group 1 //host after a non-URL character,
// group 2 scheme://, www., mailto:, group 3 a bare domain's host
// (kBareDomainRe).
const re2::RE2& text_url_re();

// The lowest index at or after `pos` where a match of text_url_re may
// start, or npos when none can: RE2 is asked from there, not across the
// prose between links.
std::size_t earliest_text_link(std::string_view text, std::size_t pos);

// Where text_url_re's match from `from` ends when the text there is white
// space, then http://, https:// or ftp:// (any case) and printable ASCII up
// to white space, '<', '>', '"' or the end: that match is the scheme
// alternative from the byte after `from`, found without RE2.  npos when
// the text is not of that form.
std::size_t scheme_link_end(std::string_view text, std::size_t from);

// A URL found in text that may not stay: its bytes [begin, end) in the text.
struct TextHit {
    std::size_t begin, end;
    std::string url;
    Judgement j;
};

// The URLs in `text` that may not stay, in order.
std::vector<TextHit> find_text_links(const Context& cx, std::string_view text);

// `text` with each URL that may not stay replaced by `marker`.
LinkScan scan_text(const Context& cx, std::string_view text, std::string_view marker,
                   Unchanged unchanged = Unchanged::copy);

// The length of `url` without the sentence punctuation after it, and without
// a closing bracket that has no opener inside it: both belong to the prose.
std::size_t trim_url_end(std::string_view url);

// The RE2 alternative for a bare domain up to the '/', '?' or '#' after it
// (the host in its capture group, with the port), after a character that
// cannot be part of a URL or at the start; its rest is found by bare_url_end.
// The pre-scan and the text rule both use it, so they find the same ones.
inline constexpr std::string_view kBareDomainRe =
    R"((?:^|[^\pL\pN_.@/:%&=?#~+\\-])((?:[\pL\pN-]+\.)+[\pL\pN-]+(?::[0-9]{1,5})?)[/?#])";

// A bare domain matched by kBareDomainRe, host [host_b, host_e) and the
// '/', '?' or '#' at host_e: where the URL ends in `s` (its bytes run to
// one of `stops` or the end, as the finder's class does, then trimmed by
// trim_url_end), or npos when it is no link: not a registrable host (a host
// with a www. label is one, as clients link any www.), or no path left after
// trimming.  `resume` is where the search goes on: past the URL, or at the
// www. label of a refused host, or past the '/'.
std::size_t bare_url_end(const Context& cx, std::string_view s, std::size_t host_b,
                         std::size_t host_e, std::string_view stops, std::size_t& resume);

// The start of the dotted host (and port) that ends just before s[q], or npos:
// where a kBareDomainRe match could start around it (at the start, or one
// character before; inside it only at a non-ASCII character).
std::size_t bare_host_start(std::string_view s, std::size_t q);

}  // namespace mm::policy::link
