// Unit tests for what only the PostgreSQL store has (alias/postgres_store.h),
// on the throwaway server of the ctest fixture `postgres`: hosts racing for
// one order's unsolicited message, the schema checked and migrated, the
// statement timeout, the pool's bound, the notification triggers, the DSN's
// password kept out of messages, and a server stopped and restarted under
// a store (a private server of the test's own).  The contract both backends
// share is tested in alias_store_test.cc and alias_thread_test.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "alias/postgres_store.h"
#include "alias/store_factory.h"
#include "tests/support/store_backends.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::int64_t kT0 = 1'714'564'800;  // 2024-05-01T12:00:00Z

Party party(const std::string& id, Role role, const std::string& address) {
    Party p;
    p.id = id;
    p.role = role;
    p.address = address;
    return p;
}

class PostgresTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_.available()) GTEST_SKIP() << "no PostgreSQL test server (MM_TEST_PG_DIR)";
    }
    // A store on the test's database, migrated.
    std::unique_ptr<Store> open(int timeout_ms = 5000, int pool = 8) {
        auto s = open_postgres_store(backend_.config(timeout_ms, pool), PostgresOpen::migrate);
        EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
        return s.ok() ? std::move(s).value() : nullptr;
    }
    // Buyer b1, seller s1 and their pair on `store`.
    std::int64_t add_pair(Store& store) {
        EXPECT_TRUE(store.add_party(party("b1", Role::buyer, "bob@gmail.example")).ok());
        EXPECT_TRUE(store.add_party(party("s1", Role::seller, "support@acme.example")).ok());
        auto pair = store.add_pair("b1", "s1");
        EXPECT_TRUE(pair.ok());
        return pair.ok() ? pair->id : 0;
    }

    mm::testing::PostgresBackend backend_;
};

// An unsolicited seller message: allowed only while none is unanswered.
ThreadUpdate unsolicited_once(const ThreadState& st) {
    ThreadUpdate u;
    u.writer = Role::seller;
    u.unsolicited = true;
    u.allowed = st.unsolicited_since_buyer == 0;
    // Widen the race window: without the lock held across decide several
    // callers would get here before any commits.
    std::this_thread::sleep_for(milliseconds(5));
    return u;
}

TEST_F(PostgresTest, TwoHostsRacingForOneOrdersUnsolicitedMessageAllowExactlyOne) {
    auto host_a = open();
    auto host_b = open();
    ASSERT_TRUE(host_a && host_b);
    const std::int64_t pair = add_pair(*host_a);
    constexpr int kThreads = 16;
    std::atomic<int> allowed{0}, failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        Store* store = i % 2 == 0 ? host_a.get() : host_b.get();
        threads.emplace_back([&, store, i] {
            while (!go.load()) std::this_thread::yield();
            auto r = store->apply_thread_event(
                ThreadEvent{pair, "order-1", "b1", "s1", kT0 + i, 3600, true}, unsolicited_once);
            if (!r.ok())
                ++failed;
            else if (r->allowed)
                ++allowed;
        });
    }
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(allowed.load(), 1);
    EXPECT_EQ(backend_.query("SELECT unsolicited_since_buyer FROM threads"), "1");
}

