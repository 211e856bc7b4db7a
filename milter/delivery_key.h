// The delivery key: what tells one message from every other, and its retries
// by the MTA from none (alias/delivery.h).
//
// HMAC-SHA256 with the audit key over the message as it arrived: its first
// Message-ID and Date fields, the envelope sender and recipients (in the
// canonical forms of audit/audit_binding.h) and the digest of its body.  A
// sending MTA's retry carries the same bytes; a second message with the same
// text has another Message-ID (or Date), so it is still judged as a repeat.
// Keyed, because the envelope sender is a real address and the store should
// not hold an unkeyed digest of it.  Reads a spooled body; throws
// std::runtime_error if it cannot.
#pragma once

#include <string>

#include "policy/envelope.h"
#include "policy/message.h"

namespace mm::milter {

// 64 lowercase hex characters.  `body_digest`, when given, gets the body's
// digest (audit/audit_binding.h), which the audit header binds again when
// the body is delivered unchanged.
std::string delivery_key(const policy::Envelope& envelope, const policy::Message& message,
                         const std::string& key, std::string* body_digest = nullptr);

}  // namespace mm::milter
