// Message limits: the bounds no message may pass on its way through the
// filter (the daemon config's `limits:` section), and the refusal that
// answers a message over one.
//
// Each bound is checked where its data arrives, before the work it would
// cost: header fields as the MTA hands them over (HeaderTally: the milter's
// header callback, read_message), the MIME structure by a linear pre-scan
// before GMime builds a tree (mime/mime_limits.h, from parse_mime), and the
// CPU time of one evaluation at the loop points of the MIME walk
// (check_cpu_budget).  A message over a bound is refused, never
// half-checked.
//
// The MIME bounds and the CPU budget reach the code that checks them
// through a LimitScope: what the calling thread evaluates while the scope
// lives.  The thread is the right owner: the budget is that thread's CPU
// clock, and the scope spans one synchronous call (milter/message_flow.cc
// around evaluate()), never a callback boundary.  Without a scope nothing is
// bounded: tests, benchmarks and the fuzzer evaluate as before.
#pragma once

#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "policy/verdict.h"

namespace mm::policy {

struct MessageLimits {
    static constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

    // The message header; also each header block inside the body (parts,
    // forwarded messages), as GMime keeps those in memory too, and the bytes
    // of all of those together.
    std::size_t max_header_count = kUnlimited;
    std::size_t max_header_bytes = kUnlimited;  // "Name: value\r\n" summed
    // MIME entities below the top one (parts, forwarded messages), and how
    // deep multiparts and forwarded messages nest (a plain message: 0).
    std::size_t max_mime_parts = kUnlimited;
    std::size_t max_mime_depth = kUnlimited;
    // Words the content classifier reads in one evaluation, summed over its
    // readings (the message's texts, each attachment's, the contact
    // reasons'): each costs it tens of bytes (its token, its spelling), more
    // than the text itself, and a reading may be kept to the end.
    std::size_t max_text_words = kUnlimited;
    // Contact details the privacy rule replaces in one evaluation: each is
    // kept (what it found, where) until its part is rewritten.
    std::size_t max_redactions = kUnlimited;
    // CPU time of one evaluation on its thread; zero: none.
    std::chrono::milliseconds cpu_budget{0};

    bool bounds_mime() const {
        return max_mime_parts != kUnlimited || max_mime_depth != kUnlimited;
    }
};

// What a message over a bound is answered with, and its audit rule.
struct LimitRefusal {
    std::string smtp_code = "552";
    std::string enhanced_code = "5.3.4";
    std::string text;  // "Message header exceeds 1000 headers (limit limits.max_header_count)"
    RuleHit rule;      // {"limits.max_header_count", "more than 1000 header fields"}
};

// The refusals, one per bound; `where` says which header block when it is
// not the message's own ("part 3").
LimitRefusal header_count_refusal(std::size_t limit, std::string_view where = {});
LimitRefusal header_bytes_refusal(std::size_t limit, std::string_view where = {});
LimitRefusal mime_parts_refusal(std::size_t limit);
LimitRefusal mime_depth_refusal(std::size_t limit);
LimitRefusal text_words_refusal(std::size_t limit);
LimitRefusal redactions_refusal(std::size_t limit);
LimitRefusal cpu_budget_refusal(std::chrono::milliseconds budget);

// Thrown from inside an evaluation that met a bound: the message is refused
// with refusal() and nothing of the evaluation is used.
class LimitExceeded : public std::runtime_error {
public:
    explicit LimitExceeded(LimitRefusal refusal);
    const LimitRefusal& refusal() const { return refusal_; }

private:
    LimitRefusal refusal_;
};

// The CPU budget in particular: the daemon config decides whether it is
// refused or tempfailed (limits.over_budget_action).
class BudgetExceeded : public LimitExceeded {
public:
    using LimitExceeded::LimitExceeded;
};

// Counts header fields as they arrive.  add() says whether to keep the
// field: false from the first one over a bound on, and exceeded() then
// holds the refusal.  The caller keeps no more fields once refused, so what
// it holds is bounded by the limits.
class HeaderTally {
public:
    explicit HeaderTally(const MessageLimits& limits, std::string_view where = {});

    // A field of `bytes` bytes as sent ("Name: value\r\n").
    bool add(std::size_t bytes);
    // Whether `pending` more bytes of a field still arriving fit.
    bool fits(std::size_t pending) const { return bytes_ + pending <= max_bytes_; }
    const std::optional<LimitRefusal>& exceeded() const { return exceeded_; }
    std::size_t count() const { return count_; }

    static std::size_t field_bytes(std::string_view name, std::string_view value) {
        return name.size() + value.size() + 4;
    }

private:
    std::size_t max_count_;
    std::size_t max_bytes_;
    std::string where_;
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;
    std::optional<LimitRefusal> exceeded_;
};

// While it lives, the calling thread evaluates under `limits`: the MIME
// bounds apply to every parse_mime and the CPU budget runs from here.
// Scopes nest (the inner one applies until it ends).  Not movable: it
// belongs to the stack frame that opened it.
class LimitScope {
public:
    explicit LimitScope(const MessageLimits& limits);
    ~LimitScope();
    LimitScope(const LimitScope&) = delete;
    LimitScope& operator=(const LimitScope&) = delete;

private:
    friend const MessageLimits* active_limits();
    friend void check_cpu_budget();
    friend std::size_t text_words_left();
    friend void charge_text_words(std::size_t words);
    friend void check_redactions(std::size_t found);
    friend void charge_redactions(std::size_t made);
    friend class CpuAllowance;
    const MessageLimits limits_;
    std::chrono::nanoseconds deadline_{0};  // on the thread's CPU clock; 0: none
    std::size_t text_words_ = 0;            // read so far
    std::size_t redactions_ = 0;            // made so far
    LimitScope* outer_;
};

// The limits of the innermost LimitScope of this thread; null outside one.
const MessageLimits* active_limits();

// The words the content classifier may still read in this thread's scope
// (limits.max_text_words less what it has read; unlimited outside a
// scope), and what it has read: `words` more.
std::size_t text_words_left();
void charge_text_words(std::size_t words);

// Throws LimitExceeded when `found` more replacements than have been made
// would pass limits.max_redactions (nothing outside a scope), and charges
// the ones made.
void check_redactions(std::size_t found);
void charge_redactions(std::size_t made);

// Throws BudgetExceeded once this thread has used its scope's CPU budget.
// One clock read (a system call): for loop points that do real work each.
void check_cpu_budget();

// A share of what is left of the scope's CPU budget when it is made, for
// work that may stop early and be judged without the rest (the text of
// attachments): a slow document then costs its own text, not the message's
// delivery.  Without a scope or a budget it is never spent.  Belongs to the
// thread that made it.
class CpuAllowance {
public:
    // `share` of the budget left, in (0, 1].
    explicit CpuAllowance(double share);
    bool spent() const;

private:
    std::chrono::nanoseconds deadline_{0};  // on the thread's CPU clock; 0: none
};

}  // namespace mm::policy
