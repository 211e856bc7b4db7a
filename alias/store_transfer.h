// Whole-store transfer: every row of every table out of one snapshot, and
// into an empty store in one transaction.  `marketplace-milter export` and
// `import` move a store between backends (SQLite <-> PostgreSQL) and serve as
// its backup; the file format (JSON Lines) is the CLI's, this is the rows.
//
// Why a separate interface and not a part of Store: the daemon never moves a
// whole store, so the message path's interface stays narrow and test doubles
// of Store need not grow.  And a transfer wants its own connection: one long
// snapshot that the message path's limits (PostgreSQL's statement_timeout on
// the pooled connections, SQLite's busy timeout per call) would cut short.
// make_store_transfer() (store_factory.h) opens one for the configured
// backend.
//
// The tables and their columns are described once, here (transfer_tables(),
// schema version kTransferSchemaVersion, the same for every backend: SQLite's
// alias/sqlite/schema.cc), in import order: parents before the rows that
// refer to them.  A backend implements StoreTransfer generically from that
// list, with the SQL that select_sql(), insert_sql() and count_sql() build
// from it and the loop import_each() runs:
//   export_rows: a read-only snapshot (SQLite BEGIN; PostgreSQL REPEATABLE
//     READ READ ONLY); count_rows() inside it and sink.begin(); then per
//     table select_sql(), each row checked against its columns, sink.row().
//   import_rows: one write transaction; every count_sql() must be 0
//     (check_empty); import_each(source, insert) with insert_sql(); the counts
//     again, equal to what was inserted and to `expected`; then commit.
// Ids (pair.id, response_log.id) are copied as they are, so that the rows
// referring to them stay right.  A backend whose ids come from a sequence
// (PostgreSQL's identity / BIGSERIAL columns) must move the sequence past the
// largest imported id before commit (sequence_reset_sql(), for the tables
// with a `serial` column), or the next add_pair() collides with an imported
// pair.  SQLite's INTEGER PRIMARY KEY needs nothing: it continues at max + 1.
//
// Values are INTEGER (int64), TEXT (UTF-8: PostgreSQL's encoding and JSON's)
// or NULL (only where a column is nullable).  A row read from a backend that
// is not that is Errc::internal; a row handed to import that is not, invalid.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/result.h"

namespace mm::alias {

// The schema version the table list describes.  An export carries the
// version of the store it came from; an import into a store of another
// version is refused.
inline constexpr int kTransferSchemaVersion = 4;

enum class ColumnType { integer, text };

struct Column {
    std::string_view name;
    ColumnType type;
    bool nullable = false;
};

struct Table {
    std::string_view name;
    std::span<const Column> columns;
    // Export order (a unique key, or every column), so that two exports of
    // equal stores are equal byte for byte.
    std::string_view order_by;
    // The column a backend may fill from a sequence ("" = none).
    std::string_view serial;
};

// Every table of schema version kTransferSchemaVersion, parents first.
std::span<const Table> transfer_tables();
// The table named `name`, or null.
const Table* find_table(std::string_view name);

// NULL, INTEGER or TEXT.
using Value = std::variant<std::monostate, std::int64_t, std::string>;

struct Row {
    const Table* table = nullptr;
    std::vector<Value> values;  // in the table's column order
};

// Rows per table name.
using TableCounts = std::map<std::string, std::int64_t, std::less<>>;

// invalid unless `row` has a table and one value per column, each of the
// column's type (NULL only where nullable).
Result<void> check_row(const Row& row);

// Where export_rows writes: begin() once, first, with the counts of the
// snapshot the rows come from; then row() per row, table by table in
// transfer_tables() order.  A failure ends the export with it.
class RowSink {
public:
    virtual ~RowSink() = default;
    virtual Result<void> begin(int schema_version, const TableCounts& counts) = 0;
    virtual Result<void> row(const Row& row) = 0;
};

// Where import_rows reads: the next row, nullopt at the end.  A failure ends
// the import with it (nothing is imported).
class RowSource {
public:
    virtual ~RowSource() = default;
    virtual Result<std::optional<Row>> next() = 0;
};

class StoreTransfer {
public:
    virtual ~StoreTransfer() = default;

    // The store's schema version.
    virtual Result<int> schema_version() = 0;
    // Every table's rows from one snapshot (see RowSink).
    virtual Result<void> export_rows(RowSink& sink) = 0;
    // Every row of `source` into this store, in one transaction: all or
    // nothing.  Fails with conflict if any table holds a row; invalid if a
    // row is malformed, comes after a later table's rows or breaks a
    // constraint (a duplicate key, a missing parent), or if `expected` (when
    // given) is not the number of rows of each table after the import;
    // unavailable if the store's schema version is not kTransferSchemaVersion.
    // Sequences move past the imported ids.
    virtual Result<void> import_rows(RowSource& source, const TableCounts* expected) = 0;
    // The rows of each table now.
    virtual Result<TableCounts> count_rows() = 0;
};

// "SELECT c1, c2 FROM t ORDER BY ..." with quoted identifiers.
std::string select_sql(const Table& table);
// "INSERT INTO t (c1, c2) VALUES (?1, ?2)", or with $1, $2 when `dollar`.
std::string insert_sql(const Table& table, bool dollar);
std::string count_sql(const Table& table);
// PostgreSQL: moves the sequence of table.serial past the largest id ("" if
// the table has no serial column).
std::string sequence_reset_sql(const Table& table);

// The loop of an import: reads `source` to its end, checks each row
// (check_row) and that tables come in transfer_tables() order, and hands each
// row to `insert`; the rows inserted per table (every table present).
// Failures of `source` are returned as they are; a check's or insert's
// failure names the table and the row's place in it.
Result<TableCounts> import_each(RowSource& source,
                                const std::function<Result<void>(const Row&)>& insert);

// conflict unless every count is 0, naming the tables that hold rows in
// `where` (the store).
Result<void> check_empty(const TableCounts& counts, const std::string& where);

// invalid naming each table whose count in `actual` differs from `expected`
// (a table missing from either counts as 0); `what` says which counts.
Result<void> check_counts(const TableCounts& expected, const TableCounts& actual,
                          const std::string& what);

}  // namespace mm::alias
