// The store contract for parties and pairs on both backends (SQLite and
// PostgreSQL, tests/support/store_backends.h), and the store factory.  The
// Message-ID mapping: alias_store_message_ids_test.cc; parties' rules and
// alias generation: alias_party_test.cc; what only the SQLite file has:
// alias_sqlite_file_test.cc.  Each test works on a fresh database (removed
// afterwards).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "alias/alias_generator.h"
#include "alias/party.h"
#include "alias/sqlite_store.h"
#include "alias/store_factory.h"
#include "tests/support/store_contract.h"
#include "tests/support/test_support.h"

namespace mm::alias {
namespace {

using store_testing::BackendTest;
using store_testing::buyer;
using store_testing::seller;
using store_testing::StoreTest;

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(mm::testing::kStoreBackends),
                         [](const auto& info) { return std::string(info.param); });

// --- Parties in the store --------------------------------------------------------------------

TEST_P(StoreTest, PartyRoundTripWithSendersAndAttributes) {
    Party p = seller("acme-1");
    p.address = "<Support@ACME.example>";
    p.display_name = "Acme \"Best\" Store \xc3\xa9";
    p.senders = {"Orders@Acme.Example", "<billing@acme.example>", "orders@acme.example"};
    p.attributes = {{"vacation", "true"},
                    {"note", "quote \" backslash \\ tab \t uml\xc3\xa4ut"},
                    {"empty", ""}};
    ASSERT_TRUE(store_->add_party(p).ok());

    auto found = store_->find_party("acme-1");
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_TRUE(found->has_value());
    const Party& f = **found;
    EXPECT_EQ(f.id, "acme-1");
    EXPECT_EQ(f.role, Role::seller);
    EXPECT_EQ(f.address, "support@acme.example");  // normalised
    EXPECT_EQ(f.display_name, p.display_name);
    // normalised, de-duplicated, in the order given
    EXPECT_EQ(f.senders, (std::vector<std::string>{"orders@acme.example", "billing@acme.example"}));
    EXPECT_EQ(f.attributes, p.attributes);

    // update replaces everything but the role
    Party u = f;
    u.address = "help@acme.example";
    u.display_name = "Acme";
    u.senders = {"shop@acme.example"};
    u.attributes = {{"tier", "gold"}};
    ASSERT_TRUE(store_->update_party(u).ok());
    auto updated = store_->find_party("acme-1");
    ASSERT_TRUE(updated.ok() && updated->has_value());
    EXPECT_EQ((*updated)->address, "help@acme.example");
    EXPECT_EQ((*updated)->display_name, "Acme");
    EXPECT_EQ((*updated)->senders, std::vector<std::string>{"shop@acme.example"});
    EXPECT_EQ((*updated)->attributes, u.attributes);
    EXPECT_EQ((*updated)->role, Role::seller);

    // and can empty them
    u.senders.clear();
    u.attributes.clear();
    ASSERT_TRUE(store_->update_party(u).ok());
    updated = store_->find_party("acme-1");
    ASSERT_TRUE(updated.ok() && updated->has_value());
    EXPECT_TRUE((*updated)->senders.empty());
    EXPECT_TRUE((*updated)->attributes.empty());
}

TEST_P(StoreTest, FindUnknownPartyIsNullopt) {
    auto found = store_->find_party("nobody");
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());
}

TEST_P(StoreTest, DuplicatePartyIdIsConflictAndKeepsTheOriginal) {
    Party first = buyer("b1");
    first.senders = {"bob@work.example"};
    ASSERT_TRUE(store_->add_party(first).ok());

    Party again = seller("b1", "other@acme.example");
    again.senders = {"x@acme.example"};
    auto r = store_->add_party(again);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::conflict);
    EXPECT_EQ(r.error().message, "party 'b1' exists already");

    auto found = store_->find_party("b1");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->role, Role::buyer);
    EXPECT_EQ((*found)->address, "bob@gmail.example");
    EXPECT_EQ((*found)->senders, std::vector<std::string>{"bob@work.example"});
}

