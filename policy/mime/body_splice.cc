#include "policy/mime/body_splice.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/hex.h"

namespace mm::policy {
namespace {

struct FormatOptionsFree {
    void operator()(GMimeFormatOptions* p) const { g_mime_format_options_free(p); }
};

// Whether raw content has CRLF line ends only (no CR or LF but in a CRLF
// pair): what GMime's DOS newline filter leaves as it is.  Fed in blocks;
// 16 bytes a step with GCC/Clang vector extensions for the bulk.
class CrlfCheck {
public:
    bool feed(const unsigned char* p, std::size_t n) {
        std::size_t i = 0;
        // A CR pending from the last block, and the first byte (no byte
        // before it in this block), one at a time.
        while (ok_ && i < n && (i == 0 || cr_)) scalar(p[i++]);
        using Bytes = unsigned char __attribute__((vector_size(16)));
        constexpr std::size_t kWidth = sizeof(Bytes);
        // Each step reads the byte before it and the byte after it; the
        // lanes' faults are gathered and looked at once, after the loop.
        Bytes bad = {};
        for (; i + kWidth + 1 <= n; i += kWidth) {
            Bytes c, prev, next;
            std::memcpy(&c, p + i, kWidth);
            std::memcpy(&prev, p + i - 1, kWidth);
            std::memcpy(&next, p + i + 1, kWidth);
            const Bytes cr = (Bytes)(c == '\r');
            const Bytes lf = (Bytes)(c == '\n');
            bad |= (cr & ~(Bytes)(next == '\n')) | (lf & ~(Bytes)(prev == '\r'));
        }
        std::uint64_t halves[2];
        std::memcpy(halves, &bad, sizeof halves);
        ok_ = ok_ && (halves[0] | halves[1]) == 0;
        // The step before checked its last CR against this byte: it is
        // consumed as that CR's LF.
        if (ok_ && i > 0 && i < n) cr_ = p[i - 1] == '\r';
        while (ok_ && i < n) scalar(p[i++]);
        return ok_;
    }
    bool complete() const { return ok_ && !cr_; }

private:
    void scalar(unsigned char c) {
        if (cr_) {
            ok_ = c == '\n';
            cr_ = false;
        } else if (c == '\r') {
            cr_ = true;
        } else {
            ok_ = c != '\n';
        }
    }

    bool ok_ = true;
    bool cr_ = false;
};

// Base64 parts whose bytes GMime would copy (the same transfer encoding in
// the header and in the content), in the order GMime writes them.
void collect(GMimeObject* obj, std::size_t min_part, std::vector<GMimePart*>& out) {
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart* multipart = GMIME_MULTIPART(obj);
        for (int i = 0, n = g_mime_multipart_get_count(multipart); i < n; ++i)
            collect(g_mime_multipart_get_part(multipart, i), min_part, out);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        GMimeObject* body = inner != nullptr ? g_mime_message_get_mime_part(inner) : nullptr;
        if (body != nullptr) collect(body, min_part, out);
    } else if (GMIME_IS_PART(obj)) {
        GMimePart* part = GMIME_PART(obj);
        GMimeDataWrapper* content = g_mime_part_get_content(part);
        if (content == nullptr ||
            g_mime_part_get_content_encoding(part) != GMIME_CONTENT_ENCODING_BASE64 ||
            g_mime_data_wrapper_get_encoding(content) != GMIME_CONTENT_ENCODING_BASE64)
            return;
        GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
        const gint64 len = raw != nullptr ? g_mime_stream_length(raw) : -1;
        if (len > 0 && static_cast<std::size_t>(len) >= min_part) out.push_back(part);
    }
}

// A part written as a marker: its own content, held until it is put back.
struct Stand {
    GMimePart* part;
    GPtr<GMimeDataWrapper> content;
    std::string marker;
};

// Puts every part's own content back, however the write ends.
class PutBack {
public:
    explicit PutBack(std::vector<Stand>& stands) : stands_(stands) {}
    ~PutBack() {
        for (Stand& s : stands_)
            if (s.content) g_mime_part_set_content(s.part, s.content.get());
    }
    PutBack(const PutBack&) = delete;
    PutBack& operator=(const PutBack&) = delete;

private:
    std::vector<Stand>& stands_;
};

// Whether the raw content ends with a line break (the marker does too, so
// whatever GMime writes after a part sees the same ending).
bool ends_with_crlf(GMimeStream* raw) {
    const gint64 len = g_mime_stream_length(raw);
    if (len < 2) return false;
    GPtr<GMimeStream> tail(
        g_mime_stream_substream(raw, raw->bound_start + len - 2, raw->bound_start + len));
    char two[2];
    return tail && g_mime_stream_read(tail.get(), two, 2) == 2 && two[0] == '\r' && two[1] == '\n';
}

// A token the message cannot be expected to contain: a marker found more
// often than placed means the write falls back, never a wrong body, so a
// clock and a counter do where the kernel's CSPRNG cannot be read.  Not
// std::random_device: constructing one runs CPUID, a trap to the hypervisor
// on a virtual machine, at every rewritten body.
std::string random_token() {
    static std::atomic<std::uint64_t> calls{0};
    try {
        return "MMSPLICE" + random_hex(16);
    } catch (const std::exception&) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::uint64_t words[2] = {
            static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()),
            ++calls};
        std::string token = "MMSPLICE";
        for (std::uint64_t w : words)
            for (int i = 0; i < 16; ++i, w >>= 4) token += kHex[w & 15];
        return token;
    }
}

