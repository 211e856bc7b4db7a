// Unit tests for the marketplace state in the store (thread_state.h), on
// both backends (tests/support/store_backends.h): orders, threads,
// unsolicited counting, fingerprints, [Important] counts, the response-time
// log, dry runs and concurrent events on one thread; and what only the
// SQLite file has (its write lock, its migrations).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "alias/sqlite_store.h"
#include "alias/thread_state.h"
#include "tests/support/store_backends.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kT0 = 1'714'564'800;  // 2024-05-01T12:00:00Z
constexpr std::int64_t kWindow = 3600;

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using RawDb = std::unique_ptr<sqlite3, DbClose>;

ThreadUpdate buyer_message() {
    ThreadUpdate u;
    u.allowed = true;
    u.writer = Role::buyer;
    u.counts_as_buyer_message = true;
    return u;
}

ThreadUpdate seller_message(bool unsolicited, std::string fingerprint = "",
                            bool important = false) {
    ThreadUpdate u;
    u.allowed = true;
    u.writer = Role::seller;
    u.unsolicited = unsolicited;
    u.fingerprint = std::move(fingerprint);
    u.important_used = important;
    return u;
}

class ThreadTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        backend_ = mm::testing::make_backend(GetParam());
        if (!backend_) GTEST_SKIP() << "no PostgreSQL test server (MM_TEST_PG_DIR)";
        store_ = backend_->open(5000);
        ASSERT_NE(store_, nullptr);
        Party b;
        b.id = "b1";
        b.role = Role::buyer;
        b.address = "bob@gmail.example";
        Party sl;
        sl.id = "s1";
        sl.role = Role::seller;
        sl.address = "support@acme.example";
        ASSERT_TRUE(store_->add_party(b).ok());
        ASSERT_TRUE(store_->add_party(sl).ok());
        auto pair = store_->add_pair("b1", "s1");
        ASSERT_TRUE(pair.ok());
        pair_ = pair->id;
    }
    // The first column of the rows of `sql`, joined by ','.
    std::string query(const std::string& sql) { return backend_->query(sql); }
    // The SQLite file (SqliteThreadTest only).
    std::string path() const {
        return static_cast<const mm::testing::SqliteBackend&>(*backend_).path();
    }

    // Applies `u` (decided without looking) and returns the state it saw.
    ThreadState apply(const ThreadUpdate& u, std::int64_t now, const std::string& order = "o1",
                      bool commit = true) {
        ThreadState seen;
        auto r =
            store_->apply_thread_event(ThreadEvent{pair_, order, "b1", "s1", now, kWindow, commit},
                                       [&](const ThreadState& st) {
                                           seen = st;
                                           return u;
                                       });
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return seen;
    }
    ThreadState peek(std::int64_t now, const std::string& order = "o1") {
        return apply(ThreadUpdate{}, now, order, false);
    }

    std::unique_ptr<mm::testing::StoreBackend> backend_;
    std::unique_ptr<Store> store_;  // after backend_: closed before its database goes
    std::int64_t pair_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, ThreadTest, ::testing::ValuesIn(mm::testing::kStoreBackends),
                         [](const auto& info) { return std::string(info.param); });

// What only the SQLite file has: its write lock, PRAGMA user_version.
class SqliteThreadTest : public ThreadTest {};
INSTANTIATE_TEST_SUITE_P(Sqlite, SqliteThreadTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return std::string(info.param); });

// --- Orders --------------------------------------------------------------------------------------

TEST_P(ThreadTest, OrderRoundTrip) {
    Order o{"123-1234567-1234567", pair_, "wine", "fba", kT0};
    ASSERT_TRUE(store_->add_order(o).ok());
    auto found = store_->find_order("123-1234567-1234567");
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->pair_id, pair_);
    EXPECT_EQ((*found)->kind, "wine");
    EXPECT_EQ((*found)->fulfilment, "fba");
    EXPECT_EQ((*found)->created, kT0);
    auto none = store_->find_order("nope");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
}

