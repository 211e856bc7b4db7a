// The text-link rule: URLs as mail clients linkify them in plain text
// (scheme://, //host, www., mailto:), each judged by judge() and, when it may
// not stay, replaced by the policy's marker.  The HTML cut uses the same
// finder on text runs and on attribute values that are not URLs.
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

namespace mm::policy::link {

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

// Text as HTML source (for markers and renderings put into HTML).
std::string html_escape(std::string_view s);

}  // namespace mm::policy::link
