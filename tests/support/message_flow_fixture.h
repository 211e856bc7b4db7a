// The end-of-message fixture (milter/message_flow.h) shared by
// message_flow_test and message_flow_audit_test: a real SQLite store with a
// buyer, a seller, their pair and an order, the repo's policy, an audit log
// in a temp dir, and a sink that can fail or run another message's flow
// between this one's evaluation and its commit.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "alias/alias_directory.h"
#include "alias/sqlite_store.h"
#include "audit/audit.h"
#include "milter/edit_sink.h"
#include "milter/message_flow.h"
#include "milter/service.h"
#include "policy/authorize.h"
#include "policy/evaluate.h"
#include "policy/policy.h"
#include "tests/support/test_support.h"

namespace mm::milter::flow_testing {

using policy::Decision;

constexpr const char* kDomain = "marketplace.example";
constexpr const char* kOrder = "123-1234567-1234567";
constexpr const char* kSeller = "support@acme.example";
constexpr std::int64_t kNow = 1'800'000'000;
inline const std::string kKey = "a message flow test key, thirty-two bytes or more";

// Does what MemorySink does, counts the calls that can fail (all but
// set_reply), fails the `fail_at`-th, and runs `before_first` (another
// message's flow, a lock on the store) before the first: between this
// message's evaluation and its commit.
class ScriptedSink final : public EditSink {
public:
    ScriptedSink(const policy::Message& m, const policy::Envelope& e) : inner_(m.clone(), e) {}

    int fail_at = 0;  // 0: none
    std::function<void()> before_first;
    int calls = 0;
    const MemorySink& inner() const { return inner_; }

    void change_header(const std::string& n, int i, const std::string& v) override {
        step(), inner_.change_header(n, i, v);
    }
    void remove_header(const std::string& n, int i) override { step(), inner_.remove_header(n, i); }
    void add_header(const std::string& n, const std::string& v) override {
        step(), inner_.add_header(n, v);
    }
    void insert_header(int i, const std::string& n, const std::string& v) override {
        step(), inner_.insert_header(i, n, v);
    }
    void change_sender(const std::string& s) override { step(), inner_.change_sender(s); }
    void delete_recipient(const std::string& r) override { step(), inner_.delete_recipient(r); }
    void add_recipient(const std::string& r) override { step(), inner_.add_recipient(r); }
    void replace_body(std::string_view c) override { step(), inner_.replace_body(c); }
    void quarantine(const std::string& r) override { step(), inner_.quarantine(r); }
    void set_reply(const std::string& c, const std::string& x, const std::string& t) override {
        inner_.set_reply(c, x, t);
    }

private:
    void step() {
        if (++calls == 1 && before_first) std::exchange(before_first, nullptr)();
        if (calls == fail_at) throw std::runtime_error("scripted failure");
    }
    MemorySink inner_;
};

// What X-Marketplace-Audit is bound to, read from the copy as delivered.
inline BoundFields delivered(const MemorySink& sink) {
    std::vector<std::string> rcpts;
    for (const auto& r : sink.envelope().recipients) rcpts.push_back(r.raw);
    return bound_fields(sink.message().headers, rcpts, sink.message().body);
}

inline const std::string& audit_header_of(const MemorySink& sink) {
    const std::string* h = sink.message().find("X-Marketplace-Audit");
    if (h == nullptr) throw std::runtime_error("no X-Marketplace-Audit");
    return *h;
}

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

// Holds the database's write lock while it lives, as another process would.
class WriteLock {
public:
    explicit WriteLock(const std::string& path) {
        sqlite3* raw = nullptr;
        if (sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot open " + path);
        db_.reset(raw);
        if (sqlite3_exec(raw, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot lock " + path);
    }
    ~WriteLock() { sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr); }

private:
    std::unique_ptr<sqlite3, DbClose> db_;
};

// The buyer "bob" and the seller "acme" (kSeller), and their pair.
inline void add_bob_and_acme(alias::Store& store, alias::Pair& pair) {
    ASSERT_TRUE(store.add_party({"bob", alias::Role::buyer, "bob@gmail.example", "Bob", {}, {}}));
    ASSERT_TRUE(store.add_party({"acme", alias::Role::seller, kSeller, "Acme Store", {}, {}}));
    auto added = store.add_pair("bob", "acme");
    ASSERT_TRUE(added);
    pair = *added;
}

struct Sent {
    FlowOutcome out;
    std::string audit_id;
};

class MessageFlowTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto loaded = policy::load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
        ASSERT_TRUE(loaded) << loaded.error().message;
        policy_ = std::make_shared<policy::Policy>(**loaded);
        // A short busy timeout: the store-failure test waits for it once.
        auto store = alias::open_sqlite_store(db_path(), 50);
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::shared_ptr<alias::Store>(std::move(store.value()));
        ASSERT_NO_FATAL_FAILURE(add_bob_and_acme(*store_, pair_));
        ASSERT_TRUE(store_->add_order({kOrder, pair_.id, "standard", "fbm", kNow - 86400}));
        directory_ = std::make_unique<alias::AliasDirectory>(store_, std::chrono::milliseconds(0));
        auto log = AuditLog::open(audit_path());
        ASSERT_TRUE(log) << log.error().message;
        audit_ = std::move(log.value());
    }