TEST_F(PostgresTest, ConcurrentImportantUsesOfOneSellerAreAllCounted) {
    auto host_a = open();
    auto host_b = open();
    ASSERT_TRUE(host_a && host_b);
    const std::int64_t pair = add_pair(*host_a);
    std::vector<std::thread> threads;
    for (int i = 0; i < 12; ++i) {
        Store* store = i % 2 == 0 ? host_a.get() : host_b.get();
        threads.emplace_back([&, store, i] {
            auto r = store->apply_thread_event(
                ThreadEvent{pair, "o" + std::to_string(i), "b1", "s1", kT0, 3600, true},
                [](const ThreadState&) {
                    ThreadUpdate u;
                    u.writer = Role::seller;
                    u.important_used = true;  // refused, still counted
                    return u;
                });
            EXPECT_TRUE(r.ok()) << r.error().message;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(backend_.query("SELECT count FROM important_uses"), "12");
}

TEST_F(PostgresTest, DaemonModeRefusesAnUnmigratedDatabaseAndMigrateBringsItToTheVersion) {
    auto checked = open_postgres_store(backend_.config(), PostgresOpen::check);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.error().code, Errc::unavailable);
    EXPECT_NE(checked.error().message.find("schema version 0, this program needs 4"),
              std::string::npos)
        << checked.error().message;
    EXPECT_NE(checked.error().message.find("marketplace-milter migrate"), std::string::npos);
    EXPECT_EQ(backend_.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");

    auto migrated = migrate_postgres(backend_.config());
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
    EXPECT_EQ(migrated->from, 0);
    EXPECT_EQ(migrated->to, postgres_schema_version());
    EXPECT_EQ(backend_.query("SELECT version FROM schema_version"), "4");
    EXPECT_TRUE(open_postgres_store(backend_.config(), PostgresOpen::check).ok());

    auto again = migrate_postgres(backend_.config());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->from, 4);
    EXPECT_EQ(again->to, 4);
}

TEST_F(PostgresTest, NewerSchemaIsRefusedByTheDaemonAndByMigrate) {
    ASSERT_NE(open(), nullptr);
    ASSERT_TRUE(backend_.exec("UPDATE schema_version SET version = 99"));
    for (auto mode : {PostgresOpen::check, PostgresOpen::migrate}) {
        auto r = open_postgres_store(backend_.config(), mode);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::unavailable);
        EXPECT_NE(r.error().message.find("schema version 99"), std::string::npos)
            << r.error().message;
    }
}

TEST_F(PostgresTest, MigrateOnTwoHostsAtOnceBothSucceedOnce) {
    std::vector<Result<SchemaMigration>> results(4, Failure{});
    std::vector<std::thread> threads;
    for (auto& result : results)
        threads.emplace_back([&] { result = migrate_postgres(backend_.config()); });
    for (auto& t : threads) t.join();
    int from_zero = 0;
    for (const auto& r : results) {
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->to, 4);
        if (r->from == 0) ++from_zero;
    }
    EXPECT_EQ(from_zero, 1);
    EXPECT_EQ(backend_.query("SELECT version FROM schema_version"), "4");
    EXPECT_EQ(backend_.query("SELECT count(*) FROM schema_version"), "1");
}

TEST_F(PostgresTest, StatementOverTheTimeoutIsUnavailableAndTheStoreWorksAfterwards) {
    auto store = open(300);
    ASSERT_NE(store, nullptr);
    const std::int64_t pair = add_pair(*store);
    // Another host holds the seller's row.
    mm::testing::PgConn other = mm::testing::pg_connect(backend_.dsn());
    ASSERT_EQ(mm::testing::pg_query(other.get(), "BEGIN"), "");
    ASSERT_EQ(mm::testing::pg_query(other.get(), "SELECT id FROM party WHERE id = 's1' FOR UPDATE"),
              "s1");

    const auto start = steady_clock::now();
    auto r = store->apply_thread_event(ThreadEvent{pair, "o1", "b1", "s1", kT0, 3600, true},
                                       unsolicited_once);
    const auto waited = steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find("statement timeout"), std::string::npos) << r.error().message;
    EXPECT_GE(waited, milliseconds(300));
    EXPECT_LT(waited, milliseconds(3000));
    // Reads do not wait for the lock.
    EXPECT_TRUE(store->find_party("s1").ok());

    ASSERT_EQ(mm::testing::pg_query(other.get(), "ROLLBACK"), "");
    auto after = store->apply_thread_event(ThreadEvent{pair, "o1", "b1", "s1", kT0, 3600, true},
                                           unsolicited_once);
    ASSERT_TRUE(after.ok()) << after.error().message;
    EXPECT_TRUE(after->allowed);
}

