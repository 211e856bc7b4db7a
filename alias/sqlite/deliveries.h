// SqliteStore's committed messages: the DeliveryStore methods (store.h) on a
// Database (table deliveries).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "alias/delivery.h"
#include "alias/message_id.h"
#include "alias/sqlite/db.h"
#include "util/result.h"

namespace mm::alias::sqlite {

Result<std::optional<Delivery>> find_delivery(Database& db, const std::string& key,
                                              std::int64_t now);
Result<void> record_delivery(Database& db, const Delivery& delivery,
                             const MessageIdRecord* message_id);

// Inside the caller's write transaction (apply_thread_event): whether `key`
// is recorded and not expired at `now`.
Result<bool> delivery_recorded(Lease& lease, const std::string& key, std::int64_t now);
// Inside the caller's write transaction: prunes what expired at `now` and
// inserts the delivery (conflict if its key is there).
Result<void> insert_delivery(Lease& lease, const Delivery& delivery, std::int64_t now);

}  // namespace mm::alias::sqlite
