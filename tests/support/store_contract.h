// The store contract tests' fixture: a fresh database per test on the backend
// a test is run on (tests/support/store_backends.h), a store opened on it, and
// the parties and Message-ID rows they add.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "alias/message_id.h"
#include "alias/party.h"
#include "alias/store.h"
#include "tests/support/store_backends.h"

namespace mm::alias::store_testing {

inline Party party(const std::string& id, Role role, const std::string& address,
                   const std::string& display_name) {
    Party p;
    p.id = id;
    p.role = role;
    p.address = address;
    p.display_name = display_name;
    return p;
}

inline Party buyer(const std::string& id, const std::string& address = "bob@gmail.example") {
    return party(id, Role::buyer, address, "Bob");
}

inline Party seller(const std::string& id, const std::string& address = "support@acme.example") {
    return party(id, Role::seller, address, "Acme Store");
}

// The contract on one backend: a fresh database per test.
class BackendTest : public ::testing::Test {
protected:
    void open_backend(const std::string& kind) {
        backend_ = mm::testing::make_backend(kind);
        if (!backend_) GTEST_SKIP() << "no PostgreSQL test server (MM_TEST_PG_DIR)";
        store_ = open();
    }
    std::unique_ptr<Store> open(int timeout_ms = 5000) { return backend_->open(timeout_ms); }
    bool postgres() const { return backend_->is_postgres(); }

    // Adds buyer "b1" and seller "s1".
    void add_both() {
        ASSERT_TRUE(store_->add_party(buyer("b1")).ok());
        ASSERT_TRUE(store_->add_party(seller("s1")).ok());
    }

    std::unique_ptr<mm::testing::StoreBackend> backend_;
    std::unique_ptr<Store> store_;  // after backend_: closed before its database goes
};

class StoreTest : public BackendTest, public ::testing::WithParamInterface<const char*> {
protected:
    void SetUp() override { open_backend(GetParam()); }
};

// A Message-ID mapping row of `pair_id`, created at `created`.
inline MessageIdRecord message_record(std::int64_t pair_id, Role sender, const std::string& mid,
                                      const std::string& original,
                                      std::int64_t created = 1700000000) {
    MessageIdRecord r;
    r.marketplace_id = mid;
    r.original_id = original;
    r.pair_id = pair_id;
    r.sender_role = sender;
    r.created = created;
    return r;
}

}  // namespace mm::alias::store_testing
