// StoreTransfer (alias/store_transfer.h) for PostgreSQL, generic over the
// table list, on one libpq connection of its own: an export is one
// REPEATABLE READ READ ONLY snapshot read row by row (single-row mode, so a
// large table is never held in memory whole), an import one transaction
// that ends by moving the id sequences past the imported ids.  No statement
// timeout is set on it: a transfer is as long as the store is large.
//
// The schema is the store's (migrated by `marketplace-milter migrate`); its
// version is the one row of table schema_version.
#pragma once

#include <memory>
#include <string>

#include "alias/store_transfer.h"
#include "util/result.h"

namespace mm::alias::postgres {

// Connects to `dsn` (with libpq's `passfile`, if not empty).  Fails with
// unavailable if the server cannot be reached, invalid if the DSN does not
// parse.  Errors never quote the DSN.
Result<std::unique_ptr<StoreTransfer>> open_postgres_transfer(const std::string& dsn,
                                                              const std::string& passfile = "");

}  // namespace mm::alias::postgres
