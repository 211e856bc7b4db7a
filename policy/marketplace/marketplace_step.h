// The marketplace rules in the message path.
//
// evaluate() gathers the facts of a message (marketplace_request) and runs
// the rules through the store read-only (run_marketplace, commit=false), so a
// dry run and an early refusal see the same answer as delivery would.  The
// milter, once every edit has been applied, runs them again with commit=true:
// inside the store's write transaction, against the state as it is now.  Two
// messages racing for the one unsolicited slot of an order are serialised
// there, and the loser is refused by the commit's answer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alias/store.h"
#include "policy/envelope.h"
#include "policy/marketplace/marketplace_rules.h"
#include "policy/message.h"
#include "policy/verdict.h"

namespace mm::policy {

struct ContentFindings;

// Everything decide() needs, by value, so the milter can commit later.
struct MarketplaceRequest {
    alias::Party sender;
    alias::Party recipient;
    std::int64_t pair_id = 0;
    std::string buyer_id;
    std::string seller_id;
    std::optional<alias::Order> order;
    std::string order_id;
    std::string subject;
    // The decoded text parts, shared with the verdict's findings rather than
    // copied (an HTML part can be megabytes).
    std::shared_ptr<const std::vector<std::string>> texts;
    std::shared_ptr<const std::vector<std::string>> document_texts;  // likewise
    // The findings' scans: the contact reasons reuse what the content rules
    // made of the same texts.
    std::shared_ptr<TextScans> scans;
    std::string contact_reason_header;
    bool trusted_tooling = false;
    bool is_reply = false;
    bool auto_reply = false;
    std::int64_t now = 0;
};

// Where marketplace_request reads the order a message names: the store, or
// the daemon's cached directory.
using FindOrder = std::function<Result<std::optional<alias::Order>>(const std::string& id)>;

// Reads the order (if the message names one) through `find_order`; a store
// failure is returned as is.
Result<MarketplaceRequest> marketplace_request(const Envelope& envelope, const Message& message,
                                               const alias::ResolvedAlias& pair,
                                               std::shared_ptr<const ContentFindings> findings,
                                               const Verdict& verdict,
                                               const MarketplacePolicy& policy,
                                               const FindOrder& find_order, std::int64_t now);

// `message_id`: recorded in the same store transaction if the message is
// allowed (see ThreadStore::apply_thread_event).  `delivery` (retry.h): a
// Delivery found with an outcome is replayed (the store is not asked and
// nothing is written); otherwise, on commit, it is recorded with this
// decision as its outcome.  A message committed by another attempt since it
// was evaluated fails with conflict (the caller tempfails; the next retry
// finds the delivery).
Result<MarketplaceDecision> run_marketplace(alias::ThreadStore& store,
                                            const MarketplaceRequest& request,
                                            const MarketplacePolicy& policy, bool commit,
                                            const alias::MessageIdRecord* message_id = nullptr,
                                            alias::Delivery* delivery = nullptr);

// Adds the decision's rule hits to the verdict and turns a refusal,
// quarantine or internal failure into the verdict's decision.
void apply_marketplace(const MarketplaceDecision& decision, Verdict& verdict);

}  // namespace mm::policy
