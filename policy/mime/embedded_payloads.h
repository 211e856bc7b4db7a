// Embedded payloads: files encoded inside a text body (uuencode, yEnc,
// BinHex) that mail clients extract and show as attachments.  A text part
// is an allowed type, so without this an executable could travel as lines
// of text; inspect_content judges each block found here as an attachment.
//
// Pure and linear in the text: one pass over its lines, no allocation
// beyond the kept prefix of each block.  At most kMaxPayloads are reported;
// blocks after that are reported as one overflow entry so that they are
// still refused, never skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mm::policy {

struct EmbeddedPayload {
    enum class Kind { uuencode, base64_uuencode, yenc, binhex, overflow };
    Kind kind = Kind::uuencode;
    std::string filename;  // as the block names it; may be empty
    // Byte range of the whole block in the text (begin line to end line
    // inclusive, or to the end of the text when the block is not closed).
    std::size_t begin = 0;
    std::size_t end = 0;
    // The decoded content's first bytes (at most the prefix asked for) and
    // its decoded size; BinHex is not decoded (head empty, size 0).
    std::string head;
    std::uint64_t size = 0;
};

const char* to_string(EmbeddedPayload::Kind kind);

inline constexpr std::size_t kMaxEmbeddedPayloads = 64;

// Every block in `text`, in order.  `keep` bounds EmbeddedPayload::head.
std::vector<EmbeddedPayload> find_embedded_payloads(std::string_view text, std::size_t keep);

// A refused block [begin, end) of the text it was found in, and the notice
// the reader sees in its place (plain text).
struct PayloadCut {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::string notice;
};

// `text` with each cut replaced by its notice; cuts in order, disjoint.
std::string apply_payload_cuts(std::string_view text, const std::vector<PayloadCut>& cuts);

// The same for cuts found in the rendering of `html` (html_to_text): the
// markup that shows a block loses its text (the notice, escaped, in the
// first text node), the tags between stay.
std::string apply_payload_cuts_to_html(std::string_view html, const std::vector<PayloadCut>& cuts);

}  // namespace mm::policy
