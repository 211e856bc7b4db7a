// SqliteStore: the embedded default Store.
//
// One database file, WAL mode, a busy timeout, schema migrations applied in
// code at open (PRAGMA user_version).  Thread-safe: a small pool of sqlite3
// connections (a mutex-guarded free list, at most 8 open) is shared by all
// threads; each call leases one connection for its duration, so libmilter's
// thread-per-connection model needs no thread_local state and no global lock
// around queries.  A call that finds every connection leased waits up to the
// busy timeout, then fails with unavailable.  The code is in alias/sqlite/.
//
// Errors: SQLITE_BUSY, LOCKED, IOERR, CANTOPEN, CORRUPT, NOTADB and the like
// become Errc::unavailable with the SQLite message and the database path.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "alias/store.h"
#include "alias/store_transfer.h"

namespace mm::alias {

// How often the store's own thread checkpoints the WAL into the database
// file (commits never do; see alias/sqlite/db.h).
inline constexpr std::chrono::milliseconds kSqliteCheckpointInterval{250};

// Opens (creating if needed) the database at `path` (a file: ":memory:" is
// refused, as every pooled connection would see its own database), migrates
// its schema and starts the checkpointer.  `busy_timeout_ms` bounds how long
// a call waits for a lock held by another connection or process.  Fails with
// unavailable if the file cannot be opened, locked, switched to WAL or
// migrated.
//
// `sync` is SQLite's synchronous setting on every connection.  In WAL mode
// `normal` fsyncs only at checkpoints: a power loss (not a crash of the
// daemon) may lose the last commits, never corrupts the database, and saves
// an fsync per message; `full` fsyncs every commit.
enum class SqliteSync { normal, full };
Result<std::unique_ptr<Store>> open_sqlite_store(
    const std::string& path, int busy_timeout_ms = 5000, SqliteSync sync = SqliteSync::normal,
    std::chrono::milliseconds checkpoint_interval = kSqliteCheckpointInterval);

// The whole-store transfer (store_transfer.h) of the database at `path`,
// opened and migrated as open_sqlite_store() does, on its own connections.
Result<std::unique_ptr<StoreTransfer>> open_sqlite_transfer(const std::string& path,
                                                            int busy_timeout_ms = 5000);

}  // namespace mm::alias
