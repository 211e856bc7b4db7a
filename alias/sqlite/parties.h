// SqliteStore's parties and pairs: the PartyStore methods (store.h) on a
// Database.
#pragma once

#include <optional>
#include <string>

#include "alias/party.h"
#include "alias/sqlite/db.h"
#include "util/result.h"

namespace mm::alias::sqlite {

Result<void> add_party(Database& db, const Party& party);
Result<void> update_party(Database& db, const Party& party);
Result<std::optional<Party>> find_party(Database& db, const std::string& id);
Result<Pair> add_pair(Database& db, const std::string& buyer_id, const std::string& seller_id);
Result<std::optional<Pair>> find_pair(Database& db, const std::string& buyer_id,
                                      const std::string& seller_id);
Result<std::optional<Pair>> find_pair_by_alias(Database& db, const std::string& local);

}  // namespace mm::alias::sqlite
