#include "policy/mime/mime_io.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "policy/limits.h"
#include "policy/mime/base64_decode.h"
#include "policy/mime/body_splice.h"
#include "policy/mime/mime_limits.h"
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
    // Before GMime builds a tree: its cost follows the parts and their
    // headers, which the pre-scan bounds in one pass over the bytes.
    enforce_mime_limits(message);
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
    GPtr<GMimeMessage> parsed(g_mime_parser_construct_message(parser.get(), options.get()));
    check_cpu_budget();
    return parsed;
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
    // Content with no transfer encoding to undo is read as it is: a filter
    // stream without a filter would only copy it through its own buffer.
    GPtr<GMimeStream> filtered;
    GMimeStream* source = raw;
    const GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        filtered.reset(g_mime_stream_filter_new(raw));
        GPtr<GMimeFilter> decoder(g_mime_filter_basic_new(enc, FALSE));
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
        source = filtered.get();
    }
    char buf[64 * 1024];
    gint64 stalled_at = -1;
    for (;;) {
        const ssize_t n = g_mime_stream_read(source, buf, sizeof buf);
        if (n < 0) break;
        if (n == 0) {
            // The filter stream reads 0 bytes for a 4 KiB block that decodes
            // to nothing (line breaks, soft breaks, junk), well before the
            // end: stopping there hid everything after it from sniffing and
            // sizing.  Only the end of the content ends it (or a source that
            // stops moving, so a stream that never reports its end cannot
            // spin).
            const gint64 at = g_mime_stream_tell(raw);
            if (g_mime_stream_eos(source) || at == stalled_at) break;
            stalled_at = at;
            continue;
        }
        if (!sink(std::string_view(buf, static_cast<std::size_t>(n)))) break;
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

namespace {

// The bytes GMime's base64 decoder takes as digits (its rank table, '='
// aside).  Everything else (line breaks, spaces, junk) is skipped.
constexpr bool is_base64_digit(unsigned char c) {
    return static_cast<unsigned char>((c | 0x20) - 'a') < 26 ||
           static_cast<unsigned char>(c - '/') < 11 || c == '+';
}

// The number of base64 digits in [p, p + n): 16 bytes per step with
// GCC/Clang vector extensions (GCC does not vectorise the plain loop at -O2),
// a byte counter per lane emptied before it can wrap.
std::size_t count_base64_digits(const unsigned char* p, std::size_t n) {
    using Bytes = unsigned char __attribute__((vector_size(16)));
    constexpr std::size_t kWidth = sizeof(Bytes);
    std::size_t count = 0;
    std::size_t i = 0;
    while (n - i >= kWidth) {
        const std::size_t end = i + std::min<std::size_t>((n - i) / kWidth, 255) * kWidth;
        Bytes lanes = {};
        for (; i < end; i += kWidth) {
            Bytes c;
            std::memcpy(&c, p + i, kWidth);
            const Bytes letter = (Bytes)((Bytes)((c | 0x20) - 'a') < 26);
            const Bytes slash_digit = (Bytes)((Bytes)(c - '/') < 11);
            const Bytes plus = (Bytes)(c == '+');
            lanes -= letter | slash_digit | plus;  // a true lane is 0xff: -1
        }
        for (std::size_t k = 0; k < kWidth; ++k) count += lanes[k];
    }
    for (; i < n; ++i) count += is_base64_digit(p[i]);
    return count;
}

// What GMime 3.2.13's g_mime_encoding_base64_decode_step produces, counted
// instead of decoded.  Its state is the number of digits of the open group,
// or -1 once an '=' was seen: every 4 digits give 3 bytes, the first '='
// ends the data (the group it closes gives 2 bytes after 3 digits, 1 after
// 2, none after fewer) and everything after it is ignored; an unfinished
// group at the end gives nothing.  The result does not depend on how the
// input is cut into steps.
class Base64Count {
public:
    // Goes on from where a decoder stopped (its state: the digits of the
    // open group, -1 after an '=').
    explicit Base64Count(int state) : n_(state) {}

    std::uint64_t step(const unsigned char* in, std::size_t len) {
        if (n_ < 0) return 0;
        const void* pad = std::memchr(in, '=', len);
        const std::size_t data =
            pad != nullptr ? static_cast<std::size_t>(static_cast<const unsigned char*>(pad) - in)
                           : len;
        const std::size_t digits = static_cast<std::size_t>(n_) + count_base64_digits(in, data);
        std::uint64_t out = digits / 4 * 3;
        n_ = static_cast<int>(digits % 4);
        if (pad != nullptr) {
            out += n_ == 3 ? 2 : n_ == 2 ? 1 : 0;
            n_ = -1;
        }
        return out;
    }

private:
    int n_;
};

// Watches encoded base64 as it is read for a digit after the first '='
// (base64_continues_after_padding).
class PaddingWatch {
public:
    void feed(const unsigned char* p, std::size_t n) {
        if (continues_) return;
        if (!padded_) {
            const void* pad = std::memchr(p, '=', n);
            if (pad == nullptr) return;
            padded_ = true;
            const auto* from = static_cast<const unsigned char*>(pad) + 1;
            n -= static_cast<std::size_t>(from - p);
            p = from;
        }
        continues_ = count_base64_digits(p, n) > 0;
    }
    bool continues() const { return continues_; }

private:
    bool padded_ = false;
    bool continues_ = false;
};

// The rule above is GMime's since 3.2.13; 3.2.7 went on decoding after an
// '=' (and took bytes off per '=' at the end of each 4 KiB read), and later
// releases may change it again.  So the installed library is asked once, on
// inputs where those rules disagree, cut at every point as decode_prefix
// hands over from decoding to counting; when it answers differently, base64
// parts are decoded whole as before and sizes stay exact.
bool gmime_counts_like_us() {
    using namespace std::string_view_literals;
    static const bool same = [] {
        for (std::string_view in :
             {"QUJD=QUJD"sv, "QUJDQUI=\r\nQUJD"sv, "QUJDQQ=="sv, "QUJDQ==="sv, "Q="sv, "QQ="sv,
              "QQQ="sv, "QQQQ="sv, "QUJDQ"sv, "QUJDQUJ"sv, "Q U*J\n@D\x80\x00QUJD"sv, "=QUJD"sv}) {
            const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
            for (std::size_t cut = 0; cut <= in.size(); ++cut) {
                GMimeEncoding decoder;
                g_mime_encoding_init_decode(&decoder, GMIME_CONTENT_ENCODING_BASE64);
                std::string out(g_mime_encoding_outlen(&decoder, in.size()), '\0');
                std::size_t decoded = g_mime_encoding_step(&decoder, in.data(), cut, out.data());
                Base64Count count(decoder.state);
                const std::uint64_t counted = decoded + count.step(bytes + cut, in.size() - cut);
                decoded +=
                    g_mime_encoding_step(&decoder, in.data() + cut, in.size() - cut, out.data());
                if (counted != decoded) return false;
            }
        }
        return true;
    }();
    return same;
}

DecodedPrefix::Resume resume_point(std::uint64_t raw_read, const Base64Decoder& decoder,
                                   std::string_view past_head) {
    return {std::string(past_head), raw_read, decoder.state(), decoder.saved()};
}

// Base64 (nearly every attachment): only the blocks that reach into the
// prefix are decoded (base64_decode.h); the rest is counted, several times
// cheaper than decoding it only to learn the size.
DecodedPrefix base64_prefix(GMimeDataWrapper* content, std::size_t keep) {
    DecodedPrefix out;
    // transfer none in GMime 3.2: the wrapper keeps its reference.
    GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
    if (raw == nullptr || g_mime_stream_reset(raw) == -1) return out;
    Base64Decoder decoder;
    out.head.reserve(keep + Base64Decoder::max_output(4096));
    std::optional<Base64Count> count;
    if (keep == 0) count.emplace(decoder.state());
    PaddingWatch padding;
    std::uint64_t raw_read = 0;
    unsigned char buf[64 * 1024];
    for (;;) {
        // While decoding, read about what the rest of the prefix needs (four
        // digits per three bytes, line breaks aside), so little is decoded
        // past it.
        const std::size_t want =
            count ? sizeof buf
                  : std::clamp<std::size_t>((keep - out.head.size()) / 3 * 4 + 8, 4096, sizeof buf);
        const ssize_t n = g_mime_stream_read(raw, reinterpret_cast<char*>(buf), want);
        if (n <= 0) break;
        const auto len = static_cast<std::size_t>(n);
        raw_read += len;
        padding.feed(buf, len);
        if (count) {
            out.size += count->step(buf, len);
            continue;
        }
        // Decoded straight into the head, then cut back to `keep`; what
        // was decoded past it is kept for decode_to_body.
        const std::size_t had = out.head.size();
        out.head.resize(had + Base64Decoder::max_output(len));
        const std::size_t got =
            decoder.step(buf, len, reinterpret_cast<unsigned char*>(out.head.data() + had));
        out.size += got;
        const std::size_t cut = std::min(had + got, keep);
        if (cut == keep) {
            count.emplace(decoder.state());
            out.resume = resume_point(raw_read, decoder,
                                      std::string_view(out.head).substr(cut, had + got - cut));
        }
        out.head.resize(cut);
    }
    // Decoded to its end without reaching `keep`: the head is all of it.
    if (!count) out.resume = resume_point(raw_read, decoder, {});
    out.base64_after_padding = padding.continues();
    // Leave the content where GMime's own writers expect it.
    g_mime_stream_reset(raw);
    return out;
}

// Whether `part` is base64 and base64_decode.h decodes it as GMime would.
GMimeDataWrapper* fast_base64(GMimePart* part) {
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    if (content == nullptr ||
        g_mime_data_wrapper_get_encoding(content) != GMIME_CONTENT_ENCODING_BASE64 ||
        !gmime_counts_like_us() || !base64_decodes_like_gmime())
        return nullptr;
    return content;
}

// The whole of a base64 part through base64_decode.h, in pieces to `sink`,
// going on after `prefix` when given.
Result<void> base64_whole(GMimeDataWrapper* content, const DecodedPrefix* prefix,
                          const std::function<Result<void>(std::string_view)>& sink) {
    // transfer none in GMime 3.2: the wrapper keeps its reference.
    GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
    if (raw == nullptr || g_mime_stream_reset(raw) == -1) return {};
    Base64Decoder decoder;
    Result<void> done;
    constexpr std::size_t kBlock = 64 * 1024;
    // Not zeroed first (each message paid for it): what is read or decoded
    // is written before it is read.
    const auto in = std::make_unique_for_overwrite<char[]>(kBlock);
    if (prefix != nullptr && prefix->resume) {
        // Past what the prefix decoded: read, not seeked (a substream of
        // the parser's concatenated stream does not seek back reliably).
        const DecodedPrefix::Resume& at = *prefix->resume;
        for (std::uint64_t skipped = 0; skipped < at.raw_read;) {
            const ssize_t n = g_mime_stream_read(
                raw, in.get(),
                static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, at.raw_read - skipped)));
            if (n <= 0) {
                g_mime_stream_reset(raw);
                return fail(Errc::unavailable, "an attachment's content ended before its prefix");
            }
            skipped += static_cast<std::uint64_t>(n);
        }
        decoder.set_state(at.state, at.saved);
        done = sink(prefix->head);
        if (done.ok()) done = sink(at.past_head);
    }
    const auto decoded = std::make_unique_for_overwrite<char[]>(Base64Decoder::max_output(kBlock));
    while (done.ok() && !decoder.ended()) {
        const ssize_t n = g_mime_stream_read(raw, in.get(), kBlock);
        if (n <= 0) break;
        const std::size_t got = decoder.step(reinterpret_cast<const unsigned char*>(in.get()),
                                             static_cast<std::size_t>(n),
                                             reinterpret_cast<unsigned char*>(decoded.get()));
        if (got > 0) done = sink(std::string_view(decoded.get(), got));
    }
    // Leave the content where GMime's own writers expect it.
    g_mime_stream_reset(raw);
    return done;
}

}  // namespace