// The raw bytes of `part`'s content appended to `body`; false (nothing to
// rely on in `body`) when a line does not end in CRLF.
bool copy_raw(GMimeDataWrapper* content, MessageBody& body) {
    GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
    if (raw == nullptr || g_mime_stream_reset(raw) == -1) return false;
    CrlfCheck check;
    // Not zeroed first: every byte read is written by the read.
    constexpr std::size_t kBlock = 64 * 1024;
    const auto buf = std::make_unique_for_overwrite<char[]>(kBlock);
    bool ok = true;
    for (;;) {
        const ssize_t n = g_mime_stream_read(raw, buf.get(), kBlock);
        if (n < 0) ok = false;
        if (n <= 0) break;
        const std::string_view piece(buf.get(), static_cast<std::size_t>(n));
        if (!check.feed(reinterpret_cast<const unsigned char*>(piece.data()), piece.size())) {
            ok = false;
            break;
        }
        if (Result<void> appended = body.append(piece); !appended)
            throw std::runtime_error("cannot write the new body: " + appended.error().message);
    }
    g_mime_stream_reset(raw);
    return ok && check.complete();
}

std::size_t count_of(std::string_view in, std::string_view what) {
    std::size_t n = 0;
    for (std::size_t at = in.find(what); at != std::string_view::npos; at = in.find(what, at + 1))
        ++n;
    return n;
}

}  // namespace