TEST_P(ThreadTest, OrderErrors) {
    Order o{"o-1", pair_, "standard", "fbm", 0};
    ASSERT_TRUE(store_->add_order(o).ok());
    auto created = store_->find_order("o-1");
    ASSERT_TRUE(created.ok() && created->has_value());
    EXPECT_GT((*created)->created, 0);  // 0 means now

    auto dup = store_->add_order(o);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::conflict);

    Order bad_pair{"o-2", pair_ + 99, "standard", "fbm", 0};
    auto r = store_->add_order(bad_pair);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);

    for (Order bad :
         {Order{"o-3", pair_, "pizza", "fbm", 0}, Order{"o-3", pair_, "custom", "x", 0},
          Order{"", pair_, "custom", "fba", 0}, Order{"a b", pair_, "custom", "fba", 0}}) {
        auto b = store_->add_order(bad);
        ASSERT_FALSE(b.ok()) << bad.id << " " << bad.kind << " " << bad.fulfilment;
        EXPECT_EQ(b.error().code, Errc::invalid);
    }
    EXPECT_EQ(query("SELECT count(*) FROM orders"), "1");
}

// --- Threads -------------------------------------------------------------------------------------

TEST_P(ThreadTest, NewThreadIsCreatedByTheFirstWriter) {
    ThreadState before = peek(kT0);
    EXPECT_FALSE(before.exists);
    EXPECT_EQ(before.pair_id, pair_);
    EXPECT_EQ(before.order_id, "o1");

    apply(seller_message(true), kT0);
    ThreadState st = peek(kT0 + 1);
    EXPECT_TRUE(st.exists);
    EXPECT_EQ(st.started_by, Role::seller);
    EXPECT_EQ(st.created, kT0);
    EXPECT_EQ(st.last_seller_at, kT0);
    EXPECT_EQ(st.last_buyer_at, 0);
    EXPECT_EQ(st.unsolicited_since_buyer, 1);

    apply(buyer_message(), kT0 + 10);
    st = peek(kT0 + 11);
    EXPECT_EQ(st.started_by, Role::seller);  // who wrote first stays
    EXPECT_EQ(st.created, kT0);
    EXPECT_EQ(st.last_buyer_at, kT0 + 10);
    EXPECT_EQ(st.last_seller_at, kT0);
    EXPECT_EQ(st.unsolicited_since_buyer, 0);
}

TEST_P(ThreadTest, ThreadsArePerOrder) {
    apply(buyer_message(), kT0, "o1");
    EXPECT_TRUE(peek(kT0, "o1").exists);
    EXPECT_FALSE(peek(kT0, "o2").exists);
    EXPECT_FALSE(peek(kT0, "").exists);
    apply(seller_message(true), kT0, "");
    ThreadState st = peek(kT0, "");
    EXPECT_TRUE(st.exists);
    EXPECT_EQ(st.started_by, Role::seller);
}

TEST_P(ThreadTest, UnsolicitedCountsUpAndABuyerMessageResetsIt) {
    apply(buyer_message(), kT0);
    apply(seller_message(false), kT0 + 1);  // the answer is solicited
    EXPECT_EQ(peek(kT0 + 2).unsolicited_since_buyer, 0);
    apply(seller_message(true), kT0 + 3);
    apply(seller_message(true), kT0 + 4);
    EXPECT_EQ(peek(kT0 + 5).unsolicited_since_buyer, 2);
    EXPECT_EQ(peek(kT0 + 5).last_seller_at, kT0 + 4);
    apply(buyer_message(), kT0 + 6);
    EXPECT_EQ(peek(kT0 + 7).unsolicited_since_buyer, 0);
}

TEST_P(ThreadTest, BuyerAutoReplyDoesNotCountAsABuyerMessage) {
    apply(seller_message(true), kT0);
    ThreadUpdate auto_reply = buyer_message();
    auto_reply.counts_as_buyer_message = false;
    apply(auto_reply, kT0 + 1);
    ThreadState st = peek(kT0 + 2);
    EXPECT_EQ(st.last_buyer_at, 0);
    EXPECT_EQ(st.unsolicited_since_buyer, 1);
    EXPECT_EQ(query("SELECT count(*) FROM response_log"), "0");
}

