// Marketplace state the marketplace rules read and change: orders, threads
// (pair + order), per-seller [Important] counters, recent message
// fingerprints, and the message log response times come from.
//
// The rules themselves are pure (policy/marketplace/marketplace_rules.h).
// The store runs them inside one write transaction
// (ThreadStore::apply_thread_event), so two messages for the same order on
// two connections cannot both be "the one allowed": the second sees the
// first's update.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "alias/delivery.h"
#include "alias/message_id.h"
#include "alias/party.h"

namespace mm::alias {

struct Order {
    std::string id;  // e.g. 123-1234567-1234567
    std::int64_t pair_id = 0;
    std::string kind = "standard";   // standard | handmade | custom | wine | gift-return
    std::string fulfilment = "fbm";  // fba | fbm
    std::int64_t created = 0;
};

// A thread is (pair, order); order_id "" is the pair's conversation outside
// any order.
struct ThreadState {
    std::int64_t pair_id = 0;
    std::string order_id;
    bool exists = false;
    Role started_by = Role::buyer;  // who wrote first (valid when exists)
    std::int64_t created = 0;
    std::int64_t last_buyer_at = 0;  // 0: never (auto-replies do not count)
    std::int64_t last_seller_at = 0;
    int unsolicited_since_buyer = 0;  // seller messages since the buyer last wrote
    // Fingerprints of recent seller messages to this buyer (any thread), with
    // their time, for the repeat rule; the store keeps those inside its window.
    std::vector<std::pair<std::string, std::int64_t>> recent_fingerprints;
    int important_today = 0;  // the seller's [Important] uses today (UTC)
};

// What one message does to the state, decided by the rules.
struct ThreadUpdate {
    bool allowed = false;  // false: nothing is written
    Role writer = Role::buyer;
    bool counts_as_buyer_message = false;  // auto-replies do not
    bool unsolicited = false;              // a seller message the buyer has not answered
    std::string fingerprint;               // normalised-text hash to remember ("" = none)
    bool important_used = false;           // subject carried the critical tag
    // A seller message that answers the buyer (not an auto-reply / away
    // notice): closes the pair's open response-time entry.  Ignored for
    // buyer messages.
    bool counts_as_reply = true;
};

// One message on thread (pair_id, order_id), as ThreadStore::apply_thread_event
// takes it.  buyer_id / seller_id are the pair's parties (the fingerprints and
// the [Important] counter are keyed by them); `now` is the message's time in
// unix seconds; fingerprints older than now - repeat_window_s are neither read
// nor kept.
struct ThreadEvent {
    std::int64_t pair_id = 0;
    std::string order_id;  // "" = the pair's conversation outside any order
    std::string buyer_id;
    std::string seller_id;
    std::int64_t now = 0;
    std::int64_t repeat_window_s = 0;
    bool commit = false;  // false: a dry run, which reads only
    // Recorded in the same transaction when the update is written; not owned.
    const MessageIdRecord* message_id = nullptr;
    // The message's identity for retries (delivery.h): recorded on commit
    // whenever anything is written, after decide has filled its outcome; a
    // key recorded before fails the call with conflict.  Not owned.
    Delivery* delivery = nullptr;
};

// The marketplace rules as the store runs them: the update one message makes
// to the state it finds.
using ThreadDecide = std::function<ThreadUpdate(const ThreadState&)>;

// One event for the message log (response times): a buyer message, or a
// seller message answering it.
struct ResponseTime {
    std::string seller_id;
    std::int64_t buyer_message_at = 0;
    std::int64_t first_reply_at = 0;  // 0: not answered yet
};

}  // namespace mm::alias
