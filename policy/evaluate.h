// evaluate: the heart.  Given the envelope (recipients already authorised),
// the message and the policy snapshot, decide and describe the edits.
// Knows nothing of libmilter and does no I/O but store reads (context.store,
// for the Message-ID mapping and the marketplace rules): the daemon, the
// `test` subcommand, the benchmarks and the fuzzer all call this one function.
//
// A pipeline of stages (policy/stages/stage.h), walked in this order:
//   1. forged X-Marketplace-* headers removed (every message, ours or not)
//   2. the pair identified; mail that is not for an alias stops here
//   3. null-sender mail: a bounce rewritten, refused or held (stops); an
//      auto-reply goes on as mail from the counterpart
//   4. envelope and From: rewritten to the counterpart's alias
//   5. the header allow-list (header_privacy.h)
//   6. To/Cc: this pair's aliases only
//   7. Message-IDs mapped (message_ids.h; with a store)
//   8. content: attachments, links, content rules, redaction (mime_inspect.h)
//   9. the marketplace rules, read-only (marketplace_step.h; with a store)
// Each stage appends rule hits and edits and proposes a decision; the
// decision is folded in one place, by one precedence:
//   tempfail > reject > quarantine > modify > accept
// The proposal of highest precedence wins with its reply; a later stage wins
// a tie (the marketplace's quarantine text over the content rule's).  A
// refusal (reject, tempfail) ends the pipeline and drops every edit: nothing
// is delivered.  A stage may also end it with any other proposal; a stage
// that ends it with a quarantine holds the message as received (no edits),
// while a quarantine from a stage that lets it go on (content, marketplace)
// holds the message as it would have been delivered.
#pragma once

#include <cstdint>
#include <string>

#include "alias/alias_directory.h"
#include "alias/store.h"
#include "policy/envelope.h"
#include "policy/message.h"
#include "policy/policy.h"
#include "policy/rules/attachment_rule.h"
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
    // What tells this message from any other and its retries from none
    // (milter/delivery_key.h), 64 lowercase hex; "": a retry is judged afresh.
    std::string delivery_key = {};
};

Verdict evaluate(const Envelope& envelope, const Message& message, const EvalContext& context);

// Applies the header and envelope edits to a copy (for `test --out` and tests;
// the milter applies them through libmilter instead).
void apply_edits(const Edits& edits, Message& message, Envelope& envelope);

}  // namespace mm::policy
