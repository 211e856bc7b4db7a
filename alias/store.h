// The persistence interfaces, one per concern, and Store, the backend that
// implements them all.
//
// SqliteStore implements Store today; a PostgreSQL store will be the second
// backend, behind the same interfaces, so that callers never know which one
// they talk to.  Code that needs one concern takes the narrow interface
// (message_ids takes a MessageIdStore, the marketplace step a ThreadStore);
// code that holds the backend holds a Store.
//
// Contract every backend gives, for every method:
//  - Atomic: a method's writes all become visible or none do, and a Failure
//    leaves nothing written.  Reads that return several rows (a party with
//    its senders and attributes) come from one snapshot.
//  - A Failure is an answer, never a guess: the milter turns any Failure on
//    the message path into a tempfail (451 4.3.0), the MTA keeps the message
//    and retries, and the retry is judged afresh.  Errc::unavailable means
//    "the backend cannot answer now" (down, locked, a lock wait or
//    serialisation failure not resolved within the backend's timeout);
//    internal means a broken assumption (a row this program did not write,
//    a throwing callback).  invalid / not_found / conflict are answers about
//    the input (the CLI exits 2 on them).
//  - Thread-safe: callable from many threads at once (libmilter runs one
//    thread per SMTP connection), with no per-thread state.
//  - Ids are compared exactly; addresses are stored normalised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alias/delivery.h"
#include "alias/message_id.h"
#include "alias/party.h"
#include "alias/thread_state.h"
#include "util/result.h"

namespace mm::alias {

// Parties and pairs (party.h).
class PartyStore {
public:
    virtual ~PartyStore() = default;

    // Fails with conflict if the id exists, invalid if the id is not
    // [A-Za-z0-9._-]{1,64}, an address or sender is malformed, or the display
    // name contains CR, LF or NUL.  Addresses are stored normalised.  The
    // party and its senders are written in one transaction.
    virtual Result<void> add_party(const Party& party) = 0;
    // Replaces display name, address, senders and attributes of an existing
    // party (validated as in add_party), in one transaction; the role is fixed
    // at add_party and is not changed.  Fails with not_found if the party does
    // not exist.
    virtual Result<void> update_party(const Party& party) = 0;
    // The party with its senders and attributes, read from one snapshot.
    virtual Result<std::optional<Party>> find_party(const std::string& id) = 0;

    // Creates the pair with two fresh aliases (see alias_generator.h), unique
    // across both alias columns of every pair; the role checks and the insert
    // are one transaction.  Fails with not_found if a party does not exist,
    // invalid if the roles are wrong, conflict if the pair exists already.
    virtual Result<Pair> add_pair(const std::string& buyer_id, const std::string& seller_id) = 0;
    virtual Result<std::optional<Pair>> find_pair(const std::string& buyer_id,
                                                  const std::string& seller_id) = 0;
    // `local` is the alias local part, lower case.
    virtual Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) = 0;
};

// Message-ID mapping (message_id.h).
class MessageIdStore {
public:
    virtual ~MessageIdStore() = default;

    // Stores a new record.  Fails with conflict if the marketplace id exists
    // already, not_found if the pair does not exist, invalid if the
    // marketplace id is empty or an id is longer than 998 characters or holds
    // white space, control characters or angle brackets (the original id may
    // be empty: the message had none).  created 0 means now.
    virtual Result<void> record_message_id(const MessageIdRecord& record) = 0;
    // The record of a marketplace id (lower case, without angle brackets).
    virtual Result<std::optional<MessageIdRecord>> find_message_id(
        const std::string& marketplace_id) = 0;
    // The newest record of the pair whose original id is `original_id`, written
    // by `sender_role` (a message sent again after a temporary failure gets a
    // record per delivery).
    virtual Result<std::optional<MessageIdRecord>> find_by_original(
        std::int64_t pair_id, Role sender_role, const std::string& original_id) = 0;
};

// Committed messages, for the MTA's retries (delivery.h).
class DeliveryStore {
public:
    virtual ~DeliveryStore() = default;

    // The delivery recorded under `key` that expires after `now`.
    virtual Result<std::optional<Delivery>> find_delivery(const std::string& key,
                                                          std::int64_t now) = 0;
    // Records the delivery and, if given, its Message-ID mapping (as
    // record_message_id does) in one transaction; expired deliveries are
    // pruned in it.  Fails with conflict if the key is recorded already
    // (nothing is written: the mapping went in with it), invalid if the key
    // is not 64 lowercase hex characters or expires is not after created,
    // not_found if the pair does not exist.
    virtual Result<void> record_delivery(const Delivery& delivery,
                                         const MessageIdRecord* message_id) = 0;
};

// Orders (thread_state.h).
class OrderStore {
public:
    virtual ~OrderStore() = default;

    // Stores a new order.  Fails with invalid if the id is not
    // [A-Za-z0-9._-]{1,64} or the kind / fulfilment is not one of those in
    // Order, not_found if the pair does not exist, conflict if the id exists.
    // created 0 means now.
    virtual Result<void> add_order(const Order& order) = 0;
    virtual Result<std::optional<Order>> find_order(const std::string& id) = 0;
};

// Threads: the marketplace rules run against the state they change.
class ThreadStore {
public:
    virtual ~ThreadStore() = default;

    // One message on thread (event.pair_id, event.order_id), atomically.  In
    // one write transaction: loads the ThreadState (the thread row; the
    // fingerprints of seller_id's messages to buyer_id newer than now -
    // repeat_window_s; the seller's [Important] count for now's UTC day),
    // calls decide(state), and if event.commit and the update is allowed,
    // writes it: the thread (created with started_by = writer),
    // last_buyer_at / last_seller_at, unsolicited_since_buyer (0 after a
    // buyer message, +1 for an unsolicited seller message), the fingerprint
    // (older ones pruned), the [Important] count, and the response-time log
    // (a buyer message opens an entry for the pair if none is open; a seller
    // reply closes the open one).  On commit, a refused update that used
    // [Important] still counts it.
    //
    // Two calls for one thread never interleave, in this process or across
    // processes and hosts sharing the backend: the second decides on the
    // first one's result (a backend holds a lock from the read to the commit,
    // or retries the whole call, decide included, on a serialisation
    // failure).  A dry run (commit = false) reads one snapshot and writes
    // nothing.  Returns decide's update.  Fails with unavailable if the
    // backend is locked or down, not_found if the pair does not exist (on
    // commit), internal if decide throws (nothing is written).
    //
    // event.message_id, if set, is recorded (as record_message_id does) in the
    // same transaction when the update is written: one write per delivered
    // message instead of two.  event.delivery, if set on commit, is recorded
    // (as record_delivery does) in the same transaction whenever anything is
    // written, read after decide returns (decide fills its outcome); if its
    // key is recorded already, decide is not called, nothing is written and
    // the call fails with conflict: the message was committed before.
    virtual Result<ThreadUpdate> apply_thread_event(const ThreadEvent& event,
                                                    const ThreadDecide& decide) = 0;
};

// The response-time log apply_thread_event writes.
class ResponseLog {
public:
    virtual ~ResponseLog() = default;

    // Buyer messages at or after `since` (unix seconds), of seller
    // `seller_id` ("" = every seller), ordered by seller then time.
    virtual Result<std::vector<ResponseTime>> response_times(const std::string& seller_id,
                                                             std::int64_t since) = 0;
};

// A backend: every concern above, on one database.
class Store : public PartyStore,
              public MessageIdStore,
              public DeliveryStore,
              public OrderStore,
              public ThreadStore,
              public ResponseLog {};

}  // namespace mm::alias
