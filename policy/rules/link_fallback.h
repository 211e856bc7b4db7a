// The safety net's last resort for an HTML part: when a URL that may not stay
// is still in the cut HTML (the tokenizer read the markup differently from
// some client), the markup goes and the words stay.  The part becomes its
// text rendering (html_to_text) in a <pre>, links that may stay kept visible
// as text, the others replaced by the policy's marker.  Linear in the part,
// with no recursion on its nesting.
//
// Internal to policy/rules (the link_* files).  Pure; thread-safe given a
// Context per thread.
#pragma once

#include <cstddef>
#include <string_view>

#include "policy/rules/link_rule.h"
#include "policy/rules/link_url.h"

namespace mm::policy::link {

// Replaces out.text (the cut HTML) by its text rendering; `left` is the URL
// the safety net found, `input_size` the size of the part as received.
void fall_back_to_text(const Context& cx, const Violation& left, LinkScan& out,
                       std::size_t input_size);

// Replaces out.text by a page holding only the policy's marker: the part
// was over a bound and not read (out.over_limit).
void replace_by_marker(const Context& cx, LinkScan& out, std::size_t input_size);

}  // namespace mm::policy::link
