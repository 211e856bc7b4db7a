// Store: the persistence interface for parties and pairs.
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

#include <memory>
#include <optional>
#include <string>

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
};

}  // namespace mm::alias
