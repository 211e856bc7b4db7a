// Unit tests for the SQLite store's plumbing (alias/sqlite/db.h): the WAL
// checkpointer runs on every open of the store, the first (which creates and
// migrates the schema) and every later one.  Connections never checkpoint on
// commit, so a store without the checkpointer lets the WAL grow without limit.
//
// A write starts the WAL over (and bumps the checkpoint sequence number in
// its header) only when every frame in it was copied into the database file:
// the header changing under writes is the checkpointer's trace.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "alias/sqlite_store.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

using namespace std::chrono_literals;

constexpr auto kInterval = 10ms;

// The checkpoint sequence number of the WAL header (big-endian, bytes 12-15),
// nullopt if there is no WAL.
std::optional<std::uint32_t> wal_sequence(const std::string& db_path) {
    std::ifstream wal(db_path + "-wal", std::ios::binary);
    unsigned char header[16];
    if (!wal.read(reinterpret_cast<char*>(header), sizeof header)) return std::nullopt;
    return (std::uint32_t{header[12]} << 24) | (std::uint32_t{header[13]} << 16) |
           (std::uint32_t{header[14]} << 8) | std::uint32_t{header[15]};
}

Party party(const std::string& id, const std::string& name = "") {
    Party p;
    p.id = id;
    p.role = Role::buyer;
    p.address = id + "@gmail.example";
    p.display_name = name;
    return p;
}

// Writes through `store` until a write starts the WAL over, or 5 s pass.
bool wal_restarts(Store& store, const std::string& path) {
    if (!store.add_party(party("probe")).ok()) return false;
    const auto first = wal_sequence(path);
    if (!first) return false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
        std::this_thread::sleep_for(2 * kInterval);
        if (!store.update_party(party("probe", "write " + std::to_string(i))).ok()) return false;
        const auto now = wal_sequence(path);
        if (now && *now != *first) return true;
    }
    return false;
}

TEST(SqliteCheckpointTest, RunsOnTheFirstOpen) {
    mm::testing::TempDir dir;
    const std::string path = dir.file("alias.db");
    auto store = open_sqlite_store(path, 5000, SqliteSync::normal, kInterval);
    ASSERT_TRUE(store.ok()) << store.error().message;
    EXPECT_TRUE(wal_restarts(**store, path));
}

TEST(SqliteCheckpointTest, RunsAfterARestart) {
    mm::testing::TempDir dir;
    const std::string path = dir.file("alias.db");
    {
        auto first = open_sqlite_store(path, 5000, SqliteSync::normal, kInterval);
        ASSERT_TRUE(first.ok()) << first.error().message;
        ASSERT_TRUE((*first)->add_party(party("before")).ok());
    }
    // The schema is current now: this open migrates nothing.
    auto store = open_sqlite_store(path, 5000, SqliteSync::normal, kInterval);
    ASSERT_TRUE(store.ok()) << store.error().message;
    EXPECT_TRUE(wal_restarts(**store, path));
    auto before = (*store)->find_party("before");
    ASSERT_TRUE(before.ok());
    EXPECT_TRUE(before->has_value());
}

}  // namespace
}  // namespace mm::alias
