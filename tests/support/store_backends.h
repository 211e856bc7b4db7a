// The Store backends the contract tests run against, one factory each: a
// fresh, empty database per test (SQLite: a file in a temp dir; PostgreSQL:
// CREATE DATABASE as the role `milter` on the throwaway server of the ctest
// fixture `postgres`, $MM_TEST_PG_DIR/dsn, dropped afterwards), stores opened
// on it, and SQL about what it holds, in the dialect both understand.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "alias/postgres/handles.h"
#include "alias/postgres_store.h"
#include "alias/sqlite_store.h"
#include "tests/support/test_support.h"
#include "util/hex.h"

namespace mm::testing {

class StoreBackend {
public:
    virtual ~StoreBackend() = default;
    virtual bool is_postgres() const = 0;
    // A store on this backend's database (the same one on every call),
    // whose calls wait at most `timeout_ms` for a lock or a connection.
    virtual std::unique_ptr<alias::Store> open(int timeout_ms = 5000) = 0;
    // The first column of the rows `sql` returns, joined by ','; NULL as
    // "NULL"; "ERROR: ..." when it fails.
    virtual std::string query(const std::string& sql) = 0;
    // Runs SQL (several statements); true on success.
    virtual bool exec(const std::string& sql) = 0;
};

class SqliteBackend final : public StoreBackend {
public:
    bool is_postgres() const override { return false; }
    std::string path() const { return dir_.file("alias.db"); }

    std::unique_ptr<alias::Store> open(int timeout_ms) override {
        auto store = alias::open_sqlite_store(path(), timeout_ms);
        EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
        return store.ok() ? std::move(store).value() : nullptr;
    }
    std::string query(const std::string& sql) override {
        Db db = connect();
        std::vector<std::string> rows;
        char* err = nullptr;
        sqlite3_exec(
            db.get(), sql.c_str(),
            [](void* arg, int, char** values, char**) {
                static_cast<std::vector<std::string>*>(arg)->push_back(values[0] ? values[0]
                                                                                 : "NULL");
                return 0;
            },
            &rows, &err);
        if (err != nullptr) {
            std::string message = std::string("ERROR: ") + err;
            sqlite3_free(err);
            return message;
        }
        return join(rows);
    }
    bool exec(const std::string& sql) override {
        Db db = connect();
        return sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    }

    static std::string join(const std::vector<std::string>& rows) {
        std::string out;
        for (const auto& r : rows) out += (out.empty() ? "" : ",") + r;
        return out;
    }

private:
    struct Close {
        void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
    };
    using Db = std::unique_ptr<sqlite3, Close>;
    Db connect() const {
        sqlite3* raw = nullptr;
        sqlite3_open_v2(path().c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
        return Db(raw);
    }
    TempDir dir_;
};

// The DSN of the test server's database `marketplace` ("" without one).
inline std::string postgres_test_dsn() {
    const char* dir = std::getenv("MM_TEST_PG_DIR");
    if (dir == nullptr || *dir == '\0') return "";
    std::ifstream in(std::string(dir) + "/dsn");
    std::string dsn;
    std::getline(in, dsn);
    return dsn;
}

using PgConn = alias::postgres::ConnPtr;

// A connection of the test's own, to inspect the database or to hold locks
// against the store as another host would.
inline PgConn pg_connect(const std::string& dsn) {
    PgConn c(PQconnectdb(dsn.c_str()));
    EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    return c;
}

// Runs `sql` on `c`: the first column of its rows joined by ',', NULL as
// "NULL", "ERROR: ..." when it fails.
inline std::string pg_query(PGconn* c, const std::string& sql) {
    const alias::postgres::ResultPtr r(PQexec(c, sql.c_str()));
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return std::string("ERROR: ") + PQresultErrorMessage(r.get());
    std::vector<std::string> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        rows.push_back(PQgetisnull(r.get(), i, 0) ? "NULL" : PQgetvalue(r.get(), i, 0));
    return SqliteBackend::join(rows);
}

class PostgresBackend final : public StoreBackend {
public:
    // A fresh database; available() is false without the test server.
    PostgresBackend() : base_dsn_(postgres_test_dsn()) {
        if (base_dsn_.empty()) return;
        name_ = "mm_test_" + random_hex(8);
        PgConn admin = pg_connect(base_dsn_);
        // FILE_COPY: copying the template's files beats logging its every
        // block (the default) on a test server that never fsyncs.
        const std::string created =
            pg_query(admin.get(), "CREATE DATABASE " + name_ + " STRATEGY = FILE_COPY");
        EXPECT_EQ(created, "") << created;
        dsn_ = base_dsn_ + " dbname=" + name_;
        conn_ = pg_connect(dsn_);
    }
    ~PostgresBackend() override {
        if (name_.empty()) return;
        conn_.reset();
        PgConn admin = pg_connect(base_dsn_);
        (void)pg_query(admin.get(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    }

    bool available() const { return !dsn_.empty(); }
    bool is_postgres() const override { return true; }
    const std::string& dsn() const { return dsn_; }
    alias::PostgresConfig config(int timeout_ms = 5000, int pool = 8) const {
        return alias::PostgresConfig{dsn_, "", pool, timeout_ms};
    }

    std::unique_ptr<alias::Store> open(int timeout_ms) override {
        auto store = alias::open_postgres_store(config(timeout_ms), alias::PostgresOpen::migrate);
        EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
        return store.ok() ? std::move(store).value() : nullptr;
    }
    std::string query(const std::string& sql) override { return pg_query(conn_.get(), sql); }
    bool exec(const std::string& sql) override {
        return pg_query(conn_.get(), sql).rfind("ERROR", 0) != 0;
    }

private:
    std::string base_dsn_;
    std::string name_;
    std::string dsn_;
    PgConn conn_;
};

// "sqlite" or "postgres"; nullptr when the PostgreSQL test server is not
// there (the caller skips).
inline std::unique_ptr<StoreBackend> make_backend(const std::string& kind) {
    if (kind == "sqlite") return std::make_unique<SqliteBackend>();
    auto pg = std::make_unique<PostgresBackend>();
    if (!pg->available()) return nullptr;
    return pg;
}

// The backends every contract test runs on, for INSTANTIATE_TEST_SUITE_P.
inline const char* const kStoreBackends[] = {"sqlite", "postgres"};

}  // namespace mm::testing