TEST_P(ThreadTest, RefusedUpdateWritesNothingButTheImportantCount) {
    ThreadUpdate refused = seller_message(true, "h1", true);
    refused.allowed = false;
    apply(refused, kT0);
    EXPECT_FALSE(peek(kT0).exists);
    EXPECT_EQ(query("SELECT count(*) FROM fingerprints"), "0");
    EXPECT_EQ(query("SELECT count(*) FROM threads"), "0");
    // Misuse of [Important] is refused every time and must still add up to the
    // daily threshold (policy/marketplace/marketplace_rules.h contract).
    EXPECT_EQ(peek(kT0 + 1).important_today, 1);
    ThreadUpdate plain = seller_message(true);
    plain.allowed = false;
    apply(plain, kT0 + 2);
    EXPECT_EQ(peek(kT0 + 3).important_today, 1);
}

TEST_P(ThreadTest, DryRunWritesNothingButSeesTheState) {
    apply(buyer_message(), kT0);
    apply(seller_message(true, "h1", true), kT0 + 1, "o1", /*commit=*/false);
    apply(buyer_message(), kT0 + 2, "o2", /*commit=*/false);
    ThreadState st = peek(kT0 + 3);
    EXPECT_EQ(st.last_seller_at, 0);
    EXPECT_TRUE(st.recent_fingerprints.empty());
    EXPECT_EQ(st.important_today, 0);
    EXPECT_FALSE(peek(kT0 + 3, "o2").exists);
    EXPECT_EQ(query("SELECT count(*) FROM threads"), "1");
    EXPECT_EQ(query("SELECT count(*) FROM response_log"), "1");
    EXPECT_EQ(query("SELECT first_reply_at FROM response_log"), "NULL");
}

TEST_P(ThreadTest, ReturnsTheUpdateDecided) {
    auto r =
        store_->apply_thread_event(ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, true},
                                   [](const ThreadState&) { return seller_message(true, "abc"); });
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->allowed);
    EXPECT_EQ(r->writer, Role::seller);
    EXPECT_EQ(r->fingerprint, "abc");
}

MessageIdRecord mapping(std::int64_t pair_id, const std::string& id) {
    MessageIdRecord r;
    r.marketplace_id = id + "@marketplace.example";
    r.original_id = "orig-" + id + "@acme.example";
    r.pair_id = pair_id;
    r.sender_role = Role::seller;
    r.created = kT0;
    return r;
}

TEST_P(ThreadTest, MessageIdRecordedInTheSameTransactionWhenAllowed) {
    const MessageIdRecord rec = mapping(pair_, "m1");
    auto r =
        store_->apply_thread_event(ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, true, &rec},
                                   [](const ThreadState&) { return seller_message(false, "abc"); });
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto found = store_->find_message_id(rec.marketplace_id);
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->original_id, rec.original_id);
}

TEST_P(ThreadTest, MessageIdNotRecordedWhenRefusedOrDryRun) {
    const MessageIdRecord refused = mapping(pair_, "m2");
    auto r = store_->apply_thread_event(
        ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, true, &refused}, [](const ThreadState&) {
            ThreadUpdate u = seller_message(true, "abc");
            u.allowed = false;
            return u;
        });
    ASSERT_TRUE(r.ok());
    const MessageIdRecord dry = mapping(pair_, "m3");
    r = store_->apply_thread_event(ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, false, &dry},
                                   [](const ThreadState&) { return seller_message(false, "abc"); });
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(query("SELECT count(*) FROM message_id"), "0");
}

TEST_P(ThreadTest, DuplicateMessageIdFailsTheWholeEvent) {
    const MessageIdRecord rec = mapping(pair_, "m4");
    ASSERT_TRUE(store_->record_message_id(rec).ok());
    auto r =
        store_->apply_thread_event(ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, true, &rec},
                                   [](const ThreadState&) { return seller_message(false, "abc"); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::conflict);
    EXPECT_FALSE(peek(kT0).exists);  // rolled back: the thread was not written
}