bool base64_continues_after_padding(GMimePart* part) {
    GMimeDataWrapper* content = g_mime_part_get_content(part);
    if (content == nullptr ||
        g_mime_data_wrapper_get_encoding(content) != GMIME_CONTENT_ENCODING_BASE64)
        return false;
    // transfer none in GMime 3.2: the wrapper keeps its reference.
    GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
    if (raw == nullptr || g_mime_stream_reset(raw) == -1) return false;
    PaddingWatch padding;
    unsigned char buf[64 * 1024];
    while (!padding.continues()) {
        const ssize_t n = g_mime_stream_read(raw, reinterpret_cast<char*>(buf), sizeof buf);
        if (n <= 0) break;
        padding.feed(buf, static_cast<std::size_t>(n));
    }
    // Leave the content where GMime's own writers expect it.
    g_mime_stream_reset(raw);
    return padding.continues();
}

bool base64_sized_by_counting() {
    return gmime_counts_like_us();
}

DecodedPrefix decode_prefix(GMimePart* part, std::size_t keep) {
    if (GMimeDataWrapper* content = fast_base64(part)) return base64_prefix(content, keep);
    DecodedPrefix out;
    out.base64_after_padding = base64_continues_after_padding(part);
    out.head.reserve(keep);
    read_decoded(part, [&](std::string_view piece) {
        if (out.head.size() < keep) out.head.append(piece.substr(0, keep - out.head.size()));
        out.size += piece.size();
        return true;
    });
    return out;
}