TEST_P(StoreTest, UpdateUnknownPartyIsNotFound) {
    auto r = store_->update_party(buyer("ghost"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    auto found = store_->find_party("ghost");
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());
}

TEST_P(StoreTest, UpdateWithMalformedInputIsInvalidAndChangesNothing) {
    Party p = buyer("b1");
    p.senders = {"bob@work.example"};
    ASSERT_TRUE(store_->add_party(p).ok());
    Party bad = p;
    bad.address = "help@acme.example";
    bad.senders = {"fine@acme.example", "not an address"};
    auto r = store_->update_party(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid);
    auto found = store_->find_party("b1");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->address, "bob@gmail.example");
    EXPECT_EQ((*found)->senders, std::vector<std::string>{"bob@work.example"});
}

struct MalformedParty {
    const char* name;
    Party party;
    friend void PrintTo(const MalformedParty& m, std::ostream* os) { *os << m.name; }
};

class MalformedPartyTest
    : public BackendTest,
      public ::testing::WithParamInterface<std::tuple<const char*, MalformedParty>> {
protected:
    void SetUp() override { open_backend(std::get<0>(GetParam())); }
};

TEST_P(MalformedPartyTest, IsInvalidAndNothingIsWritten) {
    const Party& p = std::get<1>(GetParam()).party;
    auto r = store_->add_party(p);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid) << r.error().message;

    auto found = store_->find_party(p.id);
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());
    // Nothing at all was written, not even a sender row.
    EXPECT_EQ(backend_->query("SELECT count(*) FROM party"), "0");
    EXPECT_EQ(backend_->query("SELECT count(*) FROM party_sender"), "0");
}

MalformedParty with(const char* name, Party p) {
    return MalformedParty{name, std::move(p)};
}

Party with_id(std::string id) {
    Party p = buyer("x");
    p.id = std::move(id);
    return p;
}
Party with_address(std::string address) {
    return buyer("b1", std::move(address));
}
Party with_name(std::string name) {
    Party p = buyer("b1");
    p.display_name = std::move(name);
    return p;
}
Party with_sender(std::string sender) {
    Party p = buyer("b1");
    p.senders = {"good@gmail.example", std::move(sender)};
    return p;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedPartyTest,
    ::testing::Combine(
        ::testing::ValuesIn(mm::testing::kStoreBackends),
        ::testing::Values(
            with("EmptyId", with_id("")), with("IdWithSpace", with_id("a b")),
            with("IdWithSlash", with_id("a/b")), with("IdWithQuote", with_id("a'b")),
            with("IdTooLong", with_id(std::string(65, 'a'))),
            with("IdNonAscii", with_id("b\xc3\xa9")), with("EmptyAddress", with_address("")),
            with("AddressWithoutAt", with_address("bob.gmail.example")),
            with("AddressWithSpace", with_address("bob smith@gmail.example")),
            with("AddressWithCrLf", with_address("bob@gmail.example\r\nBcc: x@y.example")),
            with("AddressBadDomain", with_address("bob@-gmail.example")),
            with("NameWithCr", with_name("Bob\rSmith")),
            with("NameWithLf", with_name("Bob\nSmith")),
            with("NameWithNul", with_name(std::string("Bob\0Smith", 9))),
            with("MalformedSender", with_sender("not-an-address")),
            with("SenderWithLf", with_sender("x@y.example\n")))),
    [](const auto& info) {
        return std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name;
    });

TEST_P(StoreTest, FailureHalfwayThroughAWriteLeavesNothingHalfWritten) {
    Party p = buyer("b1");
    p.senders = {"bob@work.example"};
    ASSERT_TRUE(store_->add_party(p).ok());
    // Make the database refuse one sender row, after the party row and the
    // other senders are already written inside the transaction.
    ASSERT_TRUE(backend_->exec(
        postgres() ? "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
                     "BEGIN IF NEW.address = 'boom@fail.example' THEN RAISE 'refused'; END IF; "
                     "RETURN NEW; END $$; "
                     "CREATE TRIGGER refuse_boom BEFORE INSERT ON party_sender "
                     "FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
                   : "CREATE TRIGGER refuse_boom BEFORE INSERT ON party_sender "
                     "WHEN NEW.address = 'boom@fail.example' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END"));

    Party fresh = buyer("b2", "carol@gmail.example");
    fresh.senders = {"carol@work.example", "boom@fail.example"};
    ASSERT_FALSE(store_->add_party(fresh).ok());
    auto found = store_->find_party("b2");
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());

    Party changed = p;
    changed.address = "robert@gmail.example";
    changed.senders = {"robert@work.example", "boom@fail.example"};
    ASSERT_FALSE(store_->update_party(changed).ok());
    found = store_->find_party("b1");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->address, "bob@gmail.example");
    EXPECT_EQ((*found)->senders, std::vector<std::string>{"bob@work.example"});

    EXPECT_EQ(backend_->query("SELECT count(*) FROM party"), "1");
    EXPECT_EQ(backend_->query("SELECT count(*) FROM party_sender"), "1");
    // The store's connections are usable afterwards (no transaction left open).
    EXPECT_TRUE(store_->add_party(buyer("b3", "dave@gmail.example")).ok());
}

