// The GMime plumbing every body rewrite shares: parse a received Message
// into a tree (own parser options; parser warnings to a callback), write the
// changed tree back as a CRLF body, and the Content-* header edits needed
// when the outer part itself was replaced or re-encoded (its Content-*
// headers live in the message header, which the milter edits separately).
// Not thread-safe per tree; g_mime_init via ensure_gmime().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/message.h"
#include "policy/mime/gmime_ptr.h"
#include "policy/verdict.h"

namespace mm::policy {

// "Content-Type", "content-disposition", ...
bool is_content_header(std::string_view name);

// "type/subtype" of a part, lower case; application/octet-stream if unknown.
std::string lower_mime_type(GMimeObject* obj);

// `on_warning` may be null.  Returns null when GMime cannot build a message.
// The tree's parts read their content from `message.body` (substreams, no
// copy): `message` must outlive the tree.  Throws std::runtime_error when a
// spilled body cannot be opened, and under a LimitScope (policy/limits.h)
// LimitExceeded for a message over its MIME bounds, before any parse.
GPtr<GMimeMessage> parse_mime(const Message& message, GMimeParserWarningFunc on_warning,
                              void* warning_data);

// The decoded bytes of a leaf part (base64 / quoted-printable undone), whole
// in memory: only for parts that are small by nature (delivery reports).
std::string decoded_content(GMimePart* part);

// A leaf part decoded as a stream: its first `keep` bytes and its exact
// decoded size, without holding the rest (sizing and sniffing a 7 MB PDF
// costs 64 KiB, not 7 MB).
struct DecodedPrefix {
    std::string head;
    std::uint64_t size = 0;
    // base64_continues_after_padding(part), found in the same read.
    bool base64_after_padding = false;
    // Where decoding a base64 part stopped, so decode_to_body goes on from
    // there instead of decoding the prefix again: the bytes decoded past
    // `head` in its last block, the number of raw bytes read up to the end
    // of that block and the decoder's state.  Not set for other parts.
    struct Resume {
        std::string past_head;
        std::uint64_t raw_read = 0;
        int state = 0;
        std::uint32_t saved = 0;
    };
    std::optional<Resume> resume;
};
DecodedPrefix decode_prefix(GMimePart* part, std::size_t keep);

// Whether decode_prefix sizes base64 parts by counting (the installed GMime
// decodes base64 by the rule the count follows) rather than by decoding
// them whole.  For tests and diagnostics; both give the same result.
bool base64_sized_by_counting();

// Whether a base64 part has digits after its first '='.  GMime's decoder
// ends the data at the padding and ignores the rest; other decoders (mail
// clients among them) go on, so whatever follows would be delivered without
// any check having seen it.  False for parts not in base64.
bool base64_continues_after_padding(GMimePart* part);

// The whole decoded content of a leaf part in a MessageBody (a spool file
// once over the threshold): for the checks that need all of it (libzip).
// `prefix`, when given, is decode_prefix's result for the same part: its
// bytes are taken as they are and decoding goes on after them.
Result<MessageBody> decode_to_body(GMimePart* part, const SpoolOptions& spool,
                                   const DecodedPrefix* prefix = nullptr);

// The content of `top` (what follows the message header) with CRLF line
// ends, in a spool file when `expected` (the size it replaces) is over the
// threshold.  Throws std::runtime_error when it cannot be written.
MessageBody write_body(GMimeObject* top, const SpoolOptions& spool, std::size_t expected);

// Removes the message's Content-* headers and adds those of `new_top`.
std::vector<HeaderEdit> content_header_edits(const Message& original, GMimeObject* new_top);

}  // namespace mm::policy
