// The file format of `marketplace-milter export` and `import`: JSON Lines.
//
//   {"format":"marketplace-milter-store","version":1,"schema_version":4,
//    "counts":{"party":2,"party_sender":0,...}}           the header, line 1
//   {"table":"party","row":{"id":"bob","role":"buyer",...}}  one line per row
//
// Rows come table by table in alias::transfer_tables() order (parents
// first), columns by name with their exact values: integers, strings, null.
// An import reads the whole file inside the store's one transaction, so a bad
// line (named FILE:LINE: ...) leaves the store as it was; the header's
// counts are checked against the rows read and the store's rows, in that
// transaction and again after it.
#pragma once

#include <iosfwd>
#include <string>

#include "alias/store_transfer.h"
#include "util/result.h"

namespace mm::milter {

inline constexpr const char* kStoreFormat = "marketplace-milter-store";
inline constexpr int kStoreFormatVersion = 1;

// Writes the store to `out`; the rows written per table.  Fails with
// internal if a text value is not UTF-8, unavailable if `out` fails.
Result<alias::TableCounts> export_jsonl(alias::StoreTransfer& store, std::ostream& out);

// Imports `in` (named `name` in errors) into the empty `store`; the rows
// per table, as the header says and the store counts.  invalid (a bad line,
// counts that differ) and conflict (the store holds rows) are errors of the
// input; the message starts with name:line: when a line is at fault.
Result<alias::TableCounts> import_jsonl(alias::StoreTransfer& store, std::istream& in,
                                        const std::string& name);

}  // namespace mm::milter
