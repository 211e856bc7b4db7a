#include "policy/mime/flowed_text.h"

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

// One line of a flowed text, its quote marks and stuffing taken off.
struct FlowedLine {
    std::size_t depth = 0;
    std::string_view content;  // without quote marks, stuffing or line ending
    std::string_view eol;      // "\r\n", "\n", "\r" or "" (the text's last line)
    bool flowed = false;
};

FlowedLine read_line(std::string_view text, std::size_t& pos) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (end > pos && text[end - 1] == '\r') --end;
    FlowedLine line;
    line.content = text.substr(pos, end - pos);
    line.eol = text.substr(end, next - end);
    pos = next;
    while (line.depth < line.content.size() && line.content[line.depth] == '>') ++line.depth;
    line.content.remove_prefix(line.depth);
    // Stuffing comes after the quote marks (RFC 3676 4.4 and 4.5).
    if (!line.content.empty() && line.content.front() == ' ') line.content.remove_prefix(1);
    line.flowed = !line.content.empty() && line.content.back() == ' ' && line.content != "-- ";
    return line;
}

}  // namespace

std::optional<FlowedFormat> flowed_format(GMimePart* part) {
    GMimeObject* obj = GMIME_OBJECT(part);
    if (lower_mime_type(obj) != "text/plain") return std::nullopt;
    const char* format = g_mime_object_get_content_type_parameter(obj, "format");
    if (format == nullptr || !iequals(format, "flowed")) return std::nullopt;
    const char* delsp = g_mime_object_get_content_type_parameter(obj, "delsp");
    return FlowedFormat{delsp != nullptr && iequals(delsp, "yes")};
}

std::string unflow(std::string_view text, bool delsp) {
    std::string out;
    out.reserve(text.size());
    // The paragraph being joined: the depth of its lines, and how its last
    // flowed line ended, written only once the paragraph is known to end
    // there (a fixed line would have kept its space).
    bool open = false;
    std::size_t open_depth = 0;
    bool held_space = false;
    std::string_view held_eol;
    auto close = [&] {
        if (held_space) out.push_back(' ');
        out.append(held_eol);
        open = false;
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
        const FlowedLine line = read_line(text, pos);
        if (open && line.depth != open_depth) close();
        if (!open && line.depth > 0) {
            out.append(line.depth, '>');
            if (!line.content.empty()) out.push_back(' ');
        }
        if (!line.flowed) {
            out.append(line.content);
            out.append(line.eol);
            open = false;
            continue;
        }
        held_space = delsp;
        out.append(line.content.substr(0, line.content.size() - (delsp ? 1 : 0)));
        held_eol = line.eol;
        open = true;
        open_depth = line.depth;
    }
    if (open) close();
    return out;
}

void mark_unflowed(GMimePart* part) {
    // The Content-Type is built anew: removing a parameter from the part's
    // own list would not reach the header GMime writes.
    GMimeObject* obj = GMIME_OBJECT(part);
    GMimeContentType* old = g_mime_object_get_content_type(obj);
    GPtr<GMimeContentType> fresh(g_mime_content_type_new(
        g_mime_content_type_get_media_type(old), g_mime_content_type_get_media_subtype(old)));
    GMimeParamList* params = g_mime_content_type_get_parameters(old);
    for (int i = 0, n = g_mime_param_list_length(params); i < n; ++i) {
        GMimeParam* p = g_mime_param_list_get_parameter_at(params, i);
        const char* name = g_mime_param_get_name(p);
        if (iequals(name, "format") || iequals(name, "delsp")) continue;
        g_mime_content_type_set_parameter(fresh.get(), name, g_mime_param_get_value(p));
    }
    g_mime_object_set_content_type(obj, fresh.get());
    // Joined lines may pass the line length 7bit and 8bit allow; the part
    // then takes the encoding GMime finds for its new bytes.
    const GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
    if (enc != GMIME_CONTENT_ENCODING_DEFAULT && enc != GMIME_CONTENT_ENCODING_7BIT &&
        enc != GMIME_CONTENT_ENCODING_8BIT)
        return;
    const GMimeContentEncoding best = g_mime_part_get_best_content_encoding(
        part, enc == GMIME_CONTENT_ENCODING_8BIT ? GMIME_ENCODING_CONSTRAINT_8BIT
                                                 : GMIME_ENCODING_CONSTRAINT_7BIT);
    if (best == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE || best == GMIME_CONTENT_ENCODING_BASE64)
        g_mime_part_set_content_encoding(part, best);
}

}  // namespace mm::policy
