#include "policy/message.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "policy/mime/gmime_ptr.h"
#include "util/address.h"

namespace mm::policy {

void ensure_gmime() {
    static std::once_flag once;
    std::call_once(once, [] {
        g_mime_init();
        // GObject creates a type's class at its first instance, under
        // GLib's own locks, which ThreadSanitizer does not see (GLib is not
        // built with it).  Created here, before libmilter starts its
        // threads, the classes every session uses are ordered before every
        // session.  The references are kept for the life of the process.
        for (GType type : {internet_address_mailbox_get_type(),
                           internet_address_group_get_type(),
                           internet_address_list_get_type(),
                           g_mime_message_get_type(),
                           g_mime_part_get_type(),
                           g_mime_text_part_get_type(),
                           g_mime_multipart_get_type(),
                           g_mime_message_part_get_type(),
                           g_mime_parser_get_type(),
                           g_mime_data_wrapper_get_type(),
                           g_mime_content_type_get_type(),
                           g_mime_content_disposition_get_type(),
                           g_mime_param_list_get_type(),
                           g_mime_param_get_type(),
                           g_mime_header_list_get_type(),
                           g_mime_header_get_type(),
                           g_mime_stream_mem_get_type(),
                           g_mime_stream_fs_get_type(),
                           g_mime_stream_filter_get_type(),
                           g_mime_stream_cat_get_type(),
                           g_mime_filter_basic_get_type(),
                           g_mime_filter_dos2unix_get_type(),
                           g_mime_filter_unix2dos_get_type(),
                           g_mime_filter_charset_get_type(),
                           g_mime_filter_best_get_type()})
            g_type_class_ref(type);
    });
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

namespace {

// Case-insensitive keys that view the names in Message::headers (no copy
// per header).
struct CaseInsensitiveHash {
    std::size_t operator()(std::string_view s) const {
        std::size_t h = 14695981039346656037ull;  // FNV-1a
        for (unsigned char c : s)
            h = (h ^ static_cast<unsigned char>(std::tolower(c))) * 1099511628211ull;
        return h;
    }
};
struct CaseInsensitiveEqual {
    bool operator()(std::string_view a, std::string_view b) const { return iequals(a, b); }
};

}  // namespace

std::vector<HeaderName> header_names(const Message& message) {
    std::vector<HeaderName> names;
    // name -> index in `names`
    std::unordered_map<std::string_view, std::size_t, CaseInsensitiveHash, CaseInsensitiveEqual>
        slot;
    slot.reserve(message.headers.size());
    for (std::size_t i = 0; i < message.headers.size(); ++i) {
        const std::string& name = message.headers[i].name;
        auto [it, fresh] = slot.try_emplace(name, names.size());
        if (fresh) names.push_back({name, {}});
        names[it->second].positions.push_back(i);
    }
    return names;
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
    message.body = MessageBody(rest);
    return message;
}

namespace {

// Where the header block ends (just after the first empty line), searching
// from `from`; npos if not yet seen.  An empty line at the very start means
// a message without header fields.
std::size_t header_block_end(std::string_view data, std::size_t from) {
    if (from == 0 && data.starts_with("\r\n")) return 2;
    if (from == 0 && data.starts_with("\n")) return 1;
    for (std::size_t i = data.find('\n', from); i != std::string_view::npos;
         i = data.find('\n', i + 1)) {
        std::string_view after = data.substr(i + 1);
        if (after.starts_with("\r\n")) return i + 3;
        if (after.starts_with("\n")) return i + 2;
    }
    return std::string_view::npos;
}

// Where the fields of a header block that ends at `end` (header_block_end)
// stop: before its empty line.
std::size_t fields_end(std::string_view data, std::size_t end) {
    if (end >= 2 && data[end - 2] == '\r' && data[end - 1] == '\n') return end - 2;
    return end - 1;
}

// Counts the fields of a header block as its bytes are read: a line that
// does not start with white space starts a field, which ends where the
// next one starts.
class FieldCounter {
public:
    explicit FieldCounter(const MessageLimits& limits) : tally_(limits) {}

    // The fields whose lines end before `upto`; `complete`: the block ends
    // there, so its last field is whole.  False once over a bound.
    bool scan(std::string_view head, std::size_t upto, bool complete) {
        for (std::size_t nl;
             (nl = head.find('\n', scanned_)) != std::string_view::npos && nl < upto;) {
            const bool starts_field = head[scanned_] != ' ' && head[scanned_] != '\t';
            if (starts_field && scanned_ > field_ && !tally_.add(scanned_ - field_)) return false;
            if (starts_field) field_ = scanned_;
            scanned_ = nl + 1;
        }
        // A last line without its line end, at the end of the input.
        if (complete && scanned_ < upto && head[scanned_] != ' ' && head[scanned_] != '\t' &&
            scanned_ > field_) {
            if (!tally_.add(scanned_ - field_)) return false;
            field_ = scanned_;
        }
        const std::size_t pending = (complete ? upto : head.size()) - field_;
        if (complete) return pending == 0 || tally_.add(pending);
        return tally_.fits(pending) || tally_.add(pending);
    }
    const std::optional<LimitRefusal>& exceeded() const { return tally_.exceeded(); }

private:
    HeaderTally tally_;
    std::size_t scanned_ = 0;
    std::size_t field_ = 0;
};

}  // namespace

Result<Message> read_message(int fd, const SpoolOptions& spool, const std::string& what,
                             const MessageLimits& limits) {
    constexpr std::size_t kChunk = 64 * 1024;
    std::string head;  // the header block (and what came with its last read)
    std::string buf(kChunk, '\0');
    auto read_some = [&]() -> Result<std::size_t> {
        for (;;) {
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR)
                return fail(Errc::unavailable, what + ": cannot read: " + std::strerror(errno));
        }
    };
    // Read until the header block is complete (an empty line) or the input
    // ends; only the header block and one chunk are ever in memory here.
    // The fields are counted as they come, so a header block over the
    // limits is never in memory whole.
    std::size_t end = std::string::npos;
    bool eof = false;
    FieldCounter fields(limits);
    while (end == std::string::npos && !eof) {
        // A '\n' in the last two bytes may start the empty line.
        std::size_t from = head.size() >= 2 ? head.size() - 2 : 0;
        auto n = read_some();
        if (!n) return n.error();
        eof = n.value() == 0;
        head.append(buf.data(), n.value());
        end = header_block_end(head, from);
        const bool complete = end != std::string::npos || eof;
        const std::size_t upto = end != std::string::npos ? fields_end(head, end) : head.size();
        if (!fields.scan(head, upto, complete)) {
            Message refused;
            refused.body = MessageBody(spool);
            refused.over_limit = fields.exceeded();
            return refused;
        }
    }
    if (end == std::string::npos) end = head.size();
    // GMime decides where the header block really ends, as parse_message
    // does for a whole message; what it leaves is the start of the body.
    auto parsed = parse_message(std::string_view(head).substr(0, end));
    if (!parsed) return fail(parsed.error().code, what + ": " + parsed.error().message);
    Message message;
    message.headers = std::move(parsed->headers);
    message.body = MessageBody(spool);
    auto add = [&](std::string_view bytes) -> Result<void> {
        if (auto r = message.body.append(bytes); !r)
            return fail(r.error().code, what + ": " + r.error().message);
        return {};
    };
    if (auto r = add(parsed->body.memory()); !r) return r.error();
    if (auto r = add(std::string_view(head).substr(end)); !r) return r.error();
    head = std::string();  // the body is in `message.body` from here on
    while (!eof) {
        auto n = read_some();
        if (!n) return n.error();
        eof = n.value() == 0;
        if (auto r = add(std::string_view(buf.data(), n.value())); !r) return r.error();
    }
    return message;
}

std::string serialize_headers(const Message& message) {
    std::string out;
    write_headers(message, [&out](std::string_view piece) { out += piece; });
    return out;
}

std::string serialize(const Message& message) {
    std::string out;
    out.reserve(message.size());
    write_message(message, [&out](std::string_view piece) { out += piece; });
    return out;
}

}  // namespace mm::policy
