// The pre-scan and the safety net of the HTML link rule: every URL candidate
// in raw HTML bytes (URL-bearing attributes, bare http(s)://, ftp: and www.
// URLs, CSS url() and @import), found by RE2 without building anything.
//
// As the pre-scan it answers whether the tokenizer is needed at all: most
// messages hold only allowed URLs and are returned as they are.  As the
// safety net it runs on the cut's result (and on comments and script the cut
// judges whole) and names the first URL that may not stay, entities decoded
// rather than deferred to the tokenizer.
//
// Internal to policy/rules (the link_* files).  Pure; thread-safe given a
// Context per thread.
#pragma once

#include <optional>
#include <string_view>

#include "policy/rules/link_url.h"

namespace mm::policy::link {

// Whether the HTML needs the tokenizer's cut: a candidate that may not stay,
// an entity that hides one, or a linked image the policy unwraps.
bool needs_tokenizer(const Context& cx, std::string_view html);

// The first URL candidate in the HTML that may not stay, if any.
std::optional<Violation> first_violation(const Context& cx, std::string_view html);

}  // namespace mm::policy::link
