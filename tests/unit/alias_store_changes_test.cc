// Unit tests for cache invalidation across hosts: AliasDirectory::invalidate
// (and TtlCache's generations), and the PostgreSQL ChangeListener
// (alias/postgres/change_listener.h) against a real server.
//
// The server is the ctest fixture `postgres` (tests/support/pg_server; its
// connection string in $MM_TEST_PG_DIR/dsn); each test works in a database
// of its own, so notifications of other tests never reach it.  The restart
// test starts a private server of its own instead, so that bouncing it
// never disturbs another test using the shared one.  Without
// MM_TEST_PG_DIR (run outside ctest) the PostgreSQL tests are skipped.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alias/alias_directory.h"
#include "alias/postgres/change_listener.h"
#include "alias/postgres/handles.h"
#include "alias/sqlite_store.h"
#include "alias/store_factory.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using postgres::ChangeListener;
using postgres::ChangeListenerOptions;

using Conn = postgres::ConnPtr;

Conn connect(const std::string& dsn) {
    Conn c(PQconnectdb(dsn.c_str()));
    EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    return c;
}

void exec(PGconn* c, const std::string& sql) {
    postgres::ResultPtr r(PQexec(c, sql.c_str()));
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << sql << ": " << PQerrorMessage(c);
}

std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// What a listener reported, for the test thread to wait on.
class Recorder {
public:
    OnStoreChange on_change() {
        return [this](std::string_view table) {
            std::lock_guard lock(mu_);
            tables_.emplace_back(table);
            cv_.notify_all();
        };
    }
    OnFeedEvent on_event() {
        return [this](FeedEvent e, const std::string& detail) {
            std::lock_guard lock(mu_);
            events_.push_back(e);
            details_.push_back(detail);
            cv_.notify_all();
        };
    }
    bool wait_table(const std::string& table, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, timeout, [&] {
            return std::find(tables_.begin(), tables_.end(), table) != tables_.end();
        });
    }
    bool wait_event(FeedEvent e, std::size_t nth, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, timeout, [&] {
            return static_cast<std::size_t>(std::count(events_.begin(), events_.end(), e)) >= nth;
        });
    }
    std::vector<std::string> details() {
        std::lock_guard lock(mu_);
        return details_;
    }
    std::size_t empties() {
        std::lock_guard lock(mu_);
        return static_cast<std::size_t>(std::count(tables_.begin(), tables_.end(), ""));
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::string> tables_;
    std::vector<FeedEvent> events_;
    std::vector<std::string> details_;
};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

std::string pg_server() {
    return std::string(MM_SOURCE_DIR) + "/tests/support/pg_server";
}

// ---- AliasDirectory::invalidate, without PostgreSQL ----------------------------------------

class InvalidateTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto store = open_sqlite_store(dir_.file("store.db"));
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::move(store).value();
        ASSERT_TRUE(store_->add_party({"bob", Role::buyer, "bob@example.org", "Bob", {}, {}}));
        ASSERT_TRUE(store_->add_party({"acme", Role::seller, "s@acme.example", "Acme", {}, {}}));
        auto pair = store_->add_pair("bob", "acme");
        ASSERT_TRUE(pair);
        pair_ = *pair;
        directory_ = std::make_unique<AliasDirectory>(store_, 1h);
    }

    std::string seller_name() {
        auto r = directory_->resolve(pair_.seller_alias);
        EXPECT_TRUE(r && *r);
        return r && *r ? (*r)->owner.display_name : "";
    }

    void rename_seller(const std::string& name) {
        auto p = store_->find_party("acme");
        ASSERT_TRUE(p && *p);
        Party changed = **p;
        changed.display_name = name;
        ASSERT_TRUE(store_->update_party(changed));
    }

    mm::testing::TempDir dir_;
    std::shared_ptr<Store> store_;
    Pair pair_;
    std::unique_ptr<AliasDirectory> directory_;
};

TEST_F(InvalidateTest, InvalidateEmptiesBothCaches) {
    ASSERT_TRUE(store_->add_order({"123-1", pair_.id, "standard", "fbm", 0}));
    EXPECT_EQ(seller_name(), "Acme");
    auto missing = directory_->find_order("123-2");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);

    rename_seller("Acme Two");
    ASSERT_TRUE(store_->add_order({"123-2", pair_.id, "wine", "fba", 0}));
    EXPECT_EQ(seller_name(), "Acme");  // cached for an hour
    EXPECT_FALSE(*directory_->find_order("123-2"));

    directory_->invalidate();
    EXPECT_EQ(seller_name(), "Acme Two");
    auto found = directory_->find_order("123-2");
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->kind, "wine");
}

