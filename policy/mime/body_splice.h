// Writing the new body without passing kept attachments through GMime's
// newline filter.  GMime writes a part whose bytes stay as they came (same
// transfer encoding) by copying its raw content through a CRLF filter that
// looks at every byte; for a base64 attachment that already has CRLF line
// ends (as a message received over SMTP has), that filter changes nothing.
// Such parts get a short marker as content while GMime writes the tree, and
// their raw bytes are copied in place of the markers.  The result is the
// same bytes GMime writes (checked against the installed GMime at first
// use, and per part: a CR or LF outside a CRLF pair, or a marker not found
// exactly once, falls back to GMime's own write).
#pragma once

#include <cstddef>
#include <optional>

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/message_body.h"

namespace mm::policy {

// The content of `top` with CRLF line ends, as
// g_mime_object_write_content_to_stream writes it with
// GMIME_NEWLINE_FORMAT_DOS, or nullopt when no part of at least `min_part`
// raw bytes can be copied (the caller writes it with GMime), or when what
// GMime writes around those parts (about `expected`, the size the body
// replaces, less theirs) would not fit under the spill threshold: it is
// held in memory.  The tree is left as it was.  Throws std::runtime_error
// when the body cannot be written.
std::optional<MessageBody> write_body_spliced(GMimeObject* top, const SpoolOptions& spool,
                                              std::size_t expected, std::size_t min_part);

// Whether a splice of the installed GMime's output equals its own write, on
// a message with parts of every shape the splice takes.  Asked once.
bool splice_writes_like_gmime();

}  // namespace mm::policy
