// The fixture of the evaluate() and authorize_recipient() tests: a real
// SQLite store in a temp dir with a buyer, a seller and two pairs, the
// directory over it, and the default policy.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "alias/alias_directory.h"
#include "alias/sqlite_store.h"
#include "policy/authorize.h"
#include "policy/evaluate.h"
#include "tests/support/test_support.h"

namespace mm::policy::evaluate_testing {

inline constexpr const char* kDomain = "marketplace.example";

class PolicyTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto store = alias::open_sqlite_store(dir_.file("store.db"));
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::shared_ptr<alias::Store>(std::move(store.value()));
        alias::Party bob{"bob", alias::Role::buyer, "bob@gmail.example", "Bob Buyer", {}, {}};
        alias::Party acme{"acme",       alias::Role::seller,     "support@acme.example",
                          "Acme Store", {"orders@acme.example"}, {}};
        alias::Party carol{"carol", alias::Role::buyer, "carol@mail.example", "Carol", {}, {}};
        ASSERT_TRUE(store_->add_party(bob));
        ASSERT_TRUE(store_->add_party(acme));
        ASSERT_TRUE(store_->add_party(carol));
        auto p = store_->add_pair("bob", "acme");
        ASSERT_TRUE(p);
        pair_ = *p;
        auto q = store_->add_pair("carol", "acme");
        ASSERT_TRUE(q);
        other_ = *q;
        directory_ = std::make_unique<alias::AliasDirectory>(store_, std::chrono::seconds(30));
    }

    std::string addr(const std::string& local) { return local + "@" + kDomain; }
    std::string to_upper_alias() {
        std::string s = pair_.buyer_alias;
        for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return s;
    }

    RcptOutcome rcpt(const std::string& sender, const std::string& to,
                     std::optional<std::int64_t> pair = std::nullopt) {
        return authorize_recipient(*directory_, kDomain, sender, "<" + to + ">", pair);
    }

    Envelope envelope_for(const std::string& sender, const std::string& to) {
        Envelope e;
        e.sender_raw = "<" + sender + ">";
        e.sender = sender;
        auto out = rcpt(sender, to);
        EXPECT_EQ(out.kind, RcptOutcome::Kind::accepted);
        e.recipients.push_back({"<" + to + ">", to, out.alias});
        return e;
    }

    EvalContext ctx() { return {policy_, kDomain, *classifier_}; }

    std::shared_ptr<const AttachmentClassifier> classifier_ =
        AttachmentClassifier::create().value();
    mm::testing::TempDir dir_;
    std::shared_ptr<alias::Store> store_;
    std::unique_ptr<alias::AliasDirectory> directory_;
    alias::Pair pair_, other_;
    Policy policy_ = default_policy();
};

}  // namespace mm::policy::evaluate_testing
