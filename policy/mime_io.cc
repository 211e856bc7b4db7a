#include "policy/mime_io.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

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
    // The parser reads a concatenation of the header block (small, in
    // memory) and the body's own stream (its spool file, or its buffer
    // without a copy).  Both are seekable, so with the parser's default
    // persist-stream mode every part's content is a substream of them, not a
    // copy: a 10 MB message is parsed without a second 10 MB in the heap.
    auto body = message.body.stream();
    if (!body) throw std::runtime_error(body.error().message);
    const std::string head = serialize_headers(message);
    GPtr<GMimeStream> headers(g_mime_stream_mem_new_with_buffer(head.data(), head.size()));
    GPtr<GMimeStream> stream(g_mime_stream_cat_new());
    g_mime_stream_cat_add_source(GMIME_STREAM_CAT(stream.get()), headers.get());
    g_mime_stream_cat_add_source(GMIME_STREAM_CAT(stream.get()), body->get());
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    g_mime_parser_set_persist_stream(parser.get(), TRUE);
    ParserOptionsPtr options(g_mime_parser_options_new());
    if (on_warning != nullptr)
        g_mime_parser_options_set_warning_callback(options.get(), on_warning, warning_data);
    return GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), options.get()));
}

namespace {

// Reads the part's content as GMime decodes it in
// g_mime_data_wrapper_write_to_stream (only the transfer encoding undone),
// handing it to `sink` in pieces; `sink` returns false to stop.  Returns
// false if the part has no readable content.
bool read_decoded(GMimePart* part, const std::function<bool(std::string_view)>& sink) {
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    if (content == nullptr) return false;
    // transfer none in GMime 3.2: the wrapper keeps its reference.
    GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
    if (raw == nullptr || g_mime_stream_reset(raw) == -1) return false;
    GPtr<GMimeStream> filtered(g_mime_stream_filter_new(raw));
    const GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        GPtr<GMimeFilter> decoder(g_mime_filter_basic_new(enc, FALSE));
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
    }
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = g_mime_stream_read(filtered.get(), buf, sizeof buf);
        if (n <= 0 || !sink(std::string_view(buf, static_cast<std::size_t>(n)))) break;
    }
    // Leave the content where GMime's own writers expect it.
    g_mime_stream_reset(raw);
    return true;
}

}  // namespace

// Read in pieces straight into the string: through a memory stream first it
// was held twice (a 7 MB HTML part cost 14 MB at the peak).
std::string decoded_content(GMimePart* part) {
    std::string out;
    // The encoded length bounds the decoded one: one allocation, no doubling.
    if (GMimeDataWrapper* content = g_mime_part_get_content(part))
        if (GMimeStream* raw = g_mime_data_wrapper_get_stream(content)) {
            const gint64 len = g_mime_stream_length(raw);
            if (len > 0) out.reserve(static_cast<std::size_t>(len));
        }
    read_decoded(part, [&](std::string_view piece) {
        out.append(piece);
        return true;
    });
    return out;
}

DecodedPrefix decode_prefix(GMimePart* part, std::size_t keep) {
    DecodedPrefix out;
    out.head.reserve(keep);
    read_decoded(part, [&](std::string_view piece) {
        if (out.head.size() < keep) out.head.append(piece.substr(0, keep - out.head.size()));
        out.size += piece.size();
        return true;
    });
    return out;
}

Result<MessageBody> decode_to_body(GMimePart* part, const SpoolOptions& spool) {
    MessageBody body(spool);
    Result<void> failed;
    read_decoded(part, [&](std::string_view piece) {
        failed = body.append(piece);
        return failed.ok();
    });
    if (!failed) return failed.error();
    return body;
}

MessageBody write_body(GMimeObject* top, const SpoolOptions& spool, std::size_t expected) {
    std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> fopt(g_mime_format_options_new());
    g_mime_format_options_set_newline_format(fopt.get(), GMIME_NEWLINE_FORMAT_DOS);
    auto body = MessageBody::write_with(spool, expected, [&](GMimeStream* out) -> gint64 {
        return g_mime_object_write_content_to_stream(top, fopt.get(), out);
    });
    if (!body) throw std::runtime_error("cannot write the new body: " + body.error().message);
    return std::move(body.value());
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
