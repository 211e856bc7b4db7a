#include "policy/mime_io.h"

#include <algorithm>

#include "util/address.h"

namespace mm::policy {
namespace {

struct FormatOptionsFree {
    void operator()(GMimeFormatOptions* p) const { g_mime_format_options_free(p); }
};

}  // namespace

bool is_content_header(std::string_view name) {
    return name.size() > 8 && iequals(name.substr(0, 8), "content-");
}

std::string lower_mime_type(GMimeObject* obj) {
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (ct == nullptr) return "application/octet-stream";
    GCharPtr t(g_mime_content_type_get_mime_type(ct));
    return t ? to_lower(t.get()) : "application/octet-stream";
}

GPtr<GMimeMessage> parse_mime(const Message& message, GMimeParserWarningFunc on_warning,
                              void* warning_data) {
    ensure_gmime();
    // Serialised straight into the array the stream takes over: one copy of
    // the message instead of two (a 10 MB message is held long enough).
    GByteArray* bytes = g_byte_array_sized_new(static_cast<guint>(message.size()));
    auto append = [bytes](std::string_view s) {
        g_byte_array_append(bytes, reinterpret_cast<const guint8*>(s.data()),
                            static_cast<guint>(s.size()));
    };
    write_message(message, append);
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(bytes));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    ParserOptionsPtr options(g_mime_parser_options_new());
    if (on_warning != nullptr)
        g_mime_parser_options_set_warning_callback(options.get(), on_warning, warning_data);
    return GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), options.get()));
}

std::string decoded_content(GMimePart* part) {
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    if (content == nullptr) return {};
    GPtr<GMimeStream> mem(g_mime_stream_mem_new());
    g_mime_data_wrapper_write_to_stream(content, mem.get());
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    return bytes ? std::string(reinterpret_cast<const char*>(bytes->data), bytes->len)
                 : std::string();
}

std::string write_body(GMimeObject* top) {
    std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> fopt(g_mime_format_options_new());
    g_mime_format_options_set_newline_format(fopt.get(), GMIME_NEWLINE_FORMAT_DOS);
    GPtr<GMimeStream> out(g_mime_stream_mem_new());
    g_mime_object_write_content_to_stream(top, fopt.get(), out.get());
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return bytes ? std::string(reinterpret_cast<const char*>(bytes->data), bytes->len)
                 : std::string();
}

std::vector<HeaderEdit> content_header_edits(const Message& original, GMimeObject* new_top) {
    std::vector<HeaderEdit> edits;
    std::vector<std::string> names;
    for (const auto& h : original.headers)
        if (is_content_header(h.name) &&
            std::none_of(names.begin(), names.end(), [&](auto& n) { return iequals(n, h.name); }))
            names.push_back(h.name);
    for (const auto& name : names)
        for (int i = original.count(name); i >= 1; --i)
            edits.push_back({HeaderEdit::Op::remove, name, i, {}});
    GMimeHeaderList* list = g_mime_object_get_header_list(new_top);
    for (int i = 0, n = g_mime_header_list_get_count(list); i < n; ++i) {
        GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
        const char* name = g_mime_header_get_name(h);
        if (name == nullptr || !is_content_header(name)) continue;
        edits.push_back(
            {HeaderEdit::Op::add, name, 1, trim_header_value(g_mime_header_get_raw_value(h))});
    }
    return edits;
}

}  // namespace mm::policy
