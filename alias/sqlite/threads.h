// SqliteStore's marketplace state: the OrderStore, ThreadStore and
// ResponseLog methods (store.h) on a Database (tables orders, threads,
// important_uses, fingerprints, response_log).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alias/sqlite/db.h"
#include "alias/thread_state.h"
#include "util/result.h"

namespace mm::alias::sqlite {

Result<void> add_order(Database& db, const Order& order);
Result<std::optional<Order>> find_order(Database& db, const std::string& id);

// Holds the write lock (BEGIN IMMEDIATE after this process's writer turn)
// from the first read to the commit, so that events on one thread are
// serialised; a dry run reads one snapshot (BEGIN).
Result<ThreadUpdate> apply_thread_event(Database& db, const ThreadEvent& event,
                                        const ThreadDecide& decide);

Result<std::vector<ResponseTime>> response_times(Database& db, const std::string& seller_id,
                                                 std::int64_t since);

}  // namespace mm::alias::sqlite
