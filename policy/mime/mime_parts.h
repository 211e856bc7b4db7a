// What the content inspection asks of one MIME part: where it sits in the
// tree, the names a client may show or save it under, whether a client shows
// it as the message's text, and its text as UTF-8.
#pragma once

#include <gmime/gmime.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mm::policy {

// A leaf of the MIME tree and where it sits, so that it can be replaced.
struct MimeLeaf {
    GMimePart* part;
    GMimeMultipart* parent;  // null: the top part of `owner`
    int index;
    GMimeMessage* owner;
    std::string path;  // MIME part number, "1.2"
};

// At most `max` bytes of `s`, line breaks, tabs and NULs as spaces: safe in
// a one-line report.
std::string printable(std::string_view s, std::size_t max = 100);

// The status and returned-header parts of a delivery report.
bool is_report_part(const std::string& type);

// A part a mail client shows as text or HTML, whatever its disposition
// or name: clients render text attachments inline, links clickable.
bool renders_as_text(const MimeLeaf& leaf);

bool is_html(const MimeLeaf& leaf);

// The message's own text: judged by the text rules only.  A text part
// with a name or an attachment disposition is judged as an attachment
// and by the text rules.
bool is_body_text(const MimeLeaf& leaf);

// Every name a client may show or save the part under: the
// Content-Disposition filename and the Content-Type name (GMime decodes
// RFC 2231 and RFC 2047 in both).  Distinct names only, disposition first.
std::vector<std::string> part_names(GMimePart* part);

// The part's text as UTF-8, as g_mime_text_part_get_text gives it, from
// its decoded `bytes` (no NUL).  nullopt when the charset cannot be read.
std::optional<std::string> part_text(GMimePart* part, std::string bytes);

// The finding for a part whose base64 goes on after its padding.
std::string padding_finding(const MimeLeaf& leaf);

}  // namespace mm::policy