TEST_P(ThreadTest, UnknownPairIsNotFoundOnCommit) {
    auto r =
        store_->apply_thread_event(ThreadEvent{pair_ + 42, "o1", "b1", "s1", kT0, kWindow, true},
                                   [](const ThreadState&) { return buyer_message(); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    EXPECT_EQ(query("SELECT count(*) FROM threads"), "0");
}

TEST_P(ThreadTest, DecideThrowingIsInternalAndWritesNothing) {
    auto r = store_->apply_thread_event(
        ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, true},
        [](const ThreadState&) -> ThreadUpdate { throw std::runtime_error("boom"); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::internal);
    EXPECT_FALSE(peek(kT0).exists);
}

// --- Fingerprints and [Important] ---------------------------------------------------------------

TEST_P(ThreadTest, FingerprintsInsideTheWindowAreSeenOlderOnesPruned) {
    apply(seller_message(true, "h1"), kT0);
    apply(seller_message(true, "h2"), kT0 + 100, "o2");  // any thread of this seller→buyer
    ThreadState st = peek(kT0 + 200);
    ASSERT_EQ(st.recent_fingerprints.size(), 2u);
    EXPECT_EQ(st.recent_fingerprints[0], (std::pair<std::string, std::int64_t>{"h1", kT0}));
    EXPECT_EQ(st.recent_fingerprints[1].first, "h2");

    // h1 falls out of the window first.
    st = peek(kT0 + kWindow + 50);
    ASSERT_EQ(st.recent_fingerprints.size(), 1u);
    EXPECT_EQ(st.recent_fingerprints[0].first, "h2");
    EXPECT_EQ(query("SELECT count(*) FROM fingerprints"), "2");

    // A write prunes what is out of the window.
    apply(seller_message(true, "h3"), kT0 + kWindow + 60);
    EXPECT_EQ(query("SELECT hash FROM fingerprints ORDER BY at"), "h2,h3");
}

TEST_P(ThreadTest, FingerprintsAreSellerToBuyer) {
    Party b2;
    b2.id = "b2";
    b2.role = Role::buyer;
    b2.address = "alice@gmail.example";
    ASSERT_TRUE(store_->add_party(b2).ok());
    auto pair2 = store_->add_pair("b2", "s1");
    ASSERT_TRUE(pair2.ok());
    apply(seller_message(true, "h1"), kT0);
    ThreadState other;
    auto r = store_->apply_thread_event(
        ThreadEvent{pair2->id, "o9", "b2", "s1", kT0 + 1, kWindow, false},
        [&](const ThreadState& st) {
            other = st;
            return ThreadUpdate{};
        });
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(other.recent_fingerprints.empty());
    EXPECT_EQ(peek(kT0 + 1).recent_fingerprints.size(), 1u);
}

TEST_P(ThreadTest, ImportantIsCountedPerSellerPerUtcDay) {
    const std::int64_t midnight = kT0 - 12 * 3600 + kDay;  // 2024-05-02T00:00:00Z
    apply(seller_message(true, "", true), kT0, "o1");
    apply(seller_message(true, "", true), kT0 + 5, "o2");  // any order
    apply(seller_message(true, "", false), kT0 + 6, "o3");
    EXPECT_EQ(peek(kT0 + 10).important_today, 2);
    EXPECT_EQ(peek(midnight - 1).important_today, 2);
    EXPECT_EQ(peek(midnight).important_today, 0);  // a new UTC day
    apply(seller_message(true, "", true), midnight + 1);
    EXPECT_EQ(peek(midnight + 2).important_today, 1);
    EXPECT_EQ(query("SELECT day || '=' || count FROM important_uses ORDER BY day"),
              "2024-05-01=2,2024-05-02=1");
}

// --- Response times ------------------------------------------------------------------------------

TEST_P(ThreadTest, ResponseLogOpensOnBuyerMessageAndClosesOnTheFirstReply) {
    apply(buyer_message(), kT0);
    apply(buyer_message(), kT0 + 60);        // still open: the first one counts
    apply(buyer_message(), kT0 + 70, "o2");  // one open entry per pair, not per thread
    auto open = store_->response_times("s1", 0);
    ASSERT_TRUE(open.ok());
    ASSERT_EQ(open->size(), 1u);
    EXPECT_EQ((*open)[0].buyer_message_at, kT0);
    EXPECT_EQ((*open)[0].first_reply_at, 0);

    apply(seller_message(false), kT0 + 3600);
    apply(seller_message(false), kT0 + 7200);  // a second reply changes nothing
    apply(buyer_message(), kT0 + 9000);
    ThreadUpdate away = seller_message(false);
    away.counts_as_reply = false;  // an away notice is not an answer
    apply(away, kT0 + 9001);

    auto log = store_->response_times("", 0);
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), 2u);
    EXPECT_EQ((*log)[0].seller_id, "s1");
    EXPECT_EQ((*log)[0].buyer_message_at, kT0);
    EXPECT_EQ((*log)[0].first_reply_at, kT0 + 3600);
    EXPECT_EQ((*log)[1].buyer_message_at, kT0 + 9000);
    EXPECT_EQ((*log)[1].first_reply_at, 0);

    auto since = store_->response_times("s1", kT0 + 1);
    ASSERT_TRUE(since.ok());
    EXPECT_EQ(since->size(), 1u);
    auto other = store_->response_times("s2", 0);
    ASSERT_TRUE(other.ok());
    EXPECT_TRUE(other->empty());
}

