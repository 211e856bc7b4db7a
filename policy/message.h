// Message: the header fields and body of one message as the milter received
// them (header values without the leading space; body with CRLF line ends).
//
// parse_message() builds one from raw RFC 5322 bytes (the `test` subcommand,
// tests, benchmarks); the milter fills one from its callbacks.  serialize()
// writes it back.  Not thread-safe; one Message belongs to one message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace mm::policy {

struct Header {
    std::string name;
    std::string value;  // unfolded as received; may contain "\r\n\t" folds
};

struct Message {
    std::vector<Header> headers;
    std::string body;

    // 1-based count of the header `name` (case-insensitive).
    int count(std::string_view name) const;
    // First value of `name`, or nullptr.
    const std::string* find(std::string_view name) const;
    std::size_t size() const;
};

// A header value as GMime hands it over raw: without the white space after
// the colon and the line end (folds inside are kept).
std::string trim_header_value(const char* raw);

// Splits raw bytes into header fields and body (GMime's parser finds the end
// of the header block).  Fails with invalid on input that has no header block.
Result<Message> parse_message(std::string_view raw);

// "Name: value\r\n" for each header, a blank line, then the body.
std::string serialize(const Message& message);

// The same bytes, handed piece by piece to `sink(std::string_view)`, for a
// caller that wants them in a buffer of its own without an extra copy.
template <class Sink>
void write_message(const Message& message, Sink&& sink) {
    for (const auto& h : message.headers) {
        sink(std::string_view(h.name));
        sink(std::string_view(": "));
        sink(std::string_view(h.value));
        sink(std::string_view("\r\n"));
    }
    sink(std::string_view("\r\n"));
    sink(std::string_view(message.body));
}

}  // namespace mm::policy
