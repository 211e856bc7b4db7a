// Message: the header fields and body of one message as the milter received
// them (header values without the leading space; body with CRLF line ends).
// The body is a MessageBody: in memory while small, in an unlinked spool
// file once it passes the configured threshold (message_body.h).
//
// parse_message() builds one from raw RFC 5322 bytes (tests, benchmarks);
// read_message() from a file descriptor without holding the body twice (the
// `test` subcommand); the milter fills one from its callbacks.  Those two
// count the header fields as they come (limits.h) and keep none past a
// bound: such a message carries the refusal in `over_limit`.  serialize()
// and write_message() write it back.  Not thread-safe; one Message belongs to
// one message.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/limits.h"
#include "policy/mime/message_body.h"
#include "util/result.h"

namespace mm::policy {

struct Header {
    std::string name;
    std::string value;  // unfolded as received; may contain "\r\n\t" folds
};

struct Message {
    std::vector<Header> headers;
    MessageBody body;
    // Set when the header went over a bound as it arrived: the fields past
    // it were not kept, and the message must be refused with this, never
    // evaluated (milter/message_flow.cc).
    std::optional<LimitRefusal> over_limit;

    // 1-based count of the header `name` (case-insensitive).
    int count(std::string_view name) const;
    // First value of `name`, or nullptr.
    const std::string* find(std::string_view name) const;
    std::size_t size() const;
    // Message is move-only (its body may be a spool file); this copies.
    Message clone() const { return {headers, body.clone(), over_limit}; }
};

// One header name (case-insensitive) and where it occurs in
// Message::headers: occurrence i (1-based, as HeaderEdit::index counts) is
// headers[positions[i - 1]].
struct HeaderName {
    std::string name;  // as first spelled
    std::vector<std::size_t> positions;
};

// Every distinct header name, in the order first seen, in one pass: edits
// planned from it stay linear in the number of headers (a message may carry
// 100,000 of them).
std::vector<HeaderName> header_names(const Message& message);

// A header value as GMime hands it over raw: without the white space after
// the colon and the line end (folds inside are kept).
std::string trim_header_value(const char* raw);

// Splits raw bytes into header fields and body (GMime's parser finds the end
// of the header block).  Fails with invalid on input that has no header block.
// The body stays in memory.
Result<Message> parse_message(std::string_view raw);

// The same split, reading `fd` to its end: the header block is read into
// memory, the body is appended to a MessageBody with `spool` (so a large
// body is never held in memory whole).  `what` names the input in errors.
// The header fields are counted against `limits` as they are read (a field
// is its lines with their line ends); at the first bound passed reading
// stops and the message comes back empty with `over_limit` set.
Result<Message> read_message(int fd, const SpoolOptions& spool, const std::string& what,
                             const MessageLimits& limits = {});

// The header block: "Name: value\r\n" for each header, then a blank line.
std::string serialize_headers(const Message& message);

// The header block, then the body (tests and small messages: it is one string).
std::string serialize(const Message& message);

// The same bytes (write_headers: the header block only), handed piece by
// piece to `sink(std::string_view)`, for a caller that wants them in a buffer
// or file of its own without an extra copy.  Throws std::runtime_error if a
// spilled body cannot be read.
template <class Sink>
void write_headers(const Message& message, Sink&& sink) {
    for (const auto& h : message.headers) {
        sink(std::string_view(h.name));
        sink(std::string_view(": "));
        sink(std::string_view(h.value));
        sink(std::string_view("\r\n"));
    }
    sink(std::string_view("\r\n"));
}

template <class Sink>
void write_message(const Message& message, Sink&& sink) {
    write_headers(message, sink);
    message.body.for_each_chunk([&sink](std::string_view piece) { sink(piece); });
}

}  // namespace mm::policy
