// Unit tests for the PostgreSQL StoreTransfer (alias/postgres/transfer.h)
// against a real server (the ctest fixture `postgres`): a SQLite store,
// filled through the message flow, moves to PostgreSQL and back with
// identical exports; ids continue after the imported ones; a store with rows
// and a row breaking a constraint are refused with nothing imported.
//
// Each test creates a database of its own and migrates it as the operator
// would (`migrate`).  Skipped without MM_TEST_PG_DIR (run outside ctest).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "alias/postgres/handles.h"
#include "alias/postgres/transfer.h"
#include "alias/postgres_store.h"
#include "alias/sqlite_store.h"
#include "cli/store_jsonl.h"
#include "tests/support/message_flow_fixture.h"

namespace mm::milter {
namespace {

using namespace flow_testing;
using Conn = alias::postgres::ConnPtr;
using PgResult = alias::postgres::ResultPtr;

Conn connect(const std::string& dsn) {
    Conn c(PQconnectdb(dsn.c_str()));
    EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    return c;
}

PgResult exec(PGconn* c, const std::string& sql, ExecStatusType want = PGRES_COMMAND_OK) {
    PgResult r(PQexec(c, sql.c_str()));
    EXPECT_EQ(PQresultStatus(r.get()), want) << sql << ": " << PQerrorMessage(c);
    return r;
}

std::string export_text(alias::StoreTransfer& t) {
    std::ostringstream out;
    auto r = export_jsonl(t, out);
    EXPECT_TRUE(r) << r.error().message;
    return out.str();
}

Result<alias::TableCounts> import_text(alias::StoreTransfer& t, const std::string& text) {
    std::istringstream in(text);
    return import_jsonl(t, in, "store.jsonl");
}

class PostgresTransferTest : public MessageFlowTest {
protected:
    void SetUp() override {
        const char* dir = std::getenv("MM_TEST_PG_DIR");
        if (dir == nullptr) GTEST_SKIP() << "MM_TEST_PG_DIR not set (run through ctest)";
        MessageFlowTest::SetUp();
        if (HasFatalFailure()) return;
        std::ifstream in(std::string(dir) + "/dsn");
        std::getline(in, base_dsn_);
        static std::atomic<int> counter{0};
        db_ = "mm_transfer_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
        admin_ = connect(base_dsn_);
        exec(admin_.get(), "CREATE DATABASE " + db_);
        dsn_ = base_dsn_ + " dbname=" + db_;
        conn_ = connect(dsn_);
        // The store's own migrations (the operator's `migrate`).
        auto migrated = alias::migrate_postgres({dsn_, "", 2, 5000});
        ASSERT_TRUE(migrated) << migrated.error().message;

        // Rows in every table: a delivered seller message (thread,
        // fingerprint, Message-ID, delivery), an [Important] use, and a
        // buyer message on a second pair (an open response-time entry).
        ASSERT_TRUE(store_->add_party({"zoe",
                                       alias::Role::buyer,
                                       "zoe@example.org",
                                       "Zoë Ünal",
                                       {"zoe.work@example.org"},
                                       {{"optout", "on"}}}));
        auto zoe = store_->add_pair("zoe", "acme");
        ASSERT_TRUE(zoe);
        ASSERT_TRUE(send(kSubject, "Your parcel left our warehouse today.", "m1").out.delivered());
        for (const bool buyer : {true, false}) {
            alias::ThreadEvent e;
            e.pair_id = buyer ? zoe->id : pair_.id;
            e.buyer_id = buyer ? "zoe" : "bob";
            e.seller_id = "acme";
            e.now = kNow;
            e.commit = true;
            auto r = store_->apply_thread_event(e, [buyer](const alias::ThreadState&) {
                alias::ThreadUpdate u;
                u.allowed = buyer;
                u.writer = alias::Role::buyer;
                u.counts_as_buyer_message = true;
                u.important_used = !buyer;
                return u;
            });
            ASSERT_TRUE(r) << r.error().message;
        }
    }
    void TearDown() override {
        conn_.reset();
        if (admin_) exec(admin_.get(), "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
    }

    std::unique_ptr<alias::StoreTransfer> pg() {
        auto t = alias::postgres::open_postgres_transfer(dsn_);
        EXPECT_TRUE(t) << t.error().message;
        return t ? std::move(t).value() : nullptr;
    }
    std::unique_ptr<alias::StoreTransfer> sqlite(const std::string& path) {
        auto t = alias::open_sqlite_transfer(path);
        EXPECT_TRUE(t) << t.error().message;
        return t ? std::move(t).value() : nullptr;
    }

    std::string base_dsn_, db_, dsn_;
    Conn admin_, conn_;
};

TEST_F(PostgresTransferTest, SqliteToPostgresAndBackGivesIdenticalRows) {
    const std::string from_sqlite = export_text(*sqlite(db_path()));
    auto to_pg = pg();
    ASSERT_TRUE(to_pg);
    auto imported = import_text(*to_pg, from_sqlite);
    ASSERT_TRUE(imported) << imported.error().message;
    for (const auto& [table, rows] : *imported) EXPECT_GT(rows, 0) << table;
    EXPECT_EQ(*to_pg->schema_version(), alias::kTransferSchemaVersion);

    const std::string from_pg = export_text(*to_pg);
    EXPECT_EQ(from_pg, from_sqlite);
    auto back = sqlite(dir_.file("back.db"));
    ASSERT_TRUE(import_text(*back, from_pg));
    EXPECT_EQ(export_text(*back), from_sqlite);

    // The sequences continue right after the imported ids.
    auto max_of = [&](const std::string& table) {
        auto r = exec(conn_.get(), "SELECT max(id) FROM " + table, PGRES_TUPLES_OK);
        return std::stoll(PQgetvalue(r.get(), 0, 0));
    };
    const long long max_pair = max_of("pair"), max_log = max_of("response_log");
    exec(conn_.get(),
         "INSERT INTO party (id, role, address, created) VALUES ('ann', 'buyer', "
         "'ann@example.org', 0)");
    auto pair = exec(conn_.get(),
                     "INSERT INTO pair (buyer_id, seller_id, buyer_alias, seller_alias, created) "
                     "VALUES ('ann', 'acme', 'y1', 'y2', 0) RETURNING id",
                     PGRES_TUPLES_OK);
    EXPECT_EQ(std::stoll(PQgetvalue(pair.get(), 0, 0)), max_pair + 1);
    auto log = exec(conn_.get(),
                    "INSERT INTO response_log (pair_id, seller_id, buyer_message_at) VALUES (" +
                        std::to_string(max_pair + 1) + ", 'acme', 0) RETURNING id",
                    PGRES_TUPLES_OK);
    EXPECT_EQ(std::stoll(PQgetvalue(log.get(), 0, 0)), max_log + 1);
}

TEST_F(PostgresTransferTest, ABrokenConstraintOrAStoreWithRowsImportsNothing) {
    const std::string good = export_text(*sqlite(db_path()));
    // The second party line given the first one's id: a duplicate key.
    std::istringstream in(good);
    std::string text, line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (n == 3) line.replace(line.find("\"id\":\"bob\""), 10, "\"id\":\"acme\"");
        text += line + "\n";
    }
    auto to_pg = pg();
    auto r = import_text(*to_pg, text);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::invalid);
    EXPECT_TRUE(r.error().message.starts_with("store.jsonl:3: party row 2: ")) << r.error().message;
    EXPECT_NE(r.error().message.find("duplicate key"), std::string::npos) << r.error().message;
    auto counts = to_pg->count_rows();
    ASSERT_TRUE(counts) << counts.error().message;
    for (const auto& [table, rows] : *counts) EXPECT_EQ(rows, 0) << table;

    ASSERT_TRUE(import_text(*to_pg, good));
    auto again = import_text(*to_pg, good);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::conflict);
    EXPECT_NE(again.error().message.find("holds rows"), std::string::npos);
}

}  // namespace
}  // namespace mm::milter
