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
#include <memory>
#include <optional>
#include <string>

#include "alias/message_id.h"
#include "alias/party.h"
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

private:
    static Failure no_message_ids() {
        return fail(Errc::internal, "this store backend does not keep Message-ID mappings");
    }
};

}  // namespace mm::alias
