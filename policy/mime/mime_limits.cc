#include "policy/mime/mime_limits.h"

#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "policy/mime/gmime_ptr.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

// The longest line prefix kept when a line spans two reads of the body:
// every boundary is shorter, and a Content-Type field longer than this is
// read only so far (the header bounds refuse such a header block anyway).
constexpr std::size_t kLineKeep = 1 << 20;

// Boundaries are looked up by the line's view, without a copy.
struct ViewHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using BoundarySet = std::unordered_set<std::string, ViewHash, std::equal_to<>>;

bool is_lwsp(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_wsp(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim_right(std::string_view s) {
    while (!s.empty() && is_lwsp(s.back())) s.remove_suffix(1);
    return s;
}

// One line of the body: `text` without its line end, cut at kLineKeep when
// the line is longer (`whole` false; `tail_lwsp`: all that was cut is white
// space).  `bytes` is its full length, line end included.
struct Line {
    std::string_view text;
    std::size_t bytes = 0;
    bool whole = true;
    bool tail_lwsp = true;
};

// The name of a header field the line starts, or nothing.  GMime's parser
// takes a name up to the colon, white space before the colon dropped.
std::optional<std::string_view> field_name(std::string_view text) {
    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view name = text.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    if (name.empty()) return std::nullopt;
    for (char c : name)
        if (static_cast<unsigned char>(c) <= 32 || static_cast<unsigned char>(c) >= 127)
            return std::nullopt;
    return name;
}

// What the Content-Type fields of one header block declare.
struct Declared {
    std::vector<std::string> boundaries;  // of multipart types
    bool message = false;                 // a forwarded message
};

// The types GMime parses as a message of their own (its type registry).
bool is_forwarded_message(GMimeContentType* ct) {
    for (const char* sub : {"rfc822", "rfc2822", "global", "news"})
        if (g_mime_content_type_is_type(ct, "message", sub)) return true;
    return false;
}

// Reads one Content-Type value with GMime's own parser, so a boundary is
// what GMime will take it to be (quoting, RFC 2231 continuations).
void read_content_type(std::string_view value, Declared& into) {
    // Only those two types declare anything, and a type is one token: the
    // rest (nearly every part) needs no parse.
    const std::string lower = to_lower(value);
    if (lower.find("multipart") == std::string::npos && lower.find("message") == std::string::npos)
        return;
    std::string unfolded;
    unfolded.reserve(value.size());
    for (char c : value)
        if (c != '\r' && c != '\n' && c != '\0') unfolded.push_back(c);
    GPtr<GMimeContentType> ct(g_mime_content_type_parse(nullptr, unfolded.c_str()));
    if (!ct) return;
    if (g_mime_content_type_is_type(ct.get(), "multipart", "*")) {
        const char* boundary = g_mime_content_type_get_parameter(ct.get(), "boundary");
        if (boundary != nullptr && *boundary != '\0') into.boundaries.emplace_back(boundary);
    } else if (is_forwarded_message(ct.get())) {
        into.message = true;
    }
}

class MimeScan {
public:
    explicit MimeScan(const MessageLimits& limits)
        : limits_(limits),
          tally_(unlimited()),
          all_parts_(bytes_only(limits), "all MIME parts together") {}

    // The message's own header: its Content-Type opens the top multipart or
    // forwarded message.
    void top(const std::vector<Header>& headers) {
        for (const auto& h : headers)
            if (iequals(h.name, "Content-Type")) read_content_type(h.value, declared_);
        for (const auto& b : declared_.boundaries) boundaries_.insert(b);
        in_block_ = true;
        end_block();
    }

    void feed(std::string_view chunk) {
        if (result_) return;
        check_cpu_budget();
        while (!chunk.empty() && !result_) {
            const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
            const std::size_t n =
                nl != nullptr
                    ? static_cast<std::size_t>(static_cast<const char*>(nl) - chunk.data()) + 1
                    : chunk.size();
            const std::string_view piece = chunk.substr(0, n);
            chunk.remove_prefix(n);
            if (nl == nullptr) {
                carry(piece);
            } else if (carry_bytes_ == 0 && inert(piece)) {
                // Nothing to do: on_line would change nothing.
            } else if (carry_bytes_ == 0) {
                on_line({strip_eol(piece), piece.size()});
            } else {
                carry(piece);
                flush_carry();
            }
        }
    }

    std::optional<LimitRefusal> finish() {
        if (!result_ && carry_bytes_ > 0) flush_carry();
        if (!result_) finish_capture();
        if (!result_ && in_block_) end_block();
        return std::move(result_);
    }

private:
    static MessageLimits unlimited() { return {}; }
    static MessageLimits bytes_only(MessageLimits limits) {
        limits.max_header_count = MessageLimits::kUnlimited;
        return limits;
    }

    // A whole line of content (no header block, no Content-Type being
    // read) that can be neither a boundary line ("--") nor the start of a
    // Content-Type field: on_line leaves everything as it was.  Most lines
    // of a base64 attachment, so tested before the call.
    bool inert(std::string_view piece) const {
        const char c = piece.front();
        return !in_block_ && !capturing_ && c != '-' && c != 'c' && c != 'C';
    }

    static std::string_view strip_eol(std::string_view s) {
        if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
        if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
        return s;
    }

    void carry(std::string_view piece) {
        carry_bytes_ += piece.size();
        const std::size_t room = kLineKeep - std::min(kLineKeep, carry_.size());
        carry_.append(piece.substr(0, room));
        for (char c : piece.substr(std::min(room, piece.size())))
            if (!is_lwsp(c)) carry_tail_lwsp_ = false;
    }

    void flush_carry() {
        const bool whole = carry_bytes_ <= kLineKeep;
        on_line({whole ? strip_eol(carry_) : std::string_view(carry_), carry_bytes_, whole,
                 carry_tail_lwsp_});
        carry_.clear();
        carry_bytes_ = 0;
        carry_tail_lwsp_ = true;
    }

    void on_line(const Line& line) {
        const bool continuation = !line.text.empty() && is_wsp(line.text.front());
        if (capturing_) {
            if (continuation)
                capture(line.text);
            else
                finish_capture();
        }
        if (line.text.size() >= 2 && line.text[0] == '-' && line.text[1] == '-' &&
            on_delimiter(line))
            return;
        if (in_block_ && header_line(line, continuation)) return;
        if (!continuation) start_capture(line.text, false);
    }

    // A line of a header block; false when it ends the block without being
    // part of it (the content starts with it).
    bool header_line(const Line& line, bool continuation) {
        if (line.text.empty()) {
            end_block();
            return true;
        }
        if (continuation) {
            field_bytes_ += line.bytes;
            if (!fits(field_bytes_)) over_header(field_bytes_);
            return true;
        }
        const auto name = field_name(line.text);
        if (!name) {
            end_block();
            return false;
        }
        close_field();
        field_bytes_ = line.bytes;
        if (!fits(field_bytes_)) over_header(field_bytes_);
        if (iequals(*name, "Content-Type")) start_capture(line.text, true);
        return true;
    }

    void close_field() {
        if (field_bytes_ > 0) {
            if (!tally_.add(field_bytes_))
                result_ = tally_.exceeded();
            else if (!all_parts_.add(field_bytes_))
                result_ = all_parts_.exceeded();
        }
        field_bytes_ = 0;
    }

    // The fields of every part's header are in GMime's memory at once:
    // their bytes together are bounded too.
    bool fits(std::size_t pending) const {
        return tally_.fits(pending) && all_parts_.fits(pending);
    }

    void over_header(std::size_t bytes) {
        if (!tally_.fits(bytes)) {
            tally_.add(bytes);
            result_ = tally_.exceeded();
        } else {
            all_parts_.add(bytes);
            result_ = all_parts_.exceeded();
        }
    }

    // "Content-Type:" at the start of the line, in a header block or not.
    void start_capture(std::string_view text, bool in_block) {
        if (text.size() < 13 || !iequals(text.substr(0, 12), "content-type")) return;
        std::string_view rest = text.substr(12);
        while (!rest.empty() && is_wsp(rest.front())) rest.remove_prefix(1);
        if (rest.empty() || rest.front() != ':') return;
        capturing_ = true;
        capture_in_block_ = in_block;
        capture_.assign(rest.substr(1));
    }

    void capture(std::string_view text) {
        if (capture_.size() < kLineKeep)
            capture_.append(text.substr(0, kLineKeep - capture_.size()));
    }

    void finish_capture() {
        if (!capturing_) return;
        capturing_ = false;
        Declared d;
        read_content_type(capture_, d);
        capture_.clear();
        for (auto& b : d.boundaries) boundaries_.insert(b);
        if (!capture_in_block_) return;
        declared_.message |= d.message;
        declared_.boundaries.insert(declared_.boundaries.end(), d.boundaries.begin(),
                                    d.boundaries.end());
    }

    // A header block ended: what it declared opens a multipart, or a
    // forwarded message whose own header block follows.
    void end_block() {
        finish_capture();
        close_field();
        in_block_ = false;
        if (result_) return;
        Declared d = std::move(declared_);
        declared_ = {};
        if (!d.boundaries.empty()) {
            push(std::move(d.boundaries));
        } else if (d.message) {
            push({});
            if (!result_) open_part();
        }
    }

    void push(std::vector<std::string> boundaries) {
        stack_.push_back(std::move(boundaries));
        if (stack_.size() > limits_.max_mime_depth)
            result_ = mime_depth_refusal(limits_.max_mime_depth);
    }

    // A new entity: a part after its boundary line, or a forwarded message.
    void open_part() {
        if (++parts_ > limits_.max_mime_parts) {
            result_ = mime_parts_refusal(limits_.max_mime_parts);
            return;
        }
        in_block_ = true;
        tally_ = HeaderTally(limits_, "MIME part " + std::to_string(parts_));
        field_bytes_ = 0;
    }

    // True when the line is a boundary line of a boundary declared so far.
    bool on_delimiter(const Line& line) {
        if (!line.whole && !line.tail_lwsp) return false;
        const std::string_view name = trim_right(line.text.substr(2));
        bool close = false;
        std::string_view boundary;
        if (name.size() > 2 && name.ends_with("--") &&
            boundaries_.contains(name.substr(0, name.size() - 2))) {
            close = true;
            boundary = name.substr(0, name.size() - 2);
        } else if (boundaries_.contains(name)) {
            boundary = name;
        } else {
            return false;
        }
        if (in_block_) end_block();
        if (result_) return true;
        unwind_to(boundary, close);
        if (close)
            in_block_ = false;
        else
            open_part();
        return true;
    }

    // The multiparts and forwarded messages inside the one `boundary`
    // belongs to end; a closing line ends that one too.  A boundary of no
    // open multipart changes nothing (its part was counted all the same).
    void unwind_to(std::string_view boundary, bool close) {
        for (std::size_t i = stack_.size(); i-- > 0;) {
            for (const auto& b : stack_[i]) {
                if (b != boundary) continue;
                stack_.resize(close ? i : i + 1);
                return;
            }
        }
    }

    const MessageLimits& limits_;
    std::optional<LimitRefusal> result_;
    BoundarySet boundaries_;                       // every one declared so far
    std::vector<std::vector<std::string>> stack_;  // open multiparts; {}: a forwarded message
    std::size_t parts_ = 0;
    // The header block being read, if any.
    bool in_block_ = false;
    HeaderTally tally_;
    HeaderTally all_parts_;  // the bytes of every part's header
    std::size_t field_bytes_ = 0;
    Declared declared_;
    // A Content-Type field being read (its value, unfolded later).
    bool capturing_ = false;
    bool capture_in_block_ = false;
    std::string capture_;
    // A line that spans two reads.
    std::string carry_;
    std::size_t carry_bytes_ = 0;
    bool carry_tail_lwsp_ = true;
};

}  // namespace

std::optional<LimitRefusal> scan_mime_limits(const Message& message, const MessageLimits& limits) {
    ensure_gmime();
    MimeScan scan(limits);
    scan.top(message.headers);
    message.body.for_each_chunk([&scan](std::string_view chunk) { scan.feed(chunk); });
    return scan.finish();
}

void enforce_mime_limits(const Message& message) {
    const MessageLimits* limits = active_limits();
    if (limits == nullptr || !limits->bounds_mime()) return;
    if (auto refusal = scan_mime_limits(message, *limits)) throw LimitExceeded(std::move(*refusal));
}

}  // namespace mm::policy
