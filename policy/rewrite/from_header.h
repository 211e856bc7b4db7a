// Builds the From: value the recipient sees: "Display Name" <alias@domain>.
// The display name is neutralised (CR, LF, NUL, quotes, angle brackets and
// backslashes removed; white space collapsed) and RFC 2047-encoded by GMime
// when it is not ASCII.  g_mime_init() must have been called.
#pragma once

#include <string>

namespace mm::policy {

std::string sanitize_display_name(const std::string& name);
std::string make_from_header(const std::string& display_name, const std::string& address);

}  // namespace mm::policy
