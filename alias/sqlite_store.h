// SqliteStore: the embedded default Store.
//
// One database file, WAL mode, a busy timeout, schema migrations applied in
// code at open (PRAGMA user_version).  One sqlite3 connection per thread that
// uses the store, opened lazily, so libmilter's thread-per-connection model
// needs no global lock on the hot path.
#pragma once

#include <memory>
#include <string>

#include "alias/store.h"

namespace mm::alias {

// Opens (creating if needed) the database at `path` and migrates its schema.
// Fails with unavailable if the file cannot be opened or migrated.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace mm::alias
