// The MIME bounds of policy/limits.h (parts, nesting depth, the header
// block of each part, and the bytes of all of them together), checked by one
// linear pass over the message's bytes before GMime builds a tree of it: a
// tree of 100,000 parts, or of a million header fields in parts, costs
// seconds and hundreds of megabytes before any rule runs.
//
// The pass reads lines as GMime's parser does: a boundary line is "--"
// followed by a boundary declared in a Content-Type field (of the message
// or of any part: every field "Content-Type" seen on the way counts, so a
// header GMime reads and this pass took for content still declares its
// boundary), then optionally "--", then optionally white space.  Parts are
// the boundary lines that open one and the forwarded messages
// (message/rfc822, rfc2822, global, news); depth is the stack of open
// multiparts and forwarded messages.  When it is not sure, it counts more
// than GMime would build, never fewer.
//
// No I/O but reading the body (a spool file); no GMime tree.
#pragma once

#include <optional>

#include "policy/limits.h"
#include "policy/message.h"

namespace mm::policy {

// The first bound `message` goes over, or nothing.  Checks the thread's CPU
// budget as it reads (throws BudgetExceeded); throws std::runtime_error
// when a spilled body cannot be read.
std::optional<LimitRefusal> scan_mime_limits(const Message& message, const MessageLimits& limits);

// parse_mime's gate: under a LimitScope with MIME bounds, throws
// LimitExceeded for a message over one.  Nothing otherwise.
void enforce_mime_limits(const Message& message);

}  // namespace mm::policy
