// The GMime plumbing every body rewrite shares: parse a received Message
// into a tree (own parser options; parser warnings to a callback), write the
// changed tree back as a CRLF body, and the Content-* header edits needed
// when the outer part itself was replaced or re-encoded (its Content-*
// headers live in the message header, which the milter edits separately).
// Not thread-safe per tree; g_mime_init via ensure_gmime().
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/gmime_ptr.h"
#include "policy/message.h"
#include "policy/verdict.h"

namespace mm::policy {

// "Content-Type", "content-disposition", ...
bool is_content_header(std::string_view name);

// "type/subtype" of a part, lower case; application/octet-stream if unknown.
std::string lower_mime_type(GMimeObject* obj);

// `on_warning` may be null.  Returns null when GMime cannot build a message.
GPtr<GMimeMessage> parse_mime(const Message& message, GMimeParserWarningFunc on_warning,
                              void* warning_data);

// The decoded bytes of a leaf part (base64 / quoted-printable undone).
std::string decoded_content(GMimePart* part);

// The content of `top` (what follows the message header) with CRLF line ends.
std::string write_body(GMimeObject* top);

// Removes the message's Content-* headers and adds those of `new_top`.
std::vector<HeaderEdit> content_header_edits(const Message& original, GMimeObject* new_top);

}  // namespace mm::policy
