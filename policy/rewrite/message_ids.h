// Message-ID mapping: threading across the marketplace without leaking ids.
//
// Every message between the parties of a pair is delivered with a fresh
// marketplace Message-ID (`<24 hex @ marketplace domain>`); the original id
// (which may name the sender's host) is kept in the store against it.  On the
// way to the other side, In-Reply-To and References are mapped so that each
// side only ever sees ids it may know: its own original ids and the
// marketplace ids of the messages it received.  For a message from X to Y,
// each referenced id becomes
//
//   a marketplace id of this pair written by Y  ->  Y's original id (Y's client
//                                                    threads on its own id)
//   a marketplace id of this pair written by X  ->  itself (Y received it)
//   an original id of X in this pair            ->  its marketplace id (what Y saw)
//   anything else (foreign ids, another pair's  ->  dropped
//   marketplace ids, Y's originals, malformed)
//
// A reply is recognised by these mapped ids (ThreadInfo), before any subject
// heuristics.
//
// Planning only reads the store; the record is written by commit_message_id()
// once the message is certain to be delivered, so a refused or tempfailed
// message leaves nothing behind.  Store failures are returned as failures
// (the caller tempfails).  Thread-safe: no state but the store's.
#pragma once

#include <string>
#include <vector>

#include "alias/message_id.h"
#include "alias/party.h"
#include "alias/store.h"
#include "policy/message.h"
#include "policy/thread_info.h"
#include "policy/verdict.h"
#include "util/result.h"

namespace mm::policy {

// "<" + 24 random lowercase hex characters + "@" + domain (lower case) + ">".
// Throws std::runtime_error if the CSPRNG fails (see util/hex.h).
std::string new_message_id(const std::string& domain);

struct MessageIdPlan {
    // Message-ID changed (or added), extra Message-ID fields removed,
    // In-Reply-To / References changed to the mapped ids or removed when none
    // is left.  Removals of one name come highest index first.
    std::vector<HeaderEdit> edits;
    alias::MessageIdRecord record;  // to commit when delivered (created = 0: "now")
    ThreadInfo thread;
};

// `pair` is the recipient's ResolvedAlias (owner = recipient, counterpart =
// sender); `domain` the marketplace domain.  `reuse_id` (without brackets):
// the marketplace id an earlier attempt of this message was committed with
// (a retry keeps it); "": a fresh one.
Result<MessageIdPlan> plan_message_ids(const Message& message, const alias::ResolvedAlias& pair,
                                       const std::string& domain, alias::MessageIdStore& store,
                                       const std::string& reuse_id = {});

// Writes the record; call once the message will be delivered.
Result<void> commit_message_id(alias::MessageIdStore& store, const alias::MessageIdRecord& record);

// The ids of an In-Reply-To / References value (GMime's parser), without
// angle brackets, in order.  Exposed for tests.
std::vector<std::string> parse_message_ids(const std::string& value);

}  // namespace mm::policy
