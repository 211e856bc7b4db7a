// Marketplace rules: opt-out, [Important] and its misuse, exempt orders, the
// per-order limit on unsolicited seller messages, repeats, FBA and
// gift-return threads, and the seller's vacation switch.
//
// Everything here is pure: no I/O, no store, no libmilter.  The store runs
// decide() inside the write transaction of Store::apply_thread_event with the
// thread's current ThreadState, and writes the ThreadUpdate it returns, so
// decide() is fast (one RE2::Set pass per contact reason, one SHA-256 per text
// part) and throws nothing but a limit (below).  The policy is immutable once loaded and may be
// shared by any number of threads.
//
// decide() walks one ordered table of rules (marketplace_rules.cc); the
// first refusal ends the walk, a quarantine does not.
//
// Contract with the store (alias/thread_state.h):
//   - nothing is written unless update.allowed;
//   - counts_as_buyer_message: last_buyer_at = now, unsolicited_since_buyer = 0
//     (auto-replies never set it);
//   - unsolicited: unsolicited_since_buyer += 1 (set only for a seller message
//     that does not answer a buyer message the seller has not answered yet);
//   - important_used: important_today += 1 (set for every use of the tag,
//     also on a message that is refused, so misuse is counted: the store should
//     count it even when allowed is false);
//   - fingerprint (fingerprints.h): remembered with `now` for the repeat rule.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alias/party.h"
#include "alias/thread_state.h"
#include "policy/marketplace/marketplace_policy.h"
#include "policy/message.h"
#include "policy/rules/text_scans.h"
#include "policy/verdict.h"

namespace mm::policy {

// X-Marketplace-Order (trimmed; letters, digits, '-' and '_', at most 64),
// else the first match of order_subject_regex in the Subject.
std::optional<std::string> extract_order_id(const Message& message,
                                            const MarketplacePolicy& policy);

// Whether the client (IP address as text) or the authenticated sender
// (SASL login or address; "" = none) is trusted seller tooling.
bool is_trusted_tooling(const MarketplacePolicy& policy, std::string_view client_address,
                        std::string_view authenticated_sender);

struct MarketplaceFacts {
    alias::Role writer = alias::Role::buyer;
    const alias::Party& sender;
    const alias::Party& recipient;
    std::optional<alias::Order> order;   // as the store knows it, if any
    std::string order_id;                // extract_order_id(), "" if none
    std::string subject;                 // decoded
    std::span<const std::string> texts;  // decoded text parts (UTF-8), not copied
    std::string contact_reason_header;   // X-Marketplace-Contact-Reason as received
    bool trusted_tooling = false;        // is_trusted_tooling()
    bool is_reply = false;               // ThreadInfo.is_reply
    bool auto_reply = false;             // Verdict.auto_reply
    std::int64_t now = 0;                // unix seconds
    // The text of document attachments (PDF, .docx, .odt), not copied: read
    // for the contact reasons, not compared by the repeat rule (the same
    // terms and conditions sent twice are no repeated message).
    std::span<const std::string> document_texts = {};
    // Where the texts' scans are shared (ContentFindings::scans), or null.
    TextScans* scans = nullptr;
};

struct MarketplaceDecision {
    alias::ThreadUpdate update;
    // accept, reject or quarantine; tempfail only for an internal failure.
    Decision decision = Decision::accept;
    std::string smtp_code;       // "550" on reject
    std::string enhanced_code;   // "5.7.1" on reject
    std::string reply_text;      // one line, printable ASCII
    std::vector<RuleHit> rules;  // every decision appears here
    // Contact reasons found (trusted header, else patterns), for the audit trail.
    std::vector<std::string> contact_reasons;
};

// An internal failure (out of memory) gives tempfail 451 4.3.0.  Throws only
// LimitExceeded (BudgetExceeded too): reading the contact reasons is
// bounded by the evaluation's limits (policy/limits.h) when it runs inside
// one, as the read-only run inside evaluate() does.
MarketplaceDecision decide(const MarketplaceFacts& facts, const alias::ThreadState& state,
                           const MarketplacePolicy& policy);

}  // namespace mm::policy
