// Writing a part's new content back into the MIME tree: decoded bytes as
// they are, a changed text in the part's own charset and transfer encoding,
// or a short text/plain notice in place of the whole part.
#pragma once

#include <gmime/gmime.h>

#include <string>
#include <string_view>

#include "policy/mime/mime_parts.h"

namespace mm::policy {

// The part's content becomes `bytes` as they are; the part's transfer
// encoding applies when it is written.
void set_decoded_content(GMimePart* part, std::string_view bytes);

// Sets the new text while keeping the charset and the transfer encoding
// the part had, so a client that trusts a <meta charset> in the HTML or
// expected quoted-printable still reads it right.  Only when the text
// cannot be expressed in the old charset does it become UTF-8.  A part
// that is not a text part gets the bytes of `text` as they are.
void set_part_text(GMimePart* part, const std::string& text);

// The leaf is replaced in its multipart (or as its message's top part) by
// an inline text/plain part that says `text`.
void replace_with_notice(const MimeLeaf& leaf, const std::string& text);

}  // namespace mm::policy
