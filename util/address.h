// Email address handling shared by every layer: normalisation for comparison,
// a syntax check for what we accept from operators, and splitting.
//
// Normalisation is deliberately simple and documented: angle brackets and
// surrounding white space are removed and the whole address is lower-cased.
// We do not strip "+tags" or dots: a party that wants several sender
// addresses lists them explicitly.  Thread-safe (pure functions).
#pragma once

#include <string>
#include <string_view>

// iequals, to_lower and is_ascii: callers that compare addresses use them.
#include "util/strings.h"

namespace mm {

// "<Bob@Gmail.Example>" -> "bob@gmail.example"; "<>" -> "".
std::string normalize_address(std::string_view raw);

// addr-spec syntax as operators write it: one '@', a non-empty local part of
// printable ASCII without spaces, quotes, brackets or commas, and a domain of
// dot-separated LDH labels.  Rejects CR/LF and anything else exotic.
bool is_valid_address(std::string_view addr);

std::string_view local_part(std::string_view addr);
std::string_view domain_part(std::string_view addr);

}  // namespace mm
