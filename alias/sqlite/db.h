// SQLite plumbing for SqliteStore: RAII handles, cached statements, the
// connection pool, transactions and the WAL checkpointer.  Knows no table.
//
// Ownership: every sqlite3* and sqlite3_stmt* lives in a std::unique_ptr with
// a deleter; prepared statements are cached per connection and destroyed
// before it.  A connection is used by one thread at a time: a call leases it
// from the pool through a Lease that gives it back (or closes it, if it was
// left inside a transaction) when the call returns.  Writes that touch
// several rows run in one BEGIN IMMEDIATE Transaction, rolled back on any
// early return, so nothing is ever half-written.
//
// Only bound parameters carry data into SQL: statements are string literals.
//
// Errors: SQLITE_BUSY, LOCKED, IOERR, CANTOPEN, CORRUPT, NOTADB and the like
// become Errc::unavailable with the SQLite message and the database path;
// misuse and unexpected constraint errors become internal.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alias/sqlite_store.h"
#include "util/result.h"

namespace mm::alias::sqlite {

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// One pooled connection and its cache of prepared statements.  `db` is
// declared first so that the statements are finalized before it is closed.
struct Connection {
    DbPtr db;
    std::unordered_map<std::string_view, StmtPtr> stmts;  // keyed by the SQL literal
};

// A cached statement in use: binds parameters, steps, reads columns, and is
// reset (bindings cleared) when it goes out of scope.  The first binding
// error is kept and returned by step(), so callers check one code.
class Stmt {
public:
    explicit Stmt(sqlite3_stmt* s) : s_(s) {}
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }

    Stmt& text(int index, std::string_view v) {
        if (v.size() > static_cast<std::size_t>(INT_MAX)) return keep(SQLITE_TOOBIG);
        return keep(
            sqlite3_bind_text(s_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    Stmt& int64(int index, std::int64_t v) { return keep(sqlite3_bind_int64(s_, index, v)); }

    int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }

    std::string column_text(int col) const {
        const auto* p = sqlite3_column_text(s_, col);
        if (p == nullptr) return {};
        return std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
    }
    std::int64_t column_int64(int col) const { return sqlite3_column_int64(s_, col); }

private:
    Stmt& keep(int rc) {
        if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
        return *this;
    }
    sqlite3_stmt* s_;
    int bind_rc_ = SQLITE_OK;
};

// Runs constant SQL without parameters (possibly several statements),
// stepping each to completion.  Used for PRAGMAs and migrations.
int exec_script(sqlite3* db, const char* sql);
// Run a constant single-row query (a PRAGMA) and return its first column.
int query_text(sqlite3* db, const char* sql, std::string& out);
int query_int(sqlite3* db, const char* sql, std::int64_t& out);

// The `created` of a row written with created 0.
std::int64_t unix_now();

class Database;

// A connection leased from the pool for the duration of one call.
class Lease {
public:
    Lease(Database* owner, std::unique_ptr<Connection> conn)
        : owner_(owner), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    sqlite3* db() const { return conn_->db.get(); }
    Database& database() const { return *owner_; }
    // The cached prepared statement for `sql` (a string literal); prepares it
    // on first use.
    Result<sqlite3_stmt*> prepare(std::string_view sql);
    // The failure for result code `rc` of this connection.
    Failure error(int rc, const std::string& what) const;
    // Runs a parameterless cached statement to completion.
    Result<void> run(std::string_view sql, const char* what);

    // The statement for `sql` bound by `bind` (a callable taking Stmt&) and
    // stepped once: SQLite's result code, for the writes whose callers map
    // the constraint codes they expect.
    template <class Bind>
    Result<int> step(std::string_view sql, Bind bind) {
        auto prepared = prepare(sql);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        bind(s);
        return s.step();
    }
    // Runs a write statement bound by `bind` to completion.
    template <class Bind>
    Result<void> exec(std::string_view sql, Bind bind, const std::string& what) {
        auto rc = step(sql, bind);
        if (!rc) return rc.error();
        if (*rc != SQLITE_DONE) return error(*rc, what);
        return {};
    }

    enum class Rows { all, first };
    // Runs the query `sql` bound by `bind` and calls `row` (taking const
    // Stmt&, returning void or Result<void>) on each row, or on the first
    // only; the number of rows read.  A failure of `row` ends the query.
    template <class Bind, class Row>
    Result<int> query(std::string_view sql, Bind bind, Row row, const std::string& what,
                      Rows rows = Rows::all) {
        auto prepared = prepare(sql);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        bind(s);
        int count = 0;
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) {
            if constexpr (std::is_void_v<std::invoke_result_t<Row, const Stmt&>>) {
                row(std::as_const(s));
            } else {
                if (auto r = row(std::as_const(s)); !r) return r.error();
            }
            ++count;
            if (rows == Rows::first) return count;
        }
        if (rc != SQLITE_DONE) return error(rc, what);
        return count;
    }
    // The first row of a query as made by `read` (taking const Stmt&,
    // returning T or Result<T>); nullopt when there is none.
    template <class T, class Bind, class Read>
    Result<std::optional<T>> query_one(std::string_view sql, Bind bind, Read read,
                                       const std::string& what) {
        std::optional<T> out;
        auto rows = query(
            sql, bind,
            [&](const Stmt& s) -> Result<void> {
                Result<T> r = read(s);
                if (!r) return r.error();
                out = std::move(r.value());
                return {};
            },
            what, Rows::first);
        if (!rows) return rows.error();
        return out;
    }
    // Whether the query returns a row.
    template <class Bind>
    Result<bool> exists(std::string_view sql, Bind bind, const std::string& what) {
        auto rows = query(
            sql, bind, [](const Stmt&) {}, what, Rows::first);
        if (!rows) return rows.error();
        return *rows > 0;
    }

private:
    Database* owner_;
    std::unique_ptr<Connection> conn_;
};

// The database file and its pool of connections (at most 8 open).  A call
// that finds every connection leased waits up to the busy timeout, then
// fails with unavailable.
class Database {
public:
    Database(std::string path, int busy_timeout_ms, SqliteSync sync);
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    const std::string& path() const { return path_; }

