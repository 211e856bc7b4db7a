// Unit tests for alias/alias_directory: resolving aliases through the store,
// on both backends (tests/support/store_backends.h), and the TTL cache in
// front of it.  Each test works on a fresh database (removed afterwards).
//
// The store is wrapped in a ProbeStore that counts calls and can be switched
// to fail as an unreachable database does (Errc::unavailable).  A real lock
// cannot stand in for that: in WAL mode readers are not blocked by a writer,
// and every open connection holds a shared lock that keeps other processes
// from taking an exclusive one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "alias/alias_directory.h"
#include "alias/sqlite_store.h"
#include "tests/support/fake_store.h"
#include "tests/support/store_backends.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

using namespace std::chrono_literals;

class ProbeStore : public mm::testing::ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;

    std::atomic<int> calls{0};
    std::atomic<bool> down{false};

    Result<std::optional<Party>> find_party(const std::string& id) override {
        ++calls;
        if (down) return unavailable();
        return ForwardingStore::find_party(id);
    }
    Result<std::optional<Pair>> find_pair(const std::string& b, const std::string& s) override {
        ++calls;
        if (down) return unavailable();
        return ForwardingStore::find_pair(b, s);
    }
    Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) override {
        ++calls;
        if (down) return unavailable();
        return ForwardingStore::find_pair_by_alias(local);
    }
    Result<std::optional<Order>> find_order(const std::string& id) override {
        ++calls;
        if (down) return unavailable();
        return ForwardingStore::find_order(id);
    }
};

class DirectoryTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        backend_ = mm::testing::make_backend(GetParam());
        if (!backend_) GTEST_SKIP() << "no PostgreSQL test server (MM_TEST_PG_DIR)";
        auto store = backend_->open(backend_->is_postgres() ? 5000 : 100);
        ASSERT_NE(store, nullptr);
        probe_ = std::make_shared<ProbeStore>(std::move(store));

        Party b;
        b.id = "b1";
        b.role = Role::buyer;
        b.address = "bob@gmail.example";
        b.display_name = "Bob";
        Party s;
        s.id = "s1";
        s.role = Role::seller;
        s.address = "support@acme.example";
        s.display_name = "Acme Store";
        s.senders = {"orders@acme.example"};
        ASSERT_TRUE(probe_->add_party(b).ok());
        ASSERT_TRUE(probe_->add_party(s).ok());
        auto pair = probe_->add_pair("b1", "s1");
        ASSERT_TRUE(pair.ok());
        pair_ = *pair;
    }

    Order order_of_pair(const std::string& id, const std::string& kind = "standard") const {
        Order o;
        o.id = id;
        o.pair_id = pair_.id;
        o.kind = kind;
        return o;
    }
    // dir.find_order(id), which must not fail: whether it found the order.
    static bool found(AliasDirectory& dir, const std::string& id) {
        auto r = dir.find_order(id);
        EXPECT_TRUE(r.ok()) << r.error().message;
        return r.ok() && r->has_value();
    }

    std::unique_ptr<mm::testing::StoreBackend> backend_;
    std::shared_ptr<ProbeStore> probe_;  // after backend_: closed before its database goes
    Pair pair_;
};

INSTANTIATE_TEST_SUITE_P(Backends, DirectoryTest, ::testing::ValuesIn(mm::testing::kStoreBackends),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(DirectoryTest, BuyerAliasReachesTheBuyerFromTheSeller) {
    AliasDirectory dir(probe_, 60s);
    auto r = dir.resolve(pair_.buyer_alias);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->has_value());
    const ResolvedAlias& a = **r;
    EXPECT_EQ(a.pair.id, pair_.id);
    EXPECT_EQ(a.owner.id, "b1");
    EXPECT_EQ(a.owner.address, "bob@gmail.example");
    EXPECT_EQ(a.counterpart.id, "s1");
    EXPECT_TRUE(a.counterpart.may_send_from("orders@acme.example"));
    EXPECT_EQ(a.counterpart_alias(), pair_.seller_alias);
}