TEST_P(StoreTest, LongestValidIdIsAccepted) {
    Party p = buyer(std::string(64, 'a'));
    EXPECT_TRUE(store_->add_party(p).ok());
    EXPECT_TRUE(store_->add_party(buyer("A.b_c-9")).ok());
}

// --- Pairs -----------------------------------------------------------------------------------

TEST_P(StoreTest, AddPairGivesTwoDistinctAliasesFoundFromEitherSide) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok()) << pair.error().message;
    EXPECT_GT(pair->id, 0);
    EXPECT_EQ(pair->buyer_id, "b1");
    EXPECT_EQ(pair->seller_id, "s1");
    EXPECT_TRUE(looks_like_alias(pair->buyer_alias));
    EXPECT_TRUE(looks_like_alias(pair->seller_alias));
    EXPECT_NE(pair->buyer_alias, pair->seller_alias);
    EXPECT_GT(pair->created, 0);

    for (const auto& alias : {pair->buyer_alias, pair->seller_alias}) {
        auto found = store_->find_pair_by_alias(alias);
        ASSERT_TRUE(found.ok());
        ASSERT_TRUE(found->has_value()) << alias;
        EXPECT_EQ((*found)->id, pair->id);
        EXPECT_EQ((*found)->buyer_alias, pair->buyer_alias);
        EXPECT_EQ((*found)->seller_alias, pair->seller_alias);
        EXPECT_EQ((*found)->created, pair->created);
    }
    auto by_parties = store_->find_pair("b1", "s1");
    ASSERT_TRUE(by_parties.ok() && by_parties->has_value());
    EXPECT_EQ((*by_parties)->id, pair->id);

    auto reversed = store_->find_pair("s1", "b1");
    ASSERT_TRUE(reversed.ok());
    EXPECT_FALSE(reversed->has_value());
    auto unknown = store_->find_pair_by_alias("0000000000000000");
    ASSERT_TRUE(unknown.ok());
    EXPECT_FALSE(unknown->has_value());
}

TEST_P(StoreTest, AddPairWithUnknownPartyIsNotFound) {
    add_both();
    auto r = store_->add_pair("ghost", "s1");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    r = store_->add_pair("b1", "ghost");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    EXPECT_EQ(backend_->query("SELECT count(*) FROM pair"), "0");
}

TEST_P(StoreTest, AddPairWithWrongRolesIsInvalid) {
    add_both();
    ASSERT_TRUE(store_->add_party(buyer("b2", "carol@gmail.example")).ok());
    for (auto [b, s] : {std::pair{"s1", "b1"}, std::pair{"b1", "b2"}, std::pair{"s1", "s1"}}) {
        auto r = store_->add_pair(b, s);
        ASSERT_FALSE(r.ok()) << b << " " << s;
        EXPECT_EQ(r.error().code, Errc::invalid) << r.error().message;
    }
    EXPECT_EQ(backend_->query("SELECT count(*) FROM pair"), "0");
}

TEST_P(StoreTest, DuplicatePairIsConflictAndKeepsItsAliases) {
    add_both();
    auto first = store_->add_pair("b1", "s1");
    ASSERT_TRUE(first.ok());
    auto again = store_->add_pair("b1", "s1");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::conflict);
    auto found = store_->find_pair("b1", "s1");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->buyer_alias, first->buyer_alias);
    EXPECT_EQ((*found)->seller_alias, first->seller_alias);
}

