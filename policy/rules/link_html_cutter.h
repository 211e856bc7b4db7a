// The HTML cut: one pass of the HTML5 tokenizer subset over a part, and each
// attribute, element, text run or comment holding a URL that may not stay is
// cut from the source by its exact byte span (a text run's URL replaced by
// the policy's marker); every other byte stays as it was, nothing is
// re-serialised.  The decisions are the ones a walk over the parsed tree
// makes (the tree-construction facts that matter are kept: foreign content,
// table parts ignored outside a table, an element removed whole up to its
// own end tag).  Linear in the part: each lookahead (an element's end, a
// linked image) reads ahead through a fork of the tokenizer that shares its
// state, and no source range is judged twice.
//
// Internal to policy/rules (the link_* files).  Pure; thread-safe given a
// Context per thread.
#pragma once

#include <string>
#include <string_view>

#include "policy/rules/link_rule.h"
#include "policy/rules/link_url.h"

namespace mm::policy::link {

// `html` with the cuts made; each removal noted in `out`, with the bytes cut
// and inserted.  When the part nests deeper or holds more tokens than the
// policy's bounds, the cut stops there: out.over_limit says why and the
// result is empty.
std::string cut_html_links(const Context& cx, std::string_view html, LinkScan& out);

}  // namespace mm::policy::link