TEST_P(DirectoryTest, SellerAliasReachesTheSellerFromTheBuyer) {
    AliasDirectory dir(probe_, 60s);
    auto r = dir.resolve(pair_.seller_alias);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->has_value());
    const ResolvedAlias& a = **r;
    EXPECT_EQ(a.owner.id, "s1");
    EXPECT_EQ(a.owner.role, Role::seller);
    EXPECT_EQ(a.counterpart.id, "b1");
    EXPECT_EQ(a.counterpart.role, Role::buyer);
    EXPECT_EQ(a.counterpart_alias(), pair_.buyer_alias);
}

TEST_P(DirectoryTest, AliasIsCaseInsensitive) {
    AliasDirectory dir(probe_, 60s);
    std::string upper = pair_.buyer_alias;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto r = dir.resolve(upper);
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ((*r)->owner.id, "b1");
}

TEST_P(DirectoryTest, UnknownAliasIsNulloptAndTheAnswerIsCached) {
    AliasDirectory dir(probe_, 60s);
    auto r = dir.resolve("0123456789abcdef");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
    const int calls = probe_->calls;
    EXPECT_EQ(calls, 1);
    r = dir.resolve("0123456789abcdef");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
    EXPECT_EQ(probe_->calls, calls);  // negative answer from the cache
}

TEST_P(DirectoryTest, NonAliasStringsAreNulloptWithoutAStoreLookup) {
    AliasDirectory dir(probe_, 0ms);
    probe_->down = true;  // would fail if it were asked
    for (const char* local : {"postmaster", "", "bob", "0123456789abcdeg", "0123456789abcde",
                              "0123456789abcdef0", "0123456789abcdef@x"}) {
        auto r = dir.resolve(local);
        ASSERT_TRUE(r.ok()) << local;
        EXPECT_FALSE(r->has_value()) << local;
    }
    EXPECT_EQ(probe_->calls, 0);
}

TEST_P(DirectoryTest, CacheHitDoesNotNeedTheStore) {
    AliasDirectory dir(probe_, 1h);
    auto first = dir.resolve(pair_.buyer_alias);
    ASSERT_TRUE(first.ok() && first->has_value());
    const int calls = probe_->calls;

    probe_->down = true;
    auto again = dir.resolve(pair_.buyer_alias);
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_TRUE(again->has_value());
    EXPECT_EQ((*again)->owner.id, "b1");
    EXPECT_EQ((*again)->counterpart_alias(), pair_.seller_alias);
    EXPECT_EQ(probe_->calls, calls);

    // The other alias of the pair was never cached: it needs the store.
    auto other = dir.resolve(pair_.seller_alias);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code, Errc::unavailable);
}

TEST_P(DirectoryTest, TtlZeroAsksTheStoreEveryTimeAndSurfacesItsFailure) {
    AliasDirectory dir(probe_, 0ms);
    ASSERT_TRUE(dir.resolve(pair_.buyer_alias).ok());
    const int calls = probe_->calls;
    ASSERT_GT(calls, 0);
    ASSERT_TRUE(dir.resolve(pair_.buyer_alias).ok());
    EXPECT_EQ(probe_->calls, 2 * calls);

    probe_->down = true;
    auto r = dir.resolve(pair_.buyer_alias);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
}

TEST_P(DirectoryTest, FailuresAreNeverCached) {
    AliasDirectory dir(probe_, 1h);
    probe_->down = true;
    auto r = dir.resolve(pair_.buyer_alias);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);

    probe_->down = false;
    r = dir.resolve(pair_.buyer_alias);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->owner.id, "b1");
}

TEST_P(DirectoryTest, EntriesExpireAfterTheTtl) {
    AliasDirectory dir(probe_, 20ms);
    ASSERT_TRUE(dir.resolve(pair_.buyer_alias).ok());
    // The entry expires at most 20 ms after the first resolve returned.
    const auto cached_by = std::chrono::steady_clock::now();
    const int calls = probe_->calls;
    std::this_thread::sleep_until(cached_by + 20ms + 1ms);

    probe_->down = true;
    auto r = dir.resolve(pair_.buyer_alias);
    ASSERT_FALSE(r.ok());  // expired: the store was asked again
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_GT(probe_->calls, calls);
}

