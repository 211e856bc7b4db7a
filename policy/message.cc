#include "policy/message.h"

#include <mutex>

#include "policy/gmime_ptr.h"
#include "util/address.h"

namespace mm::policy {

void ensure_gmime() {
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

int Message::count(std::string_view name) const {
    int n = 0;
    for (const auto& h : headers)
        if (iequals(h.name, name)) ++n;
    return n;
}

const std::string* Message::find(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return &h.value;
    return nullptr;
}

std::size_t Message::size() const {
    std::size_t n = body.size() + 2;
    for (const auto& h : headers) n += h.name.size() + h.value.size() + 4;
    return n;
}

std::string trim_header_value(const char* raw) {
    std::string_view v = raw ? raw : "";
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
    return std::string(v);
}

Result<Message> parse_message(std::string_view raw) {
    ensure_gmime();
    // The memory stream copies the bytes; the parser holds its own reference.
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    // As a part, not a message: a GMimeMessage keeps the Content-* headers on
    // its MIME part instead, and we need the header block whole and in order.
    ParserOptionsPtr options(g_mime_parser_options_new());
    GPtr<GMimeObject> parsed(g_mime_parser_construct_part(parser.get(), options.get()));
    if (!parsed) return fail(Errc::invalid, "not a message: no header block");

    Message message;
    GMimeHeaderList* list = g_mime_object_get_header_list(parsed.get());
    int n = g_mime_header_list_get_count(list);
    for (int i = 0; i < n; ++i) {
        GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
        message.headers.push_back(
            {g_mime_header_get_name(h), trim_header_value(g_mime_header_get_raw_value(h))});
    }
    // The body is everything after the blank line that ends the header block,
    // kept byte for byte.
    gint64 end = g_mime_parser_get_headers_end(parser.get());
    if (end < 0 || static_cast<std::size_t>(end) > raw.size()) end = 0;
    std::string_view rest = raw.substr(static_cast<std::size_t>(end));
    if (rest.starts_with("\r\n"))
        rest.remove_prefix(2);
    else if (rest.starts_with("\n"))
        rest.remove_prefix(1);
    message.body.assign(rest);
    return message;
}

std::string serialize(const Message& message) {
    std::string out;
    out.reserve(message.size());
    write_message(message, [&out](std::string_view piece) { out += piece; });
    return out;
}

}  // namespace mm::policy
