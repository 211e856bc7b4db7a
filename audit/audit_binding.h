// What an X-Marketplace-Audit header is bound to: the delivered message's
// Message-ID and Date, its envelope recipients and its body.  The filter
// computes these from what it hands the MTA; `audit verify` from the message
// as the recipient got it.  Both arrive at the same canonical form:
//
//   msgid  the first Message-ID field, unfolded (CR and LF removed), white
//          space trimmed at both ends; "" when there is none
//   date   the first Date field, the same way
//   rcpt   the envelope recipients, normalised (util/address.h), duplicates
//          removed, sorted, joined by ","
//   body   SHA-256 (lowercase hex) of the body with every bare LF read as
//          CRLF (a mailbox file or an smtp-sink dump has LF line ends)
//
// In the header each field is a tag: the first 128 bits (32 hex digits) of
// HMAC-SHA256(key, "X-Marketplace-Audit bind\n" + name + "\n" + value).
// Keyed, because the recipient is a real address: an unkeyed digest of it
// would let whoever sees the header test a guess.  Pure functions but for
// body_sha256, which reads a spool file.  Thread-safe.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "policy/message.h"

namespace mm::milter {

struct BoundFields {
    std::string message_id;
    std::string recipients;
    std::string date;
    std::string body_sha256;
};

// The field names of bind=, in the order they appear there.
inline constexpr std::array<std::string_view, 4> kBoundFieldNames = {"msgid", "rcpt", "date",
                                                                     "body"};
// Hex digits of one tag.
inline constexpr std::size_t kBindTagHexLen = 32;

// A header field's value unfolded and trimmed.
std::string canonical_field(std::string_view value);
// Addresses as they may come ("<Bob@Example.org>", "bob@example.org"):
// normalised, duplicates removed, sorted, joined by ",".
std::string canonical_recipients(const std::vector<std::string>& addresses);
// Streams the body; throws std::runtime_error if a spooled body cannot be read.
std::string body_sha256(const policy::MessageBody& body);

// Message-ID and Date from `headers`, the recipients and the body's digest.
BoundFields bound_fields(const std::vector<policy::Header>& headers,
                         const std::vector<std::string>& recipients,
                         const policy::MessageBody& body);
// The same with the body's digest computed already (body_sha256 of it).
BoundFields bound_fields(const std::vector<policy::Header>& headers,
                         const std::vector<std::string>& recipients, std::string body_digest);

// The canonical value of field `name` (one of kBoundFieldNames).
const std::string& bound_value(const BoundFields& fields, std::string_view name);

// One field's tag.
std::string bind_tag(std::string_view name, std::string_view value, const std::string& key);
// "msgid:<tag>,rcpt:<tag>,date:<tag>,body:<tag>".
std::string bind_value(const BoundFields& fields, const std::string& key);

}  // namespace mm::milter