// --- Concurrency ---------------------------------------------------------------------------------

TEST_P(ThreadTest, ConcurrentEventsOnOneThreadAllowExactlyOne) {
    constexpr int kThreads = 8;
    std::atomic<int> allowed{0}, failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            while (!go.load()) std::this_thread::yield();
            auto r = store_->apply_thread_event(
                ThreadEvent{pair_, "o1", "b1", "s1", kT0 + i, kWindow, true},
                [](const ThreadState& st) {
                    ThreadUpdate u = seller_message(true);
                    u.allowed = st.unsolicited_since_buyer == 0;
                    // Widen the race window: a store without the write lock
                    // held across decide would let several threads in here.
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                    return u;
                });
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
    EXPECT_EQ(peek(kT0 + 100).unsolicited_since_buyer, 1);
}

TEST_P(SqliteThreadTest, WriteLockElsewhereMakesEventsUnavailableAndDryRunsStillWork) {
    store_.reset();
    auto s = open_sqlite_store(path(), 100);
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path().c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    RawDb db(raw);
    ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    auto r = store_->apply_thread_event(ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, true},
                                        [](const ThreadState&) { return buyer_message(); });
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    auto dry = store_->apply_thread_event(ThreadEvent{pair_, "o1", "b1", "s1", kT0, kWindow, false},
                                          [](const ThreadState&) { return buyer_message(); });
    EXPECT_TRUE(dry.ok());
    ASSERT_EQ(sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
}

TEST_P(SqliteThreadTest, VersionTwoDatabaseIsMigrated) {
    store_.reset();
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open_v2(path().c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
        RawDb db(raw);
        ASSERT_EQ(
            sqlite3_exec(raw,
                         "DROP TABLE orders; DROP TABLE threads; DROP TABLE important_uses; "
                         "DROP TABLE fingerprints; DROP TABLE response_log; DROP TABLE deliveries; "
                         "PRAGMA user_version = 2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
    }
    auto s = open_sqlite_store(path());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
    EXPECT_EQ(query("PRAGMA user_version"), "4");
    ASSERT_TRUE(store_->add_order(Order{"o-1", pair_, "gift-return", "fbm", kT0}).ok());
    apply(buyer_message(), kT0);
    EXPECT_TRUE(peek(kT0).exists);
}

// --- Deliveries (delivery.h) ---------------------------------------------------------------------

Delivery delivery(std::int64_t pair_id, char fill, std::int64_t created = kT0) {
    return Delivery{
        std::string(64, fill), pair_id, "d-" + std::string(1, fill) + "@mp.example", "", created,
        created + kWindow};
}

TEST_P(ThreadTest, DeliveryIsRecordedWithTheOutcomeDecideGaveUntilItExpires) {
    Delivery d = delivery(pair_, 'a');
    const MessageIdRecord rec = mapping(pair_, "d1");
    ThreadEvent e{pair_, "o1", "b1", "s1", kT0, kWindow, true, &rec, &d};
    auto r = store_->apply_thread_event(e, [&](const ThreadState&) {
        d.outcome = "first judgement";
        return seller_message(true, "fp");
    });
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto found = store_->find_delivery(d.key, kT0 + 1);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->outcome, "first judgement");
    EXPECT_EQ((*found)->marketplace_id, d.marketplace_id);
    EXPECT_EQ((*found)->pair_id, pair_);
    EXPECT_EQ((*found)->created, kT0);
    found = store_->find_delivery(d.key, kT0 + kWindow);
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());
}