TEST_P(DirectoryTest, CacheSizeIsBounded) {
    AliasDirectory dir(probe_, 1h, /*max_entries=*/2);
    ASSERT_TRUE(dir.resolve(pair_.buyer_alias).ok());
    ASSERT_TRUE(dir.resolve(pair_.seller_alias).ok());
    int calls = probe_->calls;
    ASSERT_TRUE(dir.resolve(pair_.buyer_alias).ok());  // both fit
    EXPECT_EQ(probe_->calls, calls);

    ASSERT_TRUE(dir.resolve("0123456789abcdef").ok());  // a third entry: the cache is emptied
    calls = probe_->calls;
    ASSERT_TRUE(dir.resolve(pair_.buyer_alias).ok());
    EXPECT_GT(probe_->calls, calls);  // had to ask the store again
}

TEST_P(DirectoryTest, ConcurrentResolvesAgree) {
    AliasDirectory dir(probe_, 50ms);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                const bool buyer_side = (t + i) % 2 == 0;
                auto r = dir.resolve(buyer_side ? pair_.buyer_alias : pair_.seller_alias);
                if (!r.ok() || !r->has_value() || (*r)->owner.id != (buyer_side ? "b1" : "s1"))
                    ++wrong;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST_P(DirectoryTest, FoundOrdersAreCachedAndServedWithTheStoreDown) {
    const Order order = order_of_pair("123-1234567-1234567", "handmade");
    ASSERT_TRUE(probe_->add_order(order).ok());
    AliasDirectory dir(probe_, 1h);
    ASSERT_TRUE(found(dir, order.id));
    const int calls = probe_->calls;

    probe_->down = true;
    auto again = dir.find_order(order.id);
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_TRUE(again->has_value());
    EXPECT_EQ((*again)->pair_id, pair_.id);
    EXPECT_EQ((*again)->kind, "handmade");
    EXPECT_EQ(probe_->calls, calls);
}

TEST_P(DirectoryTest, AnOrderMissIsCachedForTheTtl) {
    // A message naming a junk order id costs one store lookup per TTL.
    AliasDirectory dir(probe_, 1h);
    const Order order = order_of_pair("123-0000000-0000000");
    EXPECT_FALSE(found(dir, order.id));
    const int calls = probe_->calls;

    ASSERT_TRUE(probe_->add_order(order).ok());
    EXPECT_FALSE(found(dir, order.id));
    EXPECT_EQ(probe_->calls, calls);
}

TEST_P(DirectoryTest, AnOrderStoredAfterAMissIsFoundOnceTheMissExpires) {
    AliasDirectory dir(probe_, 20ms);
    const Order order = order_of_pair("123-0000000-0000000");
    EXPECT_FALSE(found(dir, order.id));
    // The miss expires at most 20 ms after find_order returned.
    const auto cached_by = std::chrono::steady_clock::now();

    ASSERT_TRUE(probe_->add_order(order).ok());
    std::this_thread::sleep_until(cached_by + 20ms + 1ms);
    EXPECT_TRUE(found(dir, order.id));
}

TEST_P(DirectoryTest, OrderLookupFailuresAreNeverCachedAndTtlZeroAsksEveryTime) {
    const Order order = order_of_pair("123-7654321-7654321");
    ASSERT_TRUE(probe_->add_order(order).ok());

    AliasDirectory cached(probe_, 1h);
    probe_->down = true;
    auto failed = cached.find_order(order.id);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, Errc::unavailable);
    probe_->down = false;
    EXPECT_TRUE(found(cached, order.id));

    AliasDirectory uncached(probe_, 0ms);
    EXPECT_TRUE(found(uncached, order.id));
    probe_->down = true;
    auto r = uncached.find_order(order.id);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
}

}  // namespace
}  // namespace mm::alias