    std::string db_path() const { return dir_.file("store.db"); }
    std::string audit_path() const { return dir_.file("audit.log"); }

    Runtime runtime() const {
        Runtime rt;
        rt.config = config_;
        rt.config.domain = kDomain;
        rt.config.hmac_key = kKey;
        rt.policy = policy_;
        return rt;
    }

    // A seller message to the buyer's alias, as the daemon holds it at end
    // of message.
    policy::Message message(const std::string& subject, const std::string& text,
                            const std::string& id) {
        const std::string raw = "From: Acme Store <support@acme.example>\r\nTo: <" +
                                pair_.buyer_alias + "@" + kDomain + ">\r\nSubject: " + subject +
                                "\r\nMessage-ID: <" + id +
                                "@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                "\r\n" +
                                text + "\r\n";
        auto parsed = policy::parse_message(raw);
        EXPECT_TRUE(parsed);
        return std::move(parsed.value());
    }
    policy::Envelope envelope() {
        policy::Envelope e;
        e.client_addr = "192.0.2.7";
        e.sender_raw = std::string("<") + kSeller + ">";
        e.sender = kSeller;
        policy::RcptStage stage(*directory_, kDomain, policy_->mixed_recipients);
        auto out = stage.add(e, "<" + pair_.buyer_alias + "@" + kDomain + ">");
        EXPECT_EQ(out.kind, policy::RcptOutcome::Kind::accepted);
        return e;
    }

    // One message's end through `sink`: committed and audited as the daemon
    // does, unless `dry` (as `test` does).
    Sent run(const policy::Message& m, const policy::Envelope& e, EditSink& sink,
             bool dry = false) {
        const Runtime rt = runtime();
        Sent s;
        s.audit_id = new_audit_id();
        s.out = run_message_flow({*directory_, *classifier_, &gate_, dry ? nullptr : audit_.get()},
                                 {rt, e, m, s.audit_id, "4XbQ1", "192.0.2.7"}, sink,
                                 {.commit = !dry, .log = false, .now = kNow});
        return s;
    }
    // `m` to the buyer's alias through a MemorySink that `sink` keeps (the
    // copy as delivered, the reply it was told).
    Sent send(const policy::Message& m, std::unique_ptr<MemorySink>& sink, bool dry = false) {
        const policy::Envelope e = envelope();
        sink = std::make_unique<MemorySink>(m.clone(), e);
        return run(m, e, *sink, dry);
    }
    Sent send(const std::string& subject, const std::string& text, const std::string& id) {
        std::unique_ptr<MemorySink> sink;
        return send(message(subject, text, id), sink);
    }

    bool mapped(const Sent& s) {
        if (!s.out.verdict.message_id_record) return false;
        auto found = store_->find_message_id(s.out.verdict.message_id_record->marketplace_id);
        EXPECT_TRUE(found) << found.error().message;
        return found && found->has_value();
    }
    alias::ThreadState thread(const std::string& order = kOrder) {
        alias::ThreadState seen;
        alias::ThreadEvent event;
        event.pair_id = pair_.id;
        event.order_id = order;
        event.buyer_id = "bob";
        event.seller_id = "acme";
        event.now = kNow;
        event.repeat_window_s = 3600;
        auto r = store_->apply_thread_event(event, [&](const alias::ThreadState& st) {
            seen = st;
            return alias::ThreadUpdate{};
        });
        EXPECT_TRUE(r) << r.error().message;
        return seen;
    }
    std::vector<nlohmann::json> audit_lines() const {
        std::ifstream in(audit_path());
        std::vector<nlohmann::json> lines;
        for (std::string line; std::getline(in, line);)
            lines.push_back(nlohmann::json::parse(line));
        return lines;
    }
    static bool has_rule(const FlowOutcome& out, const std::string& id) {
        for (const auto& r : out.rules)
            if (r.id == id) return true;
        return false;
    }

    mm::testing::TempDir dir_;
    Config config_;  // the daemon settings a test changes (its limits, say)
    std::shared_ptr<policy::Policy> policy_;
    std::shared_ptr<alias::Store> store_;
    alias::Pair pair_;
    std::unique_ptr<alias::AliasDirectory> directory_;
    std::shared_ptr<const policy::AttachmentClassifier> classifier_ =
        policy::AttachmentClassifier::create().value();
    EvaluationGate gate_{2};
    std::unique_ptr<AuditLog> audit_;
};

inline const std::string kSubject = std::string("Your order ") + kOrder;

}  // namespace mm::milter::flow_testing