TEST_F(PostgresTest, CallerWaitsForABusyPoolAtMostTheTimeout) {
    auto store = open(200, 1);
    ASSERT_NE(store, nullptr);
    const std::int64_t pair = add_pair(*store);
    std::atomic<bool> holding{false};
    std::thread holder([&] {
        auto r = store->apply_thread_event(ThreadEvent{pair, "o1", "b1", "s1", kT0, 3600, false},
                                           [&](const ThreadState&) {
                                               holding = true;
                                               std::this_thread::sleep_for(milliseconds(800));
                                               return ThreadUpdate{};
                                           });
        EXPECT_TRUE(r.ok());
    });
    while (!holding.load()) std::this_thread::yield();
    const auto start = steady_clock::now();
    auto r = store->find_party("b1");
    const auto waited = steady_clock::now() - start;
    holder.join();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find("all 1 connections busy"), std::string::npos)
        << r.error().message;
    EXPECT_GE(waited, milliseconds(200));
    EXPECT_LT(waited, milliseconds(700));
    EXPECT_TRUE(store->find_party("b1").ok());  // the connection came back
}

// The notifications a LISTENing connection has received within `wait`.
std::set<std::string> notifications(PGconn* c, milliseconds wait) {
    std::set<std::string> out;
    const auto deadline = steady_clock::now() + wait;
    while (steady_clock::now() < deadline) {
        pollfd p{PQsocket(c), POLLIN, 0};
        ::poll(&p, 1, 50);
        PQconsumeInput(c);
        while (PGnotify* n = PQnotifies(c)) {
            EXPECT_STREQ(n->relname, "mm_store_changed");
            out.insert(n->extra);
            PQfreemem(n);
        }
    }
    return out;
}

TEST_F(PostgresTest, ChangesToPartiesPairsAndOrdersNotifyWithTheTableName) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    mm::testing::PgConn listener = mm::testing::pg_connect(backend_.dsn());
    ASSERT_EQ(mm::testing::pg_query(listener.get(), "LISTEN mm_store_changed"), "");

    Party b = party("b1", Role::buyer, "bob@gmail.example");
    b.senders = {"bob@work.example"};
    ASSERT_TRUE(store->add_party(b).ok());
    ASSERT_TRUE(store->add_party(party("s1", Role::seller, "support@acme.example")).ok());
    auto pair = store->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    ASSERT_TRUE(store->add_order(Order{"o-1", pair->id, "standard", "fbm", 0}).ok());
    EXPECT_EQ(notifications(listener.get(), milliseconds(500)),
              (std::set<std::string>{"party", "party_sender", "pair", "orders"}));

    // Thread state is not the caches' business: no notification.
    ASSERT_TRUE(store
                    ->apply_thread_event(ThreadEvent{pair->id, "o-1", "b1", "s1", kT0, 3600, true},
                                         unsolicited_once)
                    .ok());
    EXPECT_TRUE(notifications(listener.get(), milliseconds(300)).empty());
}

TEST(PostgresDsnTest, RedactedDsnNamesTheServerButNeverThePassword) {
    EXPECT_EQ(redact_dsn("host=db.example port=5433 user=milter password=s3cret dbname=mp"),
              "host=db.example port=5433 dbname=mp user=milter");
    const std::string uri = redact_dsn("postgresql://milter:s3cret@db.example:5433/mp");
    EXPECT_EQ(uri.find("s3cret"), std::string::npos) << uri;
    EXPECT_NE(uri.find("host=db.example"), std::string::npos) << uri;
    EXPECT_EQ(redact_dsn("password s3cret"), "(unparsable dsn)");
}

TEST(PostgresDsnTest, ConnectionFailureIsUnavailableWithoutThePassword) {
    // A port nothing listens on (a bound socket that never listens).
    const std::string dsn =
        "host=127.0.0.1 port=1 user=milter password=pw-never-shown dbname=marketplace";
    auto r = open_postgres_store(PostgresConfig{dsn, "", 2, 1000}, PostgresOpen::check);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_EQ(r.error().message.find("pw-never-shown"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("host=127.0.0.1 port=1"), std::string::npos)
        << r.error().message;

    auto bad = open_postgres_store(PostgresConfig{"password pw-never-shown", "", 2, 1000},
                                   PostgresOpen::check);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::invalid);
    EXPECT_EQ(bad.error().message.find("pw-never-shown"), std::string::npos);
}

