// Store: the persistence interface for parties, pairs and Message-ID mappings.
//
// Every backend (SqliteStore today, a PostgreSQL store beside it later)
// implements this interface; callers never know which one they talk to.
// Every call returns Result: Errc::unavailable means "the backend cannot
// answer now" and becomes a tempfail at the milter; not_found / conflict /
// invalid are answers about the input.
//
// Thread-safety: implementations must be safe to call from many threads at
// once (libmilter runs one thread per SMTP connection).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alias/message_id.h"
#include "alias/party.h"
#include "alias/thread_state.h"
#include "util/result.h"

namespace mm::alias {

class Store {
public:
    virtual ~Store() = default;

    // Fails with conflict if the id exists, invalid if the id is not
    // [A-Za-z0-9._-]{1,64}, an address or sender is malformed, or the display
    // name contains CR, LF or NUL.  Addresses are stored normalised.
    virtual Result<void> add_party(const Party& party) = 0;
    // Replaces display name, address, senders and attributes of an existing
    // party (validated as in add_party); the role is fixed at add_party and is
    // not changed.  Fails with not_found if the party does not exist.
    virtual Result<void> update_party(const Party& party) = 0;
    virtual Result<std::optional<Party>> find_party(const std::string& id) = 0;

    // Creates the pair with two fresh aliases (see alias_generator.h).  Fails
    // with not_found if a party does not exist, invalid if the roles are wrong,
    // conflict if the pair exists already.
    virtual Result<Pair> add_pair(const std::string& buyer_id, const std::string& seller_id) = 0;
    virtual Result<std::optional<Pair>> find_pair(const std::string& buyer_id,
                                                  const std::string& seller_id) = 0;
    // `local` is the alias local part, lower case.
    virtual Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) = 0;

    // Message-ID mapping (see message_id.h).  Not pure so that test doubles
    // that do not need it still compile; a backend that does not override
    // them fails every call with internal (which tempfails the message).
    //
    // Stores a new record.  Fails with conflict if the marketplace id exists
    // already, not_found if the pair does not exist, invalid if the
    // marketplace id is empty or an id is longer than 998 characters or holds
    // white space, control characters or angle brackets (the original id may
    // be empty: the message had none).
    virtual Result<void> record_message_id(const MessageIdRecord& record) {
        (void)record;
        return no_message_ids();
    }
    // The record of a marketplace id (lower case, without angle brackets).
    virtual Result<std::optional<MessageIdRecord>> find_message_id(
        const std::string& marketplace_id) {
        (void)marketplace_id;
        return no_message_ids();
    }
    // The newest record of the pair whose original id is `original_id`, written
    // by `sender_role` (a message sent again after a temporary failure gets a
    // record per delivery).
    virtual Result<std::optional<MessageIdRecord>> find_by_original(
        std::int64_t pair_id, Role sender_role, const std::string& original_id) {
        (void)pair_id, (void)sender_role, (void)original_id;
        return no_message_ids();
    }

    // Marketplace state (see thread_state.h).  Not pure, as above: a backend
    // that does not override them fails every call with internal.
    //
    // Stores a new order.  Fails with invalid if the id is not
    // [A-Za-z0-9._-]{1,64} or the kind / fulfilment is not one of those in
    // Order, not_found if the pair does not exist, conflict if the id exists.
    // created 0 means now.
    virtual Result<void> add_order(const Order& order) {
        (void)order;
        return no_marketplace();
    }
    virtual Result<std::optional<Order>> find_order(const std::string& id) {
        (void)id;
        return no_marketplace();
    }

    // One message on thread (pair_id, order_id), atomically.  In one write
    // transaction: loads the ThreadState (the thread row; the fingerprints of
    // seller_id's messages to buyer_id newer than now - repeat_window_s; the
    // seller's [Important] count for now's UTC day), calls decide(state), and
    // if commit and the update is allowed, writes it: the thread (created
    // with started_by = writer), last_buyer_at / last_seller_at,
    // unsolicited_since_buyer (0 after a buyer message, +1 for an unsolicited
    // seller message), the fingerprint (older ones pruned), the [Important]
    // count, and the response-time log (a buyer message opens an entry for
    // the pair if none is open; a seller reply closes the open one).  Two
    // calls for one thread never interleave: the second decides on the first
    // one's result.  commit = false reads only (dry run).  Returns decide's
    // update.  Fails with unavailable if the database is locked or down,
    // not_found if the pair does not exist (on commit), internal if decide
    // throws (nothing is written).
    //
    // `message_id`, if given, is recorded (as record_message_id does) in the
    // same transaction when commit and the update is allowed: one write per
    // delivered message instead of two.
    virtual Result<ThreadUpdate> apply_thread_event(
        std::int64_t pair_id, const std::string& order_id, const std::string& buyer_id,
        const std::string& seller_id, std::int64_t now, std::int64_t repeat_window_s,
        const std::function<ThreadUpdate(const ThreadState&)>& decide, bool commit,
        const MessageIdRecord* message_id = nullptr) {
        (void)pair_id, (void)order_id, (void)buyer_id, (void)seller_id, (void)now,
            (void)repeat_window_s, (void)decide, (void)commit, (void)message_id;
        return no_marketplace();
    }

    // The response-time log: buyer messages at or after `since` (unix
    // seconds), of seller `seller_id` ("" = every seller), ordered by seller
    // then time.
    virtual Result<std::vector<ResponseTime>> response_times(const std::string& seller_id,
                                                             std::int64_t since) {
        (void)seller_id, (void)since;
        return no_marketplace();
    }

private:
    static Failure no_message_ids() {
        return fail(Errc::internal, "this store backend does not keep Message-ID mappings");
    }
    static Failure no_marketplace() {
        return fail(Errc::internal, "this store backend does not keep marketplace state");
    }
};

}  // namespace mm::alias
