// Unit tests for what only the SQLite store has (alias/sqlite_store.h): the
// WAL and its checkpointer, file locks held by other processes, PRAGMA
// user_version and its migrations, files that are not databases.  The
// contract both backends share is tested in alias_store_test.cc.  Each test
// works in its own temp dir (removed afterwards).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "alias/party.h"
#include "alias/sqlite_store.h"
#include "tests/support/store_contract.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

using store_testing::buyer;
using store_testing::message_record;
using store_testing::seller;

// A raw SQLite connection of the test's own, to inspect the file or to hold
// A raw SQLite connection of the test's own, to inspect the file or to hold
// locks against the store as another process would.
struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using RawDb = std::unique_ptr<sqlite3, DbClose>;

RawDb open_raw(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    RawDb db(raw);
    EXPECT_EQ(rc, SQLITE_OK) << (raw ? sqlite3_errmsg(raw) : "out of memory");
    return db;
}

int exec(sqlite3* db, const std::string& sql) {
    return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

std::string query_text(sqlite3* db, const std::string& sql) {
    std::string out;
    sqlite3_exec(
        db, sql.c_str(),
        [](void* arg, int, char** values, char**) {
            *static_cast<std::string*>(arg) = values[0] ? values[0] : "";
            return 0;
        },
        &out, nullptr);
    return out;
}
// What only the SQLite file has: WAL, checkpoints, file locks, PRAGMA
// user_version.
class SqliteStoreTest : public ::testing::Test {
protected:
    void SetUp() override { store_ = open(); }

    std::unique_ptr<Store> open(int busy_timeout_ms = 5000) {
        auto store = open_sqlite_store(path(), busy_timeout_ms);
        EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
        return store.ok() ? std::move(store).value() : nullptr;
    }
    std::string path() const { return dir_.file("alias.db"); }

    // Adds buyer "b1" and seller "s1".
    void add_both() {
        ASSERT_TRUE(store_->add_party(buyer("b1")).ok());
        ASSERT_TRUE(store_->add_party(seller("s1")).ok());
    }

    mm::testing::TempDir dir_;
    std::unique_ptr<Store> store_;
};

// Commits never checkpoint (wal_autocheckpoint = 0: no writer waits for a
// checkpoint's fsync); the store's own thread copies the WAL into the
// database file.  Far less than SQLite's automatic 1000-page threshold is
// written here, so only that thread can make the database file grow.
TEST_F(SqliteStoreTest, BackgroundCheckpointMovesTheWalIntoTheDatabase) {
    const auto db_size = [&] { return std::filesystem::file_size(path()); };
    const auto before = db_size();
    for (int i = 0; i < 400; ++i) {
        Party p = buyer("b" + std::to_string(i), "buyer" + std::to_string(i) + "@gmail.example");
        p.display_name = std::string(200, 'x');
        ASSERT_TRUE(store_->add_party(p).ok());
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (db_size() < before + 80000 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_GE(db_size(), before + 80000) << "the WAL was not checkpointed";
}

// --- The database file -----------------------------------------------------------------------

TEST_F(SqliteStoreTest, ReopeningKeepsDataAndMigrationsAreIdempotent) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    store_.reset();

    for (int i = 0; i < 2; ++i) {
        auto reopened = open();
        ASSERT_NE(reopened, nullptr);
        auto found = reopened->find_pair_by_alias(pair->seller_alias);
        ASSERT_TRUE(found.ok() && found->has_value());
        EXPECT_EQ((*found)->id, pair->id);
        auto party = reopened->find_party("b1");
        ASSERT_TRUE(party.ok() && party->has_value());
        EXPECT_EQ((*party)->address, "bob@gmail.example");
    }
    auto db = open_raw(path());
    EXPECT_EQ(query_text(db.get(), "PRAGMA user_version"), "4");
    EXPECT_EQ(query_text(db.get(), "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query_text(db.get(), "SELECT count(*) FROM pair"), "1");
}

TEST_F(SqliteStoreTest, SchemaNewerThanTheProgramIsUnavailable) {
    store_.reset();
    {
        auto db = open_raw(path());
        ASSERT_EQ(exec(db.get(), "PRAGMA user_version = 99"), SQLITE_OK);
    }
    auto r = open_sqlite_store(path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find("99"), std::string::npos) << r.error().message;
}

TEST(SqliteStoreFileTest, GarbageFileIsUnavailable) {
    mm::testing::TempDir dir;
    const std::string path = dir.file("junk.db");
    {
        std::ofstream out(path, std::ios::binary);
        for (int i = 0; i < 512; ++i) out << "this is not an SQLite database\x01\xff";
    }
    auto r = open_sqlite_store(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("not a database"), std::string::npos) << r.error().message;
}

TEST(SqliteStoreFileTest, UnopenableFileIsUnavailable) {
    mm::testing::TempDir dir;
    const std::string path = dir.file("no/such/dir/alias.db");
    auto r = open_sqlite_store(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
}

TEST(SqliteStoreFileTest, MemoryDatabaseIsRefused) {
    auto r = open_sqlite_store(":memory:");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid);
}

TEST_F(SqliteStoreTest, ExclusiveLockElsewhereMakesOpenUnavailableAfterTheBusyTimeout) {
    add_both();
    store_.reset();  // our connections closed: another process may now lock the file

    auto locker = open_raw(path());
    ASSERT_EQ(exec(locker.get(), "PRAGMA locking_mode = EXCLUSIVE"), SQLITE_OK);
    ASSERT_EQ(exec(locker.get(), "BEGIN EXCLUSIVE"), SQLITE_OK);
    ASSERT_EQ(exec(locker.get(), "UPDATE party SET display_name = 'x' WHERE id = 'b1'"), SQLITE_OK);

    const auto start = steady_clock::now();
    auto r = open_sqlite_store(path(), 100);
    const auto waited = steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find(path()), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("locked"), std::string::npos) << r.error().message;
    EXPECT_GE(waited, milliseconds(100));   // it waited for the lock...
    EXPECT_LT(waited, milliseconds(3000));  // ...for our timeout, not the default 5 s

    ASSERT_EQ(exec(locker.get(), "ROLLBACK"), SQLITE_OK);
    locker.reset();
    auto reopened = open(100);
    ASSERT_NE(reopened, nullptr);
    auto party = reopened->find_party("b1");
    ASSERT_TRUE(party.ok() && party->has_value());
    EXPECT_EQ((*party)->display_name, "Bob");
}

TEST_F(SqliteStoreTest, WriteLockElsewhereMakesWritesUnavailableWhileReadsContinue) {
    add_both();
    store_ = open(100);
    ASSERT_NE(store_, nullptr);

    auto locker = open_raw(path());
    ASSERT_EQ(exec(locker.get(), "BEGIN EXCLUSIVE"), SQLITE_OK);
    ASSERT_EQ(exec(locker.get(), "UPDATE party SET display_name = 'x' WHERE id = 'b1'"), SQLITE_OK);

    const auto start = steady_clock::now();
    auto r = store_->add_party(buyer("b2", "carol@gmail.example"));
    const auto waited = steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find(path()), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("locked"), std::string::npos) << r.error().message;
    EXPECT_GE(waited, milliseconds(100));
    EXPECT_LT(waited, milliseconds(3000));
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_FALSE(pair.ok());
    EXPECT_EQ(pair.error().code, Errc::unavailable);

    // WAL: readers see the last committed state while the writer holds its lock.
    auto party = store_->find_party("b1");
    ASSERT_TRUE(party.ok()) << party.error().message;
    ASSERT_TRUE(party->has_value());
    EXPECT_EQ((*party)->display_name, "Bob");

    ASSERT_EQ(exec(locker.get(), "ROLLBACK"), SQLITE_OK);
    EXPECT_TRUE(store_->add_party(buyer("b2", "carol@gmail.example")).ok());
    EXPECT_TRUE(store_->add_pair("b1", "s1").ok());
}

TEST_F(SqliteStoreTest, VersionOneDatabaseIsMigratedKeepingItsPairs) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    store_.reset();
    {
        // What a database written by the first release looks like.
        auto db = open_raw(path());
        ASSERT_EQ(exec(db.get(),
                       "DROP INDEX message_id_original; DROP TABLE message_id; "
                       "DROP TABLE orders; DROP TABLE threads; DROP TABLE important_uses; "
                       "DROP TABLE fingerprints; DROP TABLE response_log; "
                       "DROP TABLE deliveries; PRAGMA user_version = 1"),
                  SQLITE_OK);
    }
    store_ = open();
    ASSERT_NE(store_, nullptr);
    auto found = store_->find_pair_by_alias(pair->buyer_alias);
    ASSERT_TRUE(found.ok() && found->has_value());
    ASSERT_TRUE(store_
                    ->record_message_id(
                        message_record(pair->id, Role::buyer, "0004@m.example", "o@gmail.example"))
                    .ok());
    auto db = open_raw(path());
    EXPECT_EQ(query_text(db.get(), "PRAGMA user_version"), "4");
    EXPECT_EQ(query_text(db.get(), "SELECT count(*) FROM message_id"), "1");
}

TEST_F(SqliteStoreTest, MessageIdCallsAreUnavailableWhileTheDatabaseIsLockedForWrites) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    store_.reset();
    store_ = open(100);
    auto db = open_raw(path());
    ASSERT_EQ(exec(db.get(), "BEGIN IMMEDIATE"), SQLITE_OK);
    auto w = store_->record_message_id(
        message_record(pair->id, Role::seller, "0005@m.example", "o@acme.example"));
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.error().code, Errc::unavailable);
    // Reads go on under WAL while another connection writes.
    EXPECT_TRUE(store_->find_message_id("0005@m.example").ok());
    ASSERT_EQ(exec(db.get(), "ROLLBACK"), SQLITE_OK);
}

}  // namespace
}  // namespace mm::alias