TEST(PostgresDsnTest, ServerThatNeverAnswersFailsTheCallWithinTheTimeout) {
    // A socket that listens and never accepts: the kernel completes the
    // handshake, then nothing ever answers the startup message.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string dsn =
        "host=127.0.0.1 port=" + std::to_string(ntohs(addr.sin_port)) + " dbname=x user=milter";
    const auto start = steady_clock::now();
    auto r = open_postgres_store(PostgresConfig{dsn, "", 2, 300}, PostgresOpen::check);
    const auto waited = steady_clock::now() - start;
    ::close(fd);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find("no answer within 300 ms"), std::string::npos)
        << r.error().message;
    EXPECT_GE(waited, milliseconds(300));
    EXPECT_LT(waited, milliseconds(1500));  // libpq's connect_timeout: 2 s at least
}

TEST_F(PostgresTest, FactoryChecksByDefaultAndMigratesWhenAsked) {
    StoreConfig config;
    config.type = "postgres";
    config.postgres = backend_.config(1000, 0);  // pool 0: the factory's default
    auto checked = make_store(config);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.error().code, Errc::unavailable);
    auto migrated = migrate_store(config);
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
    EXPECT_EQ(migrated->to, 4);
    auto store = make_store(config);
    ASSERT_TRUE(store.ok()) << store.error().message;
    EXPECT_TRUE((*store)->add_party(party("b1", Role::buyer, "bob@gmail.example")).ok());

    config.postgres.dsn.clear();
    auto none = make_store(config);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, Errc::invalid);
}

// A server of the test's own, stopped and started under a store.
class PostgresRestartTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (mm::testing::postgres_test_dsn().empty())
            GTEST_SKIP() << "no PostgreSQL test server (MM_TEST_PG_DIR)";
        ASSERT_EQ(server("start"), 0);
        std::ifstream in(dir_.file("dsn"));
        std::getline(in, dsn_);
    }
    void TearDown() override { (void)server("stop"); }
    int server(const char* command) {
        const std::string cmd = std::string(MM_SOURCE_DIR) + "/tests/support/pg_server " + command +
                                " " + dir_.path().string() + " >/dev/null";
        return std::system(cmd.c_str());
    }

    mm::testing::TempDir dir_;
    std::string dsn_;
};

TEST_F(PostgresRestartTest, StoppedServerFailsCallsWithinTheTimeoutAndTheStoreReconnects) {
    auto opened = open_postgres_store(PostgresConfig{dsn_, "", 4, 1000}, PostgresOpen::migrate);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    auto store = std::move(opened).value();
    ASSERT_TRUE(store->add_party(party("b1", Role::buyer, "bob@gmail.example")).ok());

    ASSERT_EQ(server("stop"), 0);
    for (int i = 0; i < 3; ++i) {
        const auto start = steady_clock::now();
        auto r = store->find_party("b1");
        const auto waited = steady_clock::now() - start;
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::unavailable) << r.error().message;
        EXPECT_LT(waited, milliseconds(3000));
        auto w = store->add_party(party("b2", Role::buyer, "carol@gmail.example"));
        ASSERT_FALSE(w.ok());
        EXPECT_EQ(w.error().code, Errc::unavailable) << w.error().message;
    }

    ASSERT_EQ(server("start"), 0);
    auto found = store->find_party("b1");
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_TRUE(found->has_value());
    EXPECT_TRUE(store->add_party(party("b2", Role::buyer, "carol@gmail.example")).ok());
}

TEST_F(PostgresRestartTest, ConnectionsIdleAcrossARestartAreReplacedUnnoticed) {
    auto opened = open_postgres_store(PostgresConfig{dsn_, "", 4, 1000}, PostgresOpen::migrate);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    auto store = std::move(opened).value();
    ASSERT_TRUE(store->add_party(party("b1", Role::buyer, "bob@gmail.example")).ok());
    ASSERT_EQ(server("restart"), 0);
    for (int i = 0; i < 8; ++i) {
        auto found = store->find_party("b1");
        ASSERT_TRUE(found.ok()) << i << ": " << found.error().message;
    }
}

}  // namespace
}  // namespace mm::alias
