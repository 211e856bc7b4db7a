// PostgresStore: the Store for several MTA hosts sharing one database.
//
// libpq, a pool of connections (prepared statements per connection, the
// server's statement_timeout set on each), the schema versions of SQLite in
// PostgreSQL's dialect (alias/postgres/schema.h).  What must be atomic
// across hosts is atomic in the database: unique constraints and INSERT ...
// ON CONFLICT for counters and ids, and apply_thread_event holds a row lock
// on the seller from its first read to its commit (every rule it runs is per
// seller or finer).  The code is in alias/postgres/.
//
// Errors: a connection failure, a statement over the timeout, a lock or
// serialisation failure, a server shutting down become Errc::unavailable
// with the server's message and the DSN without its password; the call that
// meets a broken connection fails, the next one reconnects.
#pragma once

#include <memory>
#include <string>

#include "alias/store.h"

namespace mm::alias {

struct PostgresConfig {
    std::string dsn;       // libpq connection string or postgresql:// URI
    std::string passfile;  // libpq's passfile, "" = libpq's default (~/.pgpass)
    int pool = 8;          // connections at most
    // The server's statement_timeout on every connection; also how long a
    // call waits for a pooled connection.
    int statement_timeout_ms = 5000;
};

// How open_postgres_store treats the schema: a daemon (and every command but
// migrate) checks it and refuses any version but this program's (a daemon
// never migrates a shared database); migrate applies what is missing, under
// an advisory lock, so hosts running it at once are safe.
enum class PostgresOpen { check, migrate };

// The schema version this program reads and writes.
int postgres_schema_version();

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresConfig& config, PostgresOpen mode);

// Migrates the schema of the database `config` names; the versions before
// and after.
struct SchemaMigration {
    int from = 0;
    int to = 0;
};
Result<SchemaMigration> migrate_postgres(const PostgresConfig& config);

// `dsn` without its password (key=value or URI form), for messages; a string
// libpq cannot parse is shown as "(unparsable dsn)".
std::string redact_dsn(const std::string& dsn);

}  // namespace mm::alias