std::optional<MessageBody> write_body_spliced(GMimeObject* top, const SpoolOptions& spool,
                                              std::size_t expected, std::size_t min_part) {
    std::vector<GMimePart*> parts;
    collect(top, min_part, parts);
    if (parts.empty()) return std::nullopt;
    // GMime's part of the output is held in memory: no more of it than a
    // body may hold before it spills (the rest goes the way of write_with).
    std::size_t copied = 0;
    for (GMimePart* part : parts)
        copied += static_cast<std::size_t>(
            g_mime_stream_length(g_mime_data_wrapper_get_stream(g_mime_part_get_content(part))));
    if (expected > copied && expected - copied > spool.spill_threshold) return std::nullopt;

    const std::string token = random_token();
    std::vector<Stand> stands;
    stands.reserve(parts.size());
    std::string written;
    {
        PutBack put_back(stands);
        for (GMimePart* part : parts) {
            GMimeDataWrapper* content = g_mime_part_get_content(part);
            std::string marker = token + "x" + std::to_string(stands.size()) + "y";
            if (ends_with_crlf(g_mime_data_wrapper_get_stream(content))) marker += "\r\n";
            GPtr<GMimeStream> stream(
                g_mime_stream_mem_new_with_buffer(marker.data(), marker.size()));
            GPtr<GMimeDataWrapper> stand_in(
                g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_BASE64));
            stands.push_back({part, GPtr<GMimeDataWrapper>(content), std::move(marker)});
            g_object_ref(content);
            g_mime_part_set_content(part, stand_in.get());
        }
        std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> fopt(g_mime_format_options_new());
        g_mime_format_options_set_newline_format(fopt.get(), GMIME_NEWLINE_FORMAT_DOS);
        GPtr<GMimeStream> mem(g_mime_stream_mem_new());
        if (g_mime_object_write_content_to_stream(top, fopt.get(), mem.get()) < 0)
            return std::nullopt;
        GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
        written.assign(reinterpret_cast<const char*>(bytes->data), bytes->len);
    }
    // Every marker once, in order, and no other occurrence of the token.
    if (count_of(written, token) != stands.size()) return std::nullopt;
    std::vector<std::size_t> found;
    for (std::size_t at = 0; const Stand& s : stands) {
        at = written.find(s.marker, at);
        if (at == std::string::npos) return std::nullopt;
        found.push_back(at);
        at += s.marker.size();
    }

    MessageBody body(spool);
    std::size_t from = 0;
    const auto append = [&](std::string_view piece) {
        if (Result<void> appended = body.append(piece); !appended)
            throw std::runtime_error("cannot write the new body: " + appended.error().message);
    };
    for (std::size_t i = 0; i < stands.size(); ++i) {
        append(std::string_view(written).substr(from, found[i] - from));
        if (!copy_raw(stands[i].content.get(), body)) return std::nullopt;
        from = found[i] + stands[i].marker.size();
    }
    append(std::string_view(written).substr(from));
    return body;
}

bool splice_writes_like_gmime() {
    static const bool same = [] {
        ensure_gmime();
        // Parts of every shape the splice takes (at the top, in a nested
        // multipart, in an attached message; ending with and without a line
        // break, empty), beside parts it leaves to GMime.
        static constexpr char kMessage[] =
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "preamble\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            "--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "QUJDRA==\r\n"
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\nQUJD\r\n\r\n"
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "--b1\r\nContent-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "From here\r\n.\r\n..\r\n \t \r\n--b1x\r\n\x01\x7f\x80\xff\x00=\r\n"
            "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
            "Content-Type: multipart/mixed; boundary=b2\r\n\r\n"
            "--b2\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "iVBORw0KGgo=\r\n--b2--\r\n"
            "--b1\r\nContent-Type: multipart/alternative; boundary=b3\r\n\r\n"
            "--b3\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "R0lGODlh\r\n\r\n\r\n--b3--\r\n"
            "--b1--\r\nepilogue\r\n";
        GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(kMessage, sizeof kMessage - 1));
        GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
        GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
        GMimeObject* top = message ? g_mime_message_get_mime_part(message.get()) : nullptr;
        if (top == nullptr) return false;
        std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> fopt(g_mime_format_options_new());
        g_mime_format_options_set_newline_format(fopt.get(), GMIME_NEWLINE_FORMAT_DOS);
        const auto gmime_write = [&] {
            GPtr<GMimeStream> mem(g_mime_stream_mem_new());
            g_mime_object_write_content_to_stream(top, fopt.get(), mem.get());
            GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
            return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
        };
        const std::string want = gmime_write();
        const std::optional<MessageBody> spliced =
            write_body_spliced(top, SpoolOptions{}, sizeof kMessage, 0);
        // The parts written as markers are back: GMime writes the same again.
        return spliced && spliced->str() == want && gmime_write() == want;
    }();
    return same;
}

}  // namespace mm::policy
