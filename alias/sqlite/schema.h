// The SQLite schema and its migrations, by PRAGMA user_version: 1 parties
// and pairs, 2 the Message-ID mapping, 3 orders, threads, [Important]
// counters, fingerprints and the response-time log, 4 committed messages
// (deliveries, for the MTA's retries).
#pragma once

#include "alias/sqlite/db.h"
#include "util/result.h"

namespace mm::alias::sqlite {

// Switches the file to WAL and applies the migrations it lacks, in one write
// transaction (re-reading the version inside it: another process may migrate
// the same file meanwhile).  Fails with unavailable if the file cannot use
// WAL, is locked, or has a schema version newer than this program knows.
Result<void> migrate(Database& db);

}  // namespace mm::alias::sqlite
