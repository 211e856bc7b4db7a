// JSON strings written as nlohmann::json's dump() writes them (no indent,
// ensure_ascii off), for the per-message lines written by hand: the
// library's tree and writer cost more than the rest of building the line.
// Only for ASCII text: what the library makes of other bytes (invalid UTF-8
// refused or replaced) stays the library's, so a caller sends text that is
// not all ASCII through it.
#pragma once

#include <string>
#include <string_view>

namespace mm {

// Whether every byte of `s` is below 0x80.
bool json_ascii(std::string_view s);

// `s` in quotes: '"' and '\' escaped, the control characters as \b \f \n \r
// \t or \u00xx (lowercase hex), every other byte as it is.
void json_put_string(std::string& out, std::string_view s);

}  // namespace mm
