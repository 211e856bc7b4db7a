// The store contract for the Message-ID mapping (the marketplace's ids of the
// messages it delivered, and the originals they stand for), on both backends
// (SQLite and PostgreSQL, tests/support/store_backends.h).  Each test works on
// a fresh database (removed afterwards).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "alias/store.h"
#include "tests/support/store_contract.h"

namespace mm::alias {
namespace {

using store_testing::buyer;
using store_testing::message_record;
using store_testing::seller;
using store_testing::StoreTest;

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(mm::testing::kStoreBackends),
                         [](const auto& info) { return std::string(info.param); });

// --- Message-ID mapping ----------------------------------------------------------------------

TEST_P(StoreTest, MessageIdRecordRoundTrips) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    auto none = store_->find_message_id("0123@marketplace.example");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());

    ASSERT_TRUE(store_
                    ->record_message_id(message_record(
                        pair->id, Role::seller, "aa11@marketplace.example", "orig-s@acme.example"))
                    .ok());
    auto found = store_->find_message_id("aa11@marketplace.example");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->marketplace_id, "aa11@marketplace.example");
    EXPECT_EQ((*found)->original_id, "orig-s@acme.example");
    EXPECT_EQ((*found)->pair_id, pair->id);
    EXPECT_EQ((*found)->sender_role, Role::seller);
    EXPECT_EQ((*found)->created, 1700000000);

    // A message without a Message-ID of its own is recorded with an empty original.
    ASSERT_TRUE(store_
                    ->record_message_id(
                        message_record(pair->id, Role::buyer, "bb22@marketplace.example", ""))
                    .ok());
    auto empty = store_->find_message_id("bb22@marketplace.example");
    ASSERT_TRUE(empty.ok() && empty->has_value());
    EXPECT_EQ((*empty)->original_id, "");
    EXPECT_EQ((*empty)->sender_role, Role::buyer);
}

TEST_P(StoreTest, MessageIdCreatedDefaultsToNow) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    ASSERT_TRUE(store_
                    ->record_message_id(message_record(pair->id, Role::seller,
                                                       "cc33@marketplace.example", "x@y", 0))
                    .ok());
    auto found = store_->find_message_id("cc33@marketplace.example");
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_GE((*found)->created, before);
}

TEST_P(StoreTest, MessageIdDuplicateIsConflictAndUnknownPairNotFound) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    auto rec = message_record(pair->id, Role::seller, "dd44@marketplace.example", "o@acme.example");
    ASSERT_TRUE(store_->record_message_id(rec).ok());
    auto again = store_->record_message_id(rec);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::conflict);

    auto orphan = store_->record_message_id(
        message_record(pair->id + 100, Role::seller, "ee55@marketplace.example", "o@acme.example"));
    ASSERT_FALSE(orphan.ok());
    EXPECT_EQ(orphan.error().code, Errc::not_found);
}

TEST_P(StoreTest, MalformedMessageIdsAreInvalid) {
    add_both();
    auto pair = store_->add_pair("b1", "s1");
    ASSERT_TRUE(pair.ok());
    const std::pair<std::string, std::string> cases[] = {
        {"", "o@acme.example"},
        {"<ff@marketplace.example>", "o@acme.example"},
        {"ff@marketplace.example", "o @acme.example"},
        {"ff@marketplace.example", "o@acme.example\r\nBcc: x@y"},
        {"ff@marketplace.example", std::string(999, 'a')},
    };
    for (const auto& [mid, original] : cases) {
        auto r = store_->record_message_id(message_record(pair->id, Role::buyer, mid, original));
        ASSERT_FALSE(r.ok()) << mid << " / " << original;
        EXPECT_EQ(r.error().code, Errc::invalid) << mid << " / " << original;
    }
}

TEST_P(StoreTest, FindByOriginalIsPerPairAndRoleAndReturnsTheNewest) {
    add_both();
    ASSERT_TRUE(store_->add_party(buyer("b2", "carol@gmail.example")).ok());
    auto pair = store_->add_pair("b1", "s1");
    auto other = store_->add_pair("b2", "s1");
    ASSERT_TRUE(pair.ok() && other.ok());
    const std::string orig = "orig-s@acme.example";
    ASSERT_TRUE(
        store_
            ->record_message_id(message_record(pair->id, Role::seller, "0001@m.example", orig, 100))
            .ok());
    ASSERT_TRUE(
        store_
            ->record_message_id(message_record(pair->id, Role::seller, "0002@m.example", orig, 200))
            .ok());
    ASSERT_TRUE(store_
                    ->record_message_id(
                        message_record(other->id, Role::seller, "0003@m.example", orig, 300))
                    .ok());

    auto newest = store_->find_by_original(pair->id, Role::seller, orig);
    ASSERT_TRUE(newest.ok() && newest->has_value());
    EXPECT_EQ((*newest)->marketplace_id, "0002@m.example");
    auto in_other = store_->find_by_original(other->id, Role::seller, orig);
    ASSERT_TRUE(in_other.ok() && in_other->has_value());
    EXPECT_EQ((*in_other)->marketplace_id, "0003@m.example");
    auto wrong_role = store_->find_by_original(pair->id, Role::buyer, orig);
    ASSERT_TRUE(wrong_role.ok());
    EXPECT_FALSE(wrong_role->has_value());
    auto unknown = store_->find_by_original(pair->id, Role::seller, "nope@acme.example");
    ASSERT_TRUE(unknown.ok());
    EXPECT_FALSE(unknown->has_value());
}

}  // namespace
}  // namespace mm::alias
