// StoreTransfer for SQLite (see alias/store_transfer.h): generic over the
// table list.  The statements are built from that constant list, never from
// input, and prepared once per table here rather than cached on the
// connection, as a transfer runs them once.
#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "alias/sqlite/db.h"
#include "alias/sqlite/schema.h"
#include "alias/sqlite_store.h"
#include "alias/store_transfer.h"

namespace mm::alias {

namespace {

using sqlite::Lease;
using sqlite::StmtPtr;

class SqliteTransfer final : public StoreTransfer {
public:
    SqliteTransfer(std::string path, int busy_timeout_ms)
        : db_(std::move(path), busy_timeout_ms, SqliteSync::full) {}

    Result<void> open() { return sqlite::migrate(db_); }

    Result<int> schema_version() override {
        auto lease = db_.acquire();
        if (!lease) return lease.error();
        return version(*lease);
    }

    Result<void> export_rows(RowSink& sink) override {
        auto lease = db_.acquire();
        if (!lease) return lease.error();
        sqlite::Transaction tx(*lease);
        if (auto r = tx.begin(false); !r) return r;
        auto v = version(*lease);
        if (!v) return v.error();
        auto counts = count(*lease);
        if (!counts) return counts.error();
        if (auto r = sink.begin(*v, *counts); !r) return r;
        for (const Table& t : transfer_tables())
            if (auto r = export_table(*lease, t, sink); !r) return r;
        return tx.commit();
    }

    Result<void> import_rows(RowSource& source, const TableCounts* expected) override {
        auto lease = db_.acquire();
        if (!lease) return lease.error();
        sqlite::Transaction tx(*lease);
        if (auto r = tx.begin(true); !r) return r;
        auto v = version(*lease);
        if (!v) return v.error();
        if (*v != kTransferSchemaVersion)
            return fail(Errc::unavailable, where() + ": schema version " + std::to_string(*v) +
                                               ", the transfer knows " +
                                               std::to_string(kTransferSchemaVersion));
        auto before = count(*lease);
        if (!before) return before.error();
        if (auto r = check_empty(*before, where()); !r) return r;
        Inserts inserts;  // after the lease: finalized before it goes back to the pool
        auto inserted =
            import_each(source, [&](const Row& row) { return insert(*lease, inserts, row); });
        if (!inserted) return inserted.error();
        auto after = count(*lease);
        if (!after) return after.error();
        if (auto r = check_counts(*inserted, *after, "rows in the store after the import"); !r)
            return fail(Errc::internal, r.error().message);
        if (expected != nullptr)
            if (auto r = check_counts(*expected, *after, "rows imported"); !r) return r;
        if (auto r = tx.commit(); !r) return r;
        // The store's own checkpointer is not running here: copy the import
        // out of the WAL now rather than at the daemon's next start.
        sqlite3_wal_checkpoint_v2(lease->db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                  nullptr);
        return {};
    }

    Result<TableCounts> count_rows() override {
        auto lease = db_.acquire();
        if (!lease) return lease.error();
        sqlite::Transaction tx(*lease);
        if (auto r = tx.begin(false); !r) return r.error();
        auto counts = count(*lease);
        if (!counts) return counts.error();
        if (auto r = tx.commit(); !r) return r.error();
        return counts;
    }

private:
    std::string where() const { return "sqlite database '" + db_.path() + "'"; }

    Result<StmtPtr> prepare(Lease& lease, const std::string& sql) {
        sqlite3_stmt* raw = nullptr;
        int rc = sqlite3_prepare_v2(lease.db(), sql.c_str(), static_cast<int>(sql.size()), &raw,
                                    nullptr);
        StmtPtr stmt(raw);
        if (rc != SQLITE_OK || !stmt)
            return lease.error(rc == SQLITE_OK ? SQLITE_ERROR : rc, "prepare '" + sql + "'");
        return stmt;
    }

    Result<int> version(Lease& lease) {
        std::int64_t v = 0;
        int rc = sqlite::query_int(lease.db(), "PRAGMA user_version", v);
        if (rc != SQLITE_OK) return lease.error(rc, "read schema version");
        return static_cast<int>(v);
    }

    Result<TableCounts> count(Lease& lease) {
        TableCounts counts;
        for (const Table& t : transfer_tables()) {
            std::int64_t n = 0;
            int rc = sqlite::query_int(lease.db(), count_sql(t).c_str(), n);
            if (rc != SQLITE_OK) return lease.error(rc, "count " + std::string(t.name));
            counts[std::string(t.name)] = n;
        }
        return counts;
    }

    Result<void> export_table(Lease& lease, const Table& t, RowSink& sink) {
        auto stmt = prepare(lease, select_sql(t));
        if (!stmt) return stmt.error();
        sqlite3_stmt* s = stmt->get();
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            Row row{&t, {}};
            for (int i = 0; i < static_cast<int>(t.columns.size()); ++i) {
                const int type = sqlite3_column_type(s, i);
                if (type == SQLITE_NULL) {
                    row.values.emplace_back(std::monostate{});
                } else if (t.columns[i].type == ColumnType::integer && type == SQLITE_INTEGER) {
                    row.values.emplace_back(std::int64_t{sqlite3_column_int64(s, i)});
                } else if (t.columns[i].type == ColumnType::text && type == SQLITE_TEXT) {
                    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
                    row.values.emplace_back(
                        std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))));
                } else {
                    return db_.bad_row(std::string(t.name) + "." + std::string(t.columns[i].name) +
                                       " holds a value of SQLite type " + std::to_string(type));
                }
            }
            if (auto r = check_row(row); !r) return db_.bad_row(r.error().message);
            if (auto r = sink.row(row); !r) return r;
        }
        if (rc != SQLITE_DONE) return lease.error(rc, "read " + std::string(t.name));
        return {};
    }

    using Inserts = std::map<const Table*, StmtPtr>;

    Result<void> insert(Lease& lease, Inserts& inserts, const Row& row) {
        auto& stmt = inserts[row.table];
        if (!stmt) {
            auto prepared = prepare(lease, insert_sql(*row.table, false));
            if (!prepared) return prepared.error();
            stmt = std::move(prepared).value();
        }
        sqlite::Stmt s(stmt.get());
        for (std::size_t i = 0; i < row.values.size(); ++i) {
            const int index = static_cast<int>(i) + 1;
            if (const auto* n = std::get_if<std::int64_t>(&row.values[i]))
                s.int64(index, *n);
            else if (const auto* text = std::get_if<std::string>(&row.values[i]))
                s.text(index, *text);
            // NULL: the binding clear_bindings left.
        }
        const int rc = s.step();
        if (rc == SQLITE_DONE) return {};
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            return fail(Errc::invalid, sqlite3_errmsg(lease.db()));
        return lease.error(rc, "insert into " + std::string(row.table->name));
    }

    sqlite::Database db_;
};

}  // namespace

Result<std::unique_ptr<StoreTransfer>> open_sqlite_transfer(const std::string& path,
                                                            int busy_timeout_ms) {
    if (path.empty()) return fail(Errc::invalid, "sqlite store: no database path");
    auto transfer = std::make_unique<SqliteTransfer>(path, busy_timeout_ms);
    if (auto r = transfer->open(); !r) return r.error();
    return std::unique_ptr<StoreTransfer>(std::move(transfer));
}

}  // namespace mm::alias
