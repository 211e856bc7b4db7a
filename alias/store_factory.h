// Chooses the Store backend from the config's `store:` section.
#pragma once

#include <memory>
#include <string>

#include "alias/postgres_store.h"
#include "alias/store.h"
#include "alias/store_changes.h"
#include "alias/store_transfer.h"

namespace mm::alias {

struct StoreConfig {
    std::string type = "sqlite";  // sqlite | postgres
    std::string path;             // sqlite: database file
    int busy_timeout_ms = 5000;   // sqlite: how long to wait for a lock
    bool sync_full = false;       // sqlite: fsync every commit (synchronous = FULL)
    // postgres: dsn, passfile, pool (0 = 8; the daemon's config loader sets
    // the evaluation slots), statement_timeout_ms.
    PostgresConfig postgres{"", "", 0, 5000};
};

// How make_store treats a schema older than the program's.  SQLite is
// migrated at open either way (one host owns its file); PostgreSQL is
// checked (every command but `migrate`: a daemon never migrates a shared
// database) or migrated.
enum class StoreOpen { check, migrate };

// type "sqlite" opens (and migrates) the SQLite database at `path`;
// "postgres" connects to `postgres.dsn` and checks or migrates its schema;
// any other type fails with invalid.
Result<std::shared_ptr<Store>> make_store(const StoreConfig& config,
                                          StoreOpen mode = StoreOpen::check);

// `marketplace-milter migrate`: the schema versions before and after (SQLite:
// after opening, both the current version).
Result<SchemaMigration> migrate_store(const StoreConfig& config);

// The whole-store transfer (store_transfer.h) of the configured store, on
// connections of its own: SQLite at `path` (created and migrated if need
// be), PostgreSQL at `postgres.dsn` (migrated by the operator).
Result<std::unique_ptr<StoreTransfer>> make_store_transfer(const StoreConfig& config);

// The configured store's ChangeFeed (store_changes.h), started: type
// "postgres" listens on kStoreChangedChannel; "sqlite" has none (null: one
// host, the caches' TTL alone).  Fails with invalid if the DSN does not
// parse.
Result<std::unique_ptr<ChangeFeed>> make_change_feed(const StoreConfig& config,
                                                     OnStoreChange on_change, OnFeedEvent on_event);

}  // namespace mm::alias
