// PostgresStore's queries, one file per concern as in alias/sqlite/:
// parties.cc (parties and pairs), records.cc (Message-IDs and committed
// deliveries), threads.cc (orders, threads, the response-time log).  Each
// is the Store method of the same name (store.h) on a Database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alias/delivery.h"
#include "alias/message_id.h"
#include "alias/party.h"
#include "alias/postgres/pg.h"
#include "alias/thread_state.h"
#include "util/result.h"

namespace mm::alias::postgres {

Result<void> add_party(Database& db, const Party& party);
Result<void> update_party(Database& db, const Party& party);
Result<std::optional<Party>> find_party(Database& db, const std::string& id);
Result<Pair> add_pair(Database& db, const std::string& buyer_id, const std::string& seller_id);
Result<std::optional<Pair>> find_pair(Database& db, const std::string& buyer_id,
                                      const std::string& seller_id);
Result<std::optional<Pair>> find_pair_by_alias(Database& db, const std::string& local);

Result<void> record_message_id(Database& db, const MessageIdRecord& record);
Result<std::optional<MessageIdRecord>> find_message_id(Database& db,
                                                       const std::string& marketplace_id);
Result<std::optional<MessageIdRecord>> find_by_original(Database& db, std::int64_t pair_id,
                                                        Role sender_role,
                                                        const std::string& original_id);
Result<std::optional<Delivery>> find_delivery(Database& db, const std::string& key,
                                              std::int64_t now);
Result<void> record_delivery(Database& db, const Delivery& delivery,
                             const MessageIdRecord* message_id);

// Inside the caller's transaction (apply_thread_event): the INSERT of
// record_message_id; whether `key` is recorded and not expired at `now`;
// prune what expired at `now` and insert the delivery.
Result<void> insert_message_id(Lease& lease, const MessageIdRecord& record);
Result<bool> delivery_recorded(Lease& lease, const std::string& key, std::int64_t now);
Result<void> insert_delivery(Lease& lease, const Delivery& delivery, std::int64_t now);

Result<void> add_order(Database& db, const Order& order);
Result<std::optional<Order>> find_order(Database& db, const std::string& id);
// Holds a row lock on the seller (FOR NO KEY UPDATE) from the first read to
// the commit, in READ COMMITTED, so that each read after it sees what every
// event before it committed; a dry run reads one snapshot.
Result<ThreadUpdate> apply_thread_event(Database& db, const ThreadEvent& event,
                                        const ThreadDecide& decide);
Result<std::vector<ResponseTime>> response_times(Database& db, const std::string& seller_id,
                                                 std::int64_t since);

}  // namespace mm::alias::postgres