    Result<Lease> acquire();

    // SQLite has one writer at a time.  Writers of this process queue here
    // instead of in SQLite's busy handler, which polls with sleeps of 1, 2,
    // 5, ... ms: with 20 sessions writing at once that added milliseconds to
    // a message.  The busy handler still arbitrates with other processes.
    Result<std::unique_lock<std::timed_mutex>> lock_writer();

    // The failure for result code `rc` (of `db`, which may be null).
    Failure error(sqlite3* db, int rc, const std::string& what) const;
    // internal: a row holds what this program never writes.
    Failure bad_row(const std::string& what) const;

private:
    friend class Lease;
    void release(std::unique_ptr<Connection> conn);
    Result<std::unique_ptr<Connection>> connect();

    const std::string path_;
    const int busy_timeout_ms_;
    const SqliteSync sync_;
    std::timed_mutex writer_mu_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
    std::size_t open_count_ = 0;                     // leased + idle, guarded by mu_
};

// A read (BEGIN) or write (BEGIN IMMEDIATE, after the writer turn) transaction
// on a lease; rolled back on scope exit unless committed.
class Transaction {
public:
    explicit Transaction(Lease& lease) : lease_(lease) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    Result<void> begin(bool write);
    Result<void> commit();

private:
    Lease& lease_;
    std::unique_lock<std::timed_mutex> writer_;  // released after COMMIT/ROLLBACK
    bool open_ = false;
};

// Checkpoints copy the WAL into the database file and, at any sync level,
// fsync it.  SQLite's automatic checkpoint runs in the commit that crosses
// 1000 pages, while that writer holds the write lock: every other message
// waited for the fsync.  Connections never checkpoint on commit
// (wal_autocheckpoint = 0); this thread does, PASSIVE (writers go on
// appending meanwhile), every `interval`, from construction to destruction.
// Without it the WAL grows without limit, so every open of the store runs
// one.
class Checkpointer {
public:
    Checkpointer(Database& db, std::chrono::milliseconds interval);
    ~Checkpointer();
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

private:
    void loop();

    Database& db_;
    const std::chrono::milliseconds interval_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;  // guarded by mu_
    std::thread thread_;     // last: starts after the members it reads
};

}  // namespace mm::alias::sqlite