TEST(TtlCacheTest, AValueLoadedBeforeAClearIsNotPutAfterIt) {
    TtlCache<int> cache(1h, 10);
    const auto before = cache.generation();
    cache.clear();  // an invalidation while the value was being loaded
    cache.put("k", 1, before);
    EXPECT_FALSE(cache.get("k"));
    cache.put("k", 2, cache.generation());
    EXPECT_EQ(cache.get("k"), 2);
}

TEST(ChangeFeedFactoryTest, SqliteHasNoFeedAndABadDsnIsRefusedWithoutEchoingIt) {
    StoreConfig sqlite;
    auto none = make_change_feed(sqlite, [](std::string_view) {}, {});
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, nullptr);

    StoreConfig pg;
    pg.type = "postgres";
    pg.postgres.dsn = "password=hunter2 this is not a dsn";
    auto bad = make_change_feed(pg, [](std::string_view) {}, {});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::invalid);
    EXPECT_EQ(bad.error().message.find("hunter2"), std::string::npos) << bad.error().message;
}

// ---- ChangeListener against PostgreSQL ---------------------------------------------------------

class ListenerTest : public InvalidateTest {
protected:
    void SetUp() override {
        const char* dir = std::getenv("MM_TEST_PG_DIR");
        if (dir == nullptr) GTEST_SKIP() << "MM_TEST_PG_DIR not set (run through ctest)";
        InvalidateTest::SetUp();
        if (HasFatalFailure()) return;
        base_dsn_ = first_line(std::string(dir) + "/dsn");
        ASSERT_FALSE(base_dsn_.empty());
        static std::atomic<int> counter{0};
        db_name_ = "mm_listen_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
        admin_ = connect(base_dsn_);
        exec(admin_.get(), "CREATE DATABASE " + db_name_);
        dsn_ = base_dsn_ + " dbname=" + db_name_;
    }
    void TearDown() override {
        listener_.reset();
        if (admin_) exec(admin_.get(), "DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
    }

    // A listener that empties the directory and records what it was told.
    void start(const std::string& dsn) {
        ChangeListenerOptions options;
        options.dsn = dsn;
        options.min_backoff = 50ms;
        options.max_backoff = 500ms;
        auto on_change = recorder_.on_change();
        auto listener = ChangeListener::start(
            options,
            [this, on_change](std::string_view table) {
                directory_->invalidate();
                on_change(table);
            },
            recorder_.on_event());
        ASSERT_TRUE(listener) << listener.error().message;
        listener_ = std::move(listener).value();
        ASSERT_TRUE(wait_until([&] { return listener_->listening(); }, 10s))
            << "not listening after 10 s";
    }

    void notify(const std::string& dsn, const std::string& table) {
        Conn c = connect(dsn);
        exec(c.get(), "NOTIFY " + std::string(kStoreChangedChannel) + ", '" + table + "'");
    }

    std::string base_dsn_, db_name_, dsn_;
    Conn admin_;
    Recorder recorder_;
    std::unique_ptr<ChangeListener> listener_;
};

TEST_F(ListenerTest, ANotifyEmptiesTheCacheWithinASecond) {
    ASSERT_NO_FATAL_FAILURE(start(dsn_));
    EXPECT_EQ(seller_name(), "Acme");
    rename_seller("Acme Renamed");
    EXPECT_EQ(seller_name(), "Acme");  // cached

    Conn c = connect(dsn_);
    const auto sent = Clock::now();
    exec(c.get(), "NOTIFY mm_store_changed, 'party'");
    ASSERT_TRUE(wait_until([&] { return seller_name() == "Acme Renamed"; }, 1s))
        << "the cache still holds the old name 1 s after NOTIFY";
    const double took = ms_since(sent);
    std::printf("NOTIFY to an emptied cache: %.2f ms\n", took);
    RecordProperty("notify_to_invalidated_ms", std::to_string(took));
    EXPECT_TRUE(recorder_.wait_table("party", 1s));
}

TEST_F(ListenerTest, NotificationsOfAnotherDatabaseAreNotHeard) {
    ASSERT_NO_FATAL_FAILURE(start(dsn_));
    notify(base_dsn_, "orders");  // the shared database, not this test's
    notify(dsn_, "pair");
    EXPECT_TRUE(recorder_.wait_table("pair", 1s));
    EXPECT_FALSE(recorder_.wait_table("orders", 0ms));
}

TEST_F(ListenerTest, StoppingIsPrompt) {
    ASSERT_NO_FATAL_FAILURE(start(dsn_));
    auto t = Clock::now();
    listener_.reset();
    const double listening = ms_since(t);

    // Waiting between attempts: nothing listens on this port.
    const int closed_port = [] {
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
        ::close(s);
        return ntohs(a.sin_port);
    }();
    ChangeListenerOptions retrying;
    retrying.dsn = "host=127.0.0.1 port=" + std::to_string(closed_port) + " dbname=x user=x";
    retrying.min_backoff = retrying.max_backoff = 60s;
    auto failing = ChangeListener::start(retrying, [](std::string_view) {});
    ASSERT_TRUE(failing);
    std::this_thread::sleep_for(100ms);
    t = Clock::now();
    failing->reset();
    const double backing_off = ms_since(t);

    // Connecting to a server that never answers: a socket that listens
    // and never accepts (the kernel completes the handshake).
    int mute = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(mute, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(mute, 4), 0);
    ::getsockname(mute, reinterpret_cast<sockaddr*>(&a), &len);
    ChangeListenerOptions hanging;
    hanging.dsn = "host=127.0.0.1 port=" + std::to_string(ntohs(a.sin_port)) + " dbname=x user=x";
    hanging.connect_timeout = 60s;
    auto stuck = ChangeListener::start(hanging, [](std::string_view) {});
    ASSERT_TRUE(stuck);
    std::this_thread::sleep_for(100ms);
    t = Clock::now();
    stuck->reset();
    const double connecting = ms_since(t);
    ::close(mute);

    std::printf("stop: listening %.2f ms, backing off %.2f ms, connecting %.2f ms\n", listening,
                backing_off, connecting);
    EXPECT_LT(listening, 500);
    EXPECT_LT(backing_off, 500);
    EXPECT_LT(connecting, 500);
}

// A server of its own, restarted under the listener: the caches are emptied
// when the connection drops, the listener reconnects, and notifications
// work again.
TEST_F(ListenerTest, AfterAServerRestartItReconnectsAndHearsAgain) {
    mm::testing::TempDir own;
    const std::string pg_dir = own.file("pg");
    // The server runs as the postgres user, who must reach its directory.
    std::filesystem::permissions(
        std::filesystem::path(pg_dir).parent_path(),
        std::filesystem::perms::others_exec | std::filesystem::perms::group_exec,
        std::filesystem::perm_options::add);
    ASSERT_EQ(std::system((pg_server() + " start " + pg_dir).c_str()), 0);
    struct Stop {
        std::string dir;
        ~Stop() { (void)std::system((pg_server() + " stop " + dir).c_str()); }
    } stop{pg_dir};
    const std::string dsn = first_line(pg_dir + "/dsn");
    ASSERT_NO_FATAL_FAILURE(start(dsn));
    ASSERT_TRUE(recorder_.wait_event(FeedEvent::connected, 1, 1s));
    EXPECT_EQ(seller_name(), "Acme");
    rename_seller("Acme After Restart");

    const auto restart = Clock::now();
    ASSERT_EQ(std::system((pg_server() + " restart " + pg_dir).c_str()), 0);
    const double restarted = ms_since(restart);
    ASSERT_TRUE(recorder_.wait_event(FeedEvent::dropped, 1, 15s)) << "the drop went unnoticed";
    EXPECT_EQ(seller_name(), "Acme After Restart");  // emptied at the drop
    ASSERT_TRUE(recorder_.wait_event(FeedEvent::connected, 2, 15s)) << "no reconnection";
    ASSERT_TRUE(wait_until([&] { return listener_->listening(); }, 1s));
    std::printf("restart took %.0f ms; listening again %.0f ms after it returned\n", restarted,
                ms_since(restart) - restarted);
    EXPECT_GE(recorder_.empties(), 3u);  // first connect, the drop, the reconnect

    notify(dsn, "orders");
    EXPECT_TRUE(recorder_.wait_table("orders", 1s)) << "no notification after the restart";
    for (const auto& d : recorder_.details())
        EXPECT_EQ(d.find("milter-test"), std::string::npos) << "a password in: " << d;
    listener_.reset();
}

}  // namespace
}  // namespace mm::alias