Result<MessageBody> decode_to_body(GMimePart* part, const SpoolOptions& spool,
                                   const DecodedPrefix* prefix) {
    MessageBody body(spool);
    if (GMimeDataWrapper* content = fast_base64(part)) {
        Result<void> done = base64_whole(
            content, prefix, [&](std::string_view piece) { return body.append(piece); });
        if (!done) return done.error();
        return body;
    }
    Result<void> failed;
    read_decoded(part, [&](std::string_view piece) {
        failed = body.append(piece);
        return failed.ok();
    });
    if (!failed) return failed.error();
    return body;
}

MessageBody write_body(GMimeObject* top, const SpoolOptions& spool, std::size_t expected) {
    // Kept base64 attachments copied, not passed through GMime's newline
    // filter (body_splice.h); below this size the saving is not worth the
    // stand-in content.
    constexpr std::size_t kCopyFrom = 2048;
    if (splice_writes_like_gmime())
        if (auto spliced = write_body_spliced(top, spool, expected, kCopyFrom))
            return std::move(*spliced);
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
    for (const HeaderName& h : header_names(original)) {
        if (!is_content_header(h.name)) continue;
        for (auto i = static_cast<int>(h.positions.size()); i >= 1; --i)
            edits.push_back({HeaderEdit::Op::remove, h.name, i, {}});
    }
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
