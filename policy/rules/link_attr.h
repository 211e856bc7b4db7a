// URLs in HTML attribute values, for the pre-scan, the safety net and the
// cut alike: which attributes hold URLs, how each holds them (one URL, a
// srcset list, a meta refresh, CSS url() and @import in style), and the
// value as a browser decodes it (character references).
//
// Internal to policy/rules (the link_* files).  Pure; thread-safe given a
// Context per thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rules/link_url.h"

namespace re2 {
class RE2;
}

namespace mm::policy::link {

// Attributes whose value is a URL (or, for srcset/content/style, holds URLs):
// the names the pre-scan's attribute pattern lists, in the same order.
inline constexpr std::string_view kUrlAttrNames[] = {
    "href",       "src",        "srcset", "lowsrc",   "dynsrc", "background", "action",
    "formaction", "poster",     "cite",   "longdesc", "data",   "codebase",   "archive",
    "classid",    "xlink:href", "ping",   "manifest", "icon",   "content",    "style"};

// CSS url(...) (group 2, an image) and @import "..." (group 3, a link).
const re2::RE2& css_url_re();

// One url(...) or @import "..." in CSS.
struct CssUrl {
    // The bytes that hold it: url(...) whole, or @import's string only (a
    // cut keeps "@import").
    std::size_t begin, end;
    std::string_view url;  // unquoted, a view into the CSS
    bool is_url;           // url() (an image) rather than @import (a link)
};

// Every url(...) and @import in `css`, in order.
std::vector<CssUrl> css_urls(std::string_view css);

// A value without its quotes (an unterminated quote loses its opener only).
std::string_view unquote(std::string_view v);

// A (decoded) value of attribute `name` (lower case) -> the first URL in it
// that may not stay.
std::optional<Violation> judge_attr(const Context& cx, std::string_view name,
                                    std::string_view value);

// One attribute value (source, quotes included) as the tokenizer decodes it.
std::string decode_attr(std::string_view raw_value);

}  // namespace mm::policy::link
