// libpq plumbing for PostgresStore: RAII handles, the connection pool,
// prepared statements, transactions, and the mapping of errors.  Knows no
// table.
//
// Ownership: every PGconn* and PGresult* lives in a std::unique_ptr with a
// deleter.  A connection is used by one thread at a time: a call leases it
// from the pool through a Lease that gives it back when the call returns, or
// drops it when it is broken or was left inside a transaction.
//
// Waiting is bounded everywhere: the pool hands out a connection within the
// timeout or fails with unavailable; every statement is sent with libpq's
// asynchronous calls and waited for with poll() up to the server's
// statement_timeout plus a grace, so an unreachable server cannot block a
// caller (the connection is then dropped).
//
// A connection the server closed while idle in the pool (a restart, an
// administrator's terminate) is noticed before it is leased (its socket is
// readable) and replaced.  A connection that breaks during a call fails that
// call with unavailable and is not reused: the next call connects afresh.
//
// Only bound parameters carry data into SQL: statements are string literals.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "alias/postgres/handles.h"
#include "alias/postgres_store.h"
#include "util/result.h"

namespace mm::alias::postgres {

// SQLSTATEs the queries map to answers about the input.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kForeignKeyViolation = "23503";

// The text parameters of one statement.
class Params {
public:
    Params& text(std::string_view v) {
        values_.emplace_back(v);
        return *this;
    }
    Params& int64(std::int64_t v) {
        values_.push_back(std::to_string(v));
        return *this;
    }
    int size() const { return static_cast<int>(values_.size()); }
    // Valid until the next change.
    std::vector<const char*> pointers() const;
    std::vector<int> lengths() const;

private:
    std::vector<std::string> values_;
};

// The rows of a statement's result, in text form.
class Rows {
public:
    explicit Rows(ResultPtr r) : r_(std::move(r)) {}
    int size() const { return PQntuples(r_.get()); }
    bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
    std::string text(int row, int col) const {
        return std::string(PQgetvalue(r_.get(), row, col),
                           static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
    }
    // 0 for NULL or anything not a number (the columns read are BIGINT).
    std::int64_t int64(int row, int col) const;
    // Rows changed by an INSERT, UPDATE or DELETE.
    std::int64_t affected() const;
    // The command tag ("INSERT 0 1", "COMMIT", "ROLLBACK").
    std::string command() const { return PQcmdStatus(r_.get()); }

private:
    ResultPtr r_;
};

// One pooled connection and the statements prepared on it.
struct Connection {
    ConnPtr conn;
    std::unordered_map<std::string_view, std::string> prepared;  // SQL literal -> name
    bool broken = false;
};

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

    Database& database() const { return *owner_; }

    // Runs `sql` (a string literal), prepared on this connection on first
    // use, with `params`.  On failure, sqlstate() and constraint() say why.
    Result<Rows> exec(std::string_view sql, const Params& params, const std::string& what);
    // Runs constant SQL without parameters (BEGIN, COMMIT, a migration).
    Result<Rows> simple(const char* sql, const std::string& what);

    const std::string& sqlstate() const { return sqlstate_; }
    const std::string& constraint() const { return constraint_; }

private:
    // Waits for the results of what was sent; the first error, else the last.
    Result<Rows> finish(const std::string& what);
    Failure broke(const std::string& what);

    Database* owner_;
    std::unique_ptr<Connection> conn_;
    std::string sqlstate_;
    std::string constraint_;
};

// The server and the pool of connections to it.
class Database {
public:
    explicit Database(PostgresConfig config);
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // The DSN without its password, for messages.
    const std::string& label() const { return label_; }
    const PostgresConfig& config() const { return config_; }
    // How long a statement may take before the client gives up on it.
    std::chrono::milliseconds client_timeout() const;

    Result<Lease> acquire();

    // The failure for a server or client error `text`, by its SQLSTATE ("" =
    // none: the connection or the client failed).
    Failure error(const std::string& sqlstate, const std::string& text,
                  const std::string& what) const;
    // internal: a row holds what this program never writes.
    Failure bad_row(const std::string& what) const;

private:
    friend class Lease;
    void release(std::unique_ptr<Connection> conn);
    Result<std::unique_ptr<Connection>> connect();

    const PostgresConfig config_;
    const std::string label_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
    std::size_t open_count_ = 0;                     // leased + idle, guarded by mu_
};

// A transaction on a lease, rolled back on scope exit unless committed.
class Transaction {
public:
    explicit Transaction(Lease& lease) : lease_(lease) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    // `begin` is the BEGIN statement with its isolation level.
    Result<void> begin(const char* begin = "BEGIN");
    Result<void> commit();

private:
    Lease& lease_;
    bool open_ = false;
};

inline constexpr const char* kBeginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

// The `created` of a row written with created 0.
std::int64_t unix_now();

}  // namespace mm::alias::postgres
