// The PostgreSQL schema: the versions of alias/sqlite/schema.cc in
// PostgreSQL's dialect, the version in the one-row table schema_version.
#pragma once

#include "alias/postgres/pg.h"
#include "alias/postgres_store.h"
#include "util/result.h"

namespace mm::alias::postgres {

// The version this program reads and writes.
int schema_version();

// Fails with unavailable, naming `marketplace-milter migrate`, unless the
// database is at schema_version().
Result<void> check_schema(Database& db);

// Applies the missing migrations in one transaction under an advisory lock
// (hosts migrating at once wait for each other; the second finds nothing
// to do).  Fails if the database is newer than this program.
Result<SchemaMigration> migrate(Database& db);

}  // namespace mm::alias::postgres