TEST_P(ThreadTest, CommittedDeliveryRefusesASecondCommitWithoutDecidingOrWriting) {
    Delivery d = delivery(pair_, 'b');
    ThreadEvent e{pair_, "o1", "b1", "s1", kT0, kWindow, true, nullptr, &d};
    ASSERT_TRUE(
        store_->apply_thread_event(e, [](const ThreadState&) { return seller_message(true, "fp"); })
            .ok());
    bool decided = false;
    e.now = kT0 + 60;
    auto again = store_->apply_thread_event(e, [&](const ThreadState&) {
        decided = true;
        return seller_message(true, "fp");
    });
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::conflict);
    EXPECT_FALSE(decided);
    const ThreadState st = peek(kT0 + 60);
    EXPECT_EQ(st.unsolicited_since_buyer, 1);
    EXPECT_EQ(st.recent_fingerprints.size(), 1u);
    // A dry run with the delivery is not a commit: it reads as always.
    e.commit = false;
    EXPECT_TRUE(
        store_->apply_thread_event(e, [](const ThreadState&) { return ThreadUpdate{}; }).ok());
}

TEST_P(ThreadTest, RefusedEventRecordsADeliveryOnlyWhenItCountedImportant) {
    Delivery plain = delivery(pair_, 'c');
    Delivery important = delivery(pair_, 'd');
    for (Delivery* d : {&plain, &important}) {
        ThreadEvent e{pair_, "o1", "b1", "s1", kT0, kWindow, true, nullptr, d};
        auto r = store_->apply_thread_event(e, [&](const ThreadState&) {
            ThreadUpdate u = seller_message(true, "fp", d == &important);
            u.allowed = false;
            return u;
        });
        ASSERT_TRUE(r.ok()) << r.error().message;
    }
    EXPECT_FALSE(store_->find_delivery(plain.key, kT0)->has_value());
    EXPECT_TRUE(store_->find_delivery(important.key, kT0)->has_value());
}

TEST_P(ThreadTest, RecordDeliveryWritesTheMappingOnceAndPrunesExpiredOnes) {
    const Delivery old = delivery(pair_, 'e', kT0 - 10 * kWindow);
    ASSERT_TRUE(store_->record_delivery(old, nullptr).ok());
    const Delivery d = delivery(pair_, 'f', static_cast<std::int64_t>(std::time(nullptr)));
    const MessageIdRecord rec = mapping(pair_, "d2");
    ASSERT_TRUE(store_->record_delivery(d, &rec).ok());
    EXPECT_TRUE(store_->find_message_id(rec.marketplace_id)->has_value());
    const MessageIdRecord other = mapping(pair_, "d3");
    auto again = store_->record_delivery(d, &other);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::conflict);
    EXPECT_FALSE(store_->find_message_id(other.marketplace_id)->has_value());
    EXPECT_EQ(query("SELECT count(*) FROM deliveries"), "1");
}

TEST_P(ThreadTest, DeliveryWithAMalformedKeyIsInvalid) {
    Delivery d = delivery(pair_, 'A');
    auto r = store_->record_delivery(d, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid);
    d = delivery(pair_, 'a');
    d.expires = d.created;
    EXPECT_EQ(store_->record_delivery(d, nullptr).error().code, Errc::invalid);
    d = delivery(pair_ + 100, 'a');
    EXPECT_EQ(store_->record_delivery(d, nullptr).error().code, Errc::not_found);
}

}  // namespace
}  // namespace mm::alias
