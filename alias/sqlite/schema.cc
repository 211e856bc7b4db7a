// The SQLite schema (see schema.h).
//
// The one statement built from a number is PRAGMA user_version, which takes
// no parameters; its value is the migration index, never input.
#include "alias/sqlite/schema.h"

#include <cstdint>
#include <iterator>
#include <string>

#include "util/address.h"

namespace mm::alias::sqlite {

namespace {

// Migration i (0-based) takes the schema from user_version i to i + 1.  Append
// new migrations at the end; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    // 1: parties, their approved senders, and pairs with their two aliases.
    R"sql(
CREATE TABLE party (
    id           TEXT    PRIMARY KEY NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('buyer', 'seller')),
    address      TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    attributes   TEXT    NOT NULL DEFAULT '{}',
    created      INTEGER NOT NULL
);
CREATE TABLE party_sender (
    party_id TEXT NOT NULL REFERENCES party (id) ON DELETE CASCADE,
    address  TEXT NOT NULL,
    PRIMARY KEY (party_id, address)
);
CREATE TABLE pair (
    id           INTEGER PRIMARY KEY,
    buyer_id     TEXT    NOT NULL REFERENCES party (id),
    seller_id    TEXT    NOT NULL REFERENCES party (id),
    buyer_alias  TEXT    NOT NULL UNIQUE,
    seller_alias TEXT    NOT NULL UNIQUE,
    created      INTEGER NOT NULL,
    UNIQUE (buyer_id, seller_id)
);
CREATE INDEX pair_seller ON pair (seller_id);
)sql",
    // 2: the marketplace Message-IDs given to delivered messages and the
    // original ids they replace (see message_id.h).
    R"sql(
CREATE TABLE message_id (
    marketplace_id TEXT    PRIMARY KEY NOT NULL,
    original_id    TEXT    NOT NULL DEFAULT '',
    pair_id        INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    sender_role    TEXT    NOT NULL CHECK (sender_role IN ('buyer', 'seller')),
    created        INTEGER NOT NULL
);
CREATE INDEX message_id_original ON message_id (pair_id, original_id);
)sql",
    // 3: marketplace rules (thread_state.h): orders, threads (pair + order),
    // per-seller [Important] uses per UTC day, recent message fingerprints
    // for the repeat rule, and the response-time log (at most one open entry
    // per pair).
    R"sql(
CREATE TABLE orders (
    id         TEXT    PRIMARY KEY NOT NULL,
    pair_id    INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL
               CHECK (kind IN ('standard', 'handmade', 'custom', 'wine', 'gift-return')),
    fulfilment TEXT    NOT NULL CHECK (fulfilment IN ('fba', 'fbm')),
    created    INTEGER NOT NULL
);
CREATE INDEX orders_pair ON orders (pair_id);
CREATE TABLE threads (
    pair_id                 INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    order_id                TEXT    NOT NULL DEFAULT '',
    started_by              TEXT    NOT NULL CHECK (started_by IN ('buyer', 'seller')),
    created                 INTEGER NOT NULL,
    last_buyer_at           INTEGER NOT NULL DEFAULT 0,
    last_seller_at          INTEGER NOT NULL DEFAULT 0,
    unsolicited_since_buyer INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pair_id, order_id)
) WITHOUT ROWID;
CREATE TABLE important_uses (
    seller_id TEXT    NOT NULL,
    day       TEXT    NOT NULL,
    count     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (seller_id, day)
) WITHOUT ROWID;
CREATE TABLE fingerprints (
    seller_id TEXT    NOT NULL,
    buyer_id  TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX fingerprints_parties ON fingerprints (seller_id, buyer_id, at);
CREATE INDEX fingerprints_at ON fingerprints (at);
CREATE TABLE response_log (
    id               INTEGER PRIMARY KEY,
    pair_id          INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    seller_id        TEXT    NOT NULL,
    buyer_message_at INTEGER NOT NULL,
    first_reply_at   INTEGER
);
CREATE UNIQUE INDEX response_log_open ON response_log (pair_id) WHERE first_reply_at IS NULL;
CREATE INDEX response_log_seller ON response_log (seller_id, buyer_message_at);
)sql",
    // 4: committed messages by their delivery key (delivery.h), so that the
    // MTA's retry of one is judged as it was; pruned once expired.
    R"sql(
CREATE TABLE deliveries (
    key            TEXT    PRIMARY KEY NOT NULL,
    pair_id        INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    marketplace_id TEXT    NOT NULL DEFAULT '',
    outcome        TEXT    NOT NULL DEFAULT '',
    created        INTEGER NOT NULL,
    expires        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_expires ON deliveries (expires);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Applies migrations from user_version to kSchemaVersion, inside the caller's
// write transaction.
Result<void> apply_migrations(Database& database, sqlite3* db) {
    std::int64_t version = 0;
    int rc = query_int(db, "PRAGMA user_version", version);
    if (rc != SQLITE_OK) return database.error(db, rc, "read schema version");
    if (version > kSchemaVersion || version < 0)
        return fail(Errc::unavailable, "sqlite database '" + database.path() +
                                           "': schema version " + std::to_string(version) +
                                           " is not one this program knows (" +
                                           std::to_string(kSchemaVersion) + " or older)");
    for (auto v = static_cast<int>(version); v < kSchemaVersion; ++v) {
        rc = exec_script(db, kMigrations[v]);
        if (rc != SQLITE_OK)
            return database.error(db, rc, "migrate schema to version " + std::to_string(v + 1));
        const std::string set_version = "PRAGMA user_version = " + std::to_string(v + 1);
        rc = exec_script(db, set_version.c_str());
        if (rc != SQLITE_OK) return database.error(db, rc, "set schema version");
    }
    return {};
}

}  // namespace

Result<void> migrate(Database& database) {
    auto lease = database.acquire();
    if (!lease) return lease.error();
    sqlite3* db = lease->db();

    std::string mode;
    int rc = query_text(db, "PRAGMA journal_mode = WAL", mode);
    if (rc != SQLITE_OK) return database.error(db, rc, "switch to WAL mode");
    if (!mm::iequals(mode, "wal"))
        return fail(Errc::unavailable, "sqlite database '" + database.path() +
                                           "': cannot use WAL mode (journal mode is '" + mode +
                                           "'; the store needs a database file)");

    std::int64_t version = 0;
    rc = query_int(db, "PRAGMA user_version", version);
    if (rc != SQLITE_OK) return database.error(db, rc, "read schema version");
    if (version == kSchemaVersion) return {};

    Transaction tx(*lease);
    if (auto r = tx.begin(true); !r) return r;
    if (auto r = apply_migrations(database, db); !r) return r;
    return tx.commit();
}

}  // namespace mm::alias::sqlite
