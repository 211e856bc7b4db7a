// evaluate: the heart.  Given the envelope (recipients already authorised),
// the message and the policy snapshot, decide and describe the edits.
// Knows nothing of libmilter and does no I/O but store reads (context.store,
// for the Message-ID mapping): the daemon, the `test` subcommand, the
// benchmarks and the fuzzer all call this one function.
#pragma once

#include <cstdint>
#include <string>

#include "alias/alias_directory.h"
#include "alias/store.h"
#include "policy/rules/attachment_rule.h"
#include "policy/envelope.h"
#include "policy/message.h"
#include "policy/policy.h"
#include "policy/verdict.h"

namespace mm::policy {

struct EvalContext {
    const Policy& policy;
    std::string domain;  // the marketplace domain, lower case
    const AttachmentClassifier& classifier;
    // Message-ID mapping reads it (message_ids.h); null: Message-ID,
    // In-Reply-To and References are left as they are (unit tests of other
    // modules).
    alias::Store* store = nullptr;
    // The daemon's cached directory: orders are read through it when set,
    // from `store` otherwise.
    alias::AliasDirectory* directory = nullptr;
    // Unix seconds for the marketplace rules; 0: the current time.
    std::int64_t now = 0;
};

Verdict evaluate(const Envelope& envelope, const Message& message, const EvalContext& context);

// Applies the header and envelope edits to a copy (for `test --out` and tests;
// the milter applies them through libmilter instead).
void apply_edits(const Edits& edits, Message& message, Envelope& envelope);

}  // namespace mm::policy