TEST_P(StoreTest, EveryAliasIsUniqueAcrossPairs) {
    std::set<std::string> aliases;
    ASSERT_TRUE(store_->add_party(seller("s1")).ok());
    ASSERT_TRUE(store_->add_party(seller("s2", "sales@shop.example")).ok());
    for (int i = 0; i < 50; ++i) {
        const std::string id = "b" + std::to_string(i);
        ASSERT_TRUE(store_->add_party(buyer(id, id + "@gmail.example")).ok());
        for (const char* s : {"s1", "s2"}) {
            auto pair = store_->add_pair(id, s);
            ASSERT_TRUE(pair.ok()) << pair.error().message;
            aliases.insert(pair->buyer_alias);
            aliases.insert(pair->seller_alias);
        }
    }
    EXPECT_EQ(aliases.size(), 200u);
}

TEST(AliasSecrecyTest, AliasesAreNotDerivedFromTheParties) {
    // The same parties, paired in two fresh databases, get unrelated aliases.
    std::vector<Pair> pairs;
    for (int i = 0; i < 2; ++i) {
        mm::testing::TempDir dir;
        auto store = open_sqlite_store(dir.file("alias.db"));
        ASSERT_TRUE(store.ok()) << store.error().message;
        ASSERT_TRUE((*store)->add_party(buyer("b1")).ok());
        ASSERT_TRUE((*store)->add_party(seller("s1")).ok());
        auto pair = (*store)->add_pair("b1", "s1");
        ASSERT_TRUE(pair.ok());
        pairs.push_back(*pair);
    }
    EXPECT_NE(pairs[0].buyer_alias, pairs[1].buyer_alias);
    EXPECT_NE(pairs[0].seller_alias, pairs[1].seller_alias);
    for (const auto& p : pairs) {
        EXPECT_EQ(p.buyer_alias.find("bob"), std::string::npos);
        EXPECT_EQ(p.seller_alias.find("acme"), std::string::npos);
    }
}

// --- Concurrency -----------------------------------------------------------------------------

TEST_P(StoreTest, ConcurrentLookupsAndAddsSucceed) {
    add_both();
    auto shared = store_->add_pair("b1", "s1");
    ASSERT_TRUE(shared.ok());

    constexpr int kThreads = 8;
    constexpr int kRounds = 40;
    std::atomic<int> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < kRounds; ++i) {
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                bool ok = store_->add_party(buyer(id, id + "@gmail.example")).ok();
                auto pair = store_->add_pair(id, "s1");
                ok = ok && pair.ok();
                auto by_alias = store_->find_pair_by_alias(shared->buyer_alias);
                ok = ok && by_alias.ok() && by_alias->has_value() && (*by_alias)->id == shared->id;
                auto mine = pair.ok() ? store_->find_pair_by_alias(pair->seller_alias)
                                      : Result<std::optional<Pair>>(std::nullopt);
                ok = ok && mine.ok() && mine->has_value() && (*mine)->buyer_id == id;
                auto party = store_->find_party(id);
                ok = ok && party.ok() && party->has_value() && (*party)->id == id;
                if (!ok) ++failures;
            }
        });
    }
    go = true;
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);

    EXPECT_EQ(backend_->query("SELECT count(*) FROM party"),
              std::to_string(2 + kThreads * kRounds));
    EXPECT_EQ(backend_->query("SELECT count(*) FROM pair"), std::to_string(1 + kThreads * kRounds));
}

TEST_P(StoreTest, MoreThreadsThanPooledConnectionsWaitTheirTurn) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    constexpr int kThreads = 32;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                auto found = store_->find_pair_by_alias(pair->buyer_alias);
                if (!found.ok() || !found->has_value()) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
}

// --- Factory ---------------------------------------------------------------------------------

TEST(StoreFactoryTest, SqliteOpensAStore) {
    mm::testing::TempDir dir;
    StoreConfig config;
    config.type = "sqlite";
    config.path = dir.file("alias.db");
    config.busy_timeout_ms = 100;
    auto store = make_store(config);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ASSERT_NE(store->get(), nullptr);
    EXPECT_TRUE((*store)->add_party(buyer("b1")).ok());
}

TEST(StoreFactoryTest, UnknownTypeIsInvalid) {
    StoreConfig config;
    config.type = "redis";
    config.path = "/nonexistent";
    auto store = make_store(config);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code, Errc::invalid);
    EXPECT_EQ(store.error().message, "unknown store type 'redis' (expected sqlite or postgres)");
}

TEST(StoreFactoryTest, SqliteWithoutPathIsInvalid) {
    StoreConfig config;
    auto store = make_store(config);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code, Errc::invalid);
}

}  // namespace
}  // namespace mm::alias
