// SqliteStore's Message-ID mapping: the MessageIdStore methods (store.h) on
// a Database (table message_id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "alias/message_id.h"
#include "alias/sqlite/db.h"
#include "util/result.h"

namespace mm::alias::sqlite {

Result<void> record_message_id(Database& db, const MessageIdRecord& record);
Result<std::optional<MessageIdRecord>> find_message_id(Database& db,
                                                       const std::string& marketplace_id);
Result<std::optional<MessageIdRecord>> find_by_original(Database& db, std::int64_t pair_id,
                                                        Role sender_role,
                                                        const std::string& original_id);

// record_message_id's INSERT on a leased connection, inside the caller's
// transaction (apply_thread_event) or in autocommit.
Result<void> insert_message_id(Lease& lease, const MessageIdRecord& record);

}  // namespace mm::alias::sqlite
