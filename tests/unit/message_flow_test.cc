// The end of message (milter/message_flow.h) through an in-memory sink,
// against a real SQLite store and audit log in a temp dir: the commit race
// (refused or quarantined by the authoritative run), an edit the sink fails,
// a store failure at commit, an audit log that fails, an evaluation that
// throws, the audit header's binding to the copy as delivered, and
// MemorySink's libmilter limits.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
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

namespace mm::milter {
namespace {

using policy::Decision;

constexpr const char* kDomain = "marketplace.example";
constexpr const char* kOrder = "123-1234567-1234567";
constexpr const char* kSeller = "support@acme.example";
constexpr std::int64_t kNow = 1'800'000'000;
const std::string kKey = "a message flow test key, thirty-two bytes or more";

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
BoundFields delivered(const MemorySink& sink) {
    std::vector<std::string> rcpts;
    for (const auto& r : sink.envelope().recipients) rcpts.push_back(r.raw);
    return bound_fields(sink.message().headers, rcpts, sink.message().body);
}

const std::string& audit_header_of(const MemorySink& sink) {
    const std::string* h = sink.message().find("X-Marketplace-Audit");
    if (h == nullptr) throw std::runtime_error("no X-Marketplace-Audit");
    return *h;
}

// Every call throws, as a store with a bug or out of memory would.
class ThrowingStore final : public alias::Store {
public:
    Result<void> add_party(const alias::Party&) override { throw std::runtime_error("boom"); }
    Result<void> update_party(const alias::Party&) override { throw std::runtime_error("boom"); }
    Result<std::optional<alias::Party>> find_party(const std::string&) override {
        throw std::runtime_error("boom");
    }
    Result<alias::Pair> add_pair(const std::string&, const std::string&) override {
        throw std::runtime_error("boom");
    }
    Result<std::optional<alias::Pair>> find_pair(const std::string&, const std::string&) override {
        throw std::runtime_error("boom");
    }
    Result<std::optional<alias::Pair>> find_pair_by_alias(const std::string&) override {
        throw std::runtime_error("boom");
    }
    Result<std::optional<alias::MessageIdRecord>> find_by_original(std::int64_t, alias::Role,
                                                                   const std::string&) override {
        throw std::runtime_error("boom");
    }
    Result<std::optional<alias::Order>> find_order(const std::string&) override {
        throw std::runtime_error("boom");
    }
    Result<alias::ThreadUpdate> apply_thread_event(
        std::int64_t, const std::string&, const std::string&, const std::string&, std::int64_t,
        std::int64_t, const std::function<alias::ThreadUpdate(const alias::ThreadState&)>&, bool,
        const alias::MessageIdRecord*) override {
        throw std::runtime_error("boom");
    }
};

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
        ASSERT_TRUE(
            store_->add_party({"bob", alias::Role::buyer, "bob@gmail.example", "Bob", {}, {}}));
        ASSERT_TRUE(
            store_->add_party({"acme", alias::Role::seller, kSeller, "Acme Store", {}, {}}));
        auto pair = store_->add_pair("bob", "acme");
        ASSERT_TRUE(pair);
        pair_ = *pair;
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
    Sent send(const std::string& subject, const std::string& text, const std::string& id) {
        const policy::Message m = message(subject, text, id);
        const policy::Envelope e = envelope();
        MemorySink sink(m.clone(), e);
        return run(m, e, sink);
    }

    bool mapped(const Sent& s) {
        if (!s.out.verdict.message_id_record) return false;
        auto found = store_->find_message_id(s.out.verdict.message_id_record->marketplace_id);
        EXPECT_TRUE(found) << found.error().message;
        return found && found->has_value();
    }
    alias::ThreadState thread(const std::string& order = kOrder) {
        alias::ThreadState seen;
        auto r = store_->apply_thread_event(
            pair_.id, order, "bob", "acme", kNow, 3600,
            [&](const alias::ThreadState& st) {
                seen = st;
                return alias::ThreadUpdate{};
            },
            false);
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
    std::shared_ptr<policy::Policy> policy_;
    std::shared_ptr<alias::Store> store_;
    alias::Pair pair_;
    std::unique_ptr<alias::AliasDirectory> directory_;
    std::shared_ptr<const policy::AttachmentClassifier> classifier_ =
        policy::AttachmentClassifier::create().value();
    EvaluationGate gate_{2};
    std::unique_ptr<AuditLog> audit_;
};

const std::string kSubject = std::string("Your order ") + kOrder;

TEST_F(MessageFlowTest, DeliveredMessageIsEditedCommittedAndAudited) {
    Sent s = send(kSubject, "Your parcel is on its way and should arrive on Friday.", "m1");
    EXPECT_EQ(s.out.decision, Decision::modify);
    EXPECT_TRUE(s.out.delivered());
    EXPECT_EQ(s.out.reply, "");
    EXPECT_TRUE(has_rule(s.out, "marketplace.unsolicited_limit"));
    EXPECT_TRUE(mapped(s));
    EXPECT_EQ(thread().unsolicited_since_buyer, 1);
    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["audit_id"], s.audit_id);
    EXPECT_EQ(lines[0]["decision"], "modify");
    EXPECT_EQ(lines[0]["queue_id"], "4XbQ1");
    EXPECT_EQ(lines[0]["sender_party"], "acme");
    EXPECT_EQ(lines[0]["recipient_party"], "bob");
}

// The order's one unsolicited message is taken by another message between
// this one's read-only run and its commit: the commit refuses it.
TEST_F(MessageFlowTest, LostRaceForTheUnsolicitedSlotIsRefusedAtCommit) {
    const policy::Message a = message(kSubject, "Your parcel left our warehouse today.", "a");
    const policy::Envelope env = envelope();
    ScriptedSink sink(a, env);
    Sent b;
    sink.before_first = [&] {
        b = send(kSubject, "We have a question about the colour you chose.", "b");
    };
    Sent s = run(a, env, sink);

    EXPECT_EQ(b.out.decision, Decision::modify);
    EXPECT_EQ(s.out.verdict.decision, Decision::modify);  // the read-only run let it through
    EXPECT_EQ(s.out.decision, Decision::reject);
    EXPECT_EQ(s.out.smtp_code, "550");
    EXPECT_EQ(s.out.enhanced_code, "5.7.1");
    EXPECT_TRUE(s.out.reply.starts_with("550 5.7.1 ")) << s.out.reply;
    EXPECT_TRUE(s.out.reply.ends_with(" (audit " + s.audit_id + ")")) << s.out.reply;
    ASSERT_TRUE(sink.inner().reply());
    EXPECT_EQ(sink.inner().reply()->code, "550");
    EXPECT_TRUE(has_rule(s.out, "marketplace.unsolicited_limit"));
    EXPECT_FALSE(sink.inner().quarantine_reason());
    EXPECT_FALSE(mapped(s));
    EXPECT_TRUE(mapped(b));
    EXPECT_EQ(thread().unsolicited_since_buyer, 1);

    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["audit_id"], b.audit_id);
    EXPECT_EQ(lines[1]["audit_id"], s.audit_id);
    EXPECT_EQ(lines[1]["decision"], "reject");
    EXPECT_EQ(lines[1]["reply"], s.out.reply);
}

// important_daily_threshold 1: the seller's second critical message of the
// day, evaluated before the first was committed, is quarantined at commit,
// and its audit header is changed to say so.
TEST_F(MessageFlowTest, LostRaceForTheImportantThresholdIsQuarantinedAtCommit) {
    policy_->marketplace.important_daily_threshold = 1;
    const std::string subject = "[Important] Delivery of your table";
    const policy::Message a =
        message(subject, "Please confirm a delivery date that suits you next week.", "a");
    const policy::Envelope env = envelope();
    ScriptedSink sink(a, env);
    Sent b;
    sink.before_first = [&] {
        b = send(subject, "Could you pick a delivery slot for the sofa, morning or afternoon?",
                 "b");
    };
    Sent s = run(a, env, sink);

    ASSERT_EQ(b.out.decision, Decision::modify);
    EXPECT_TRUE(has_rule(b.out, "marketplace.critical"));
    EXPECT_EQ(s.out.verdict.decision, Decision::modify);
    EXPECT_EQ(s.out.decision, Decision::quarantine);
    EXPECT_TRUE(s.out.delivered());
    EXPECT_EQ(s.out.reply, "");
    EXPECT_TRUE(has_rule(s.out, "marketplace.important_quarantine"));
    EXPECT_TRUE(sink.inner().quarantine_reason());

    // X-Marketplace-Audit went out first with "modify"; now it says quarantine.
    const auto& headers = sink.inner().message().headers;
    ASSERT_FALSE(headers.empty());
    EXPECT_EQ(headers[0].name, "X-Marketplace-Audit");
    EXPECT_EQ(sink.inner().message().count("X-Marketplace-Audit"), 1);
    EXPECT_EQ(headers[0].value,
              audit_header_value(s.audit_id, Decision::quarantine, s.out.rules, policy_->version,
                                 delivered(sink.inner()), kKey));
    EXPECT_NE(headers[0].value.find("decision=quarantine"), std::string::npos) << headers[0].value;
    EXPECT_TRUE(verify_audit_header(headers[0].value, kKey));
    // Changed, it is still bound to the message as delivered.
    EXPECT_TRUE(check_audit_header(headers[0].value, kKey, delivered(sink.inner())).valid());
    EXPECT_TRUE(mapped(s));  // held, not refused: its state is committed

    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1]["audit_id"], s.audit_id);
    EXPECT_EQ(lines[1]["decision"], "quarantine");
}

// Whichever edit libmilter refuses, the message is tempfailed and the store
// keeps nothing of it: the MTA's retry is judged afresh.
TEST_F(MessageFlowTest, AnEditTheSinkFailsTempfailsAndCommitsNothing) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    const policy::Envelope env = envelope();
    ScriptedSink counting(m, env);
    ASSERT_EQ(run(m, env, counting, true).out.decision, Decision::modify);
    const int calls = counting.calls;
    ASSERT_GE(calls, 3);  // header edits, the audit header, the sender at least

    for (int n = 1; n <= calls; ++n) {
        SCOPED_TRACE("failing call " + std::to_string(n) + " of " + std::to_string(calls));
        ScriptedSink sink(m, env);
        sink.fail_at = n;
        Sent s = run(m, env, sink);
        EXPECT_EQ(s.out.decision, Decision::tempfail);
        EXPECT_EQ(s.out.smtp_code, "451");
        EXPECT_EQ(s.out.enhanced_code, "4.3.0");
        EXPECT_EQ(s.out.reply,
                  "451 4.3.0 Temporary failure in the marketplace filter, try again later (audit " +
                      s.audit_id + ")");
        ASSERT_TRUE(has_rule(s.out, "milter.internal"));
        EXPECT_EQ(s.out.rules.back().detail, "eom: scripted failure");
        EXPECT_FALSE(mapped(s));
        EXPECT_FALSE(thread().exists);
    }
    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(calls));
    for (const auto& line : lines) EXPECT_EQ(line["decision"], "tempfail");

    MemorySink sink(m.clone(), env);
    Sent s = run(m, env, sink);
    EXPECT_EQ(s.out.decision, Decision::modify);
    EXPECT_TRUE(mapped(s));
    EXPECT_TRUE(thread().exists);
}

TEST_F(MessageFlowTest, AStoreFailureAtCommitTempfails) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    const policy::Envelope env = envelope();
    ScriptedSink sink(m, env);
    std::unique_ptr<WriteLock> lock;
    sink.before_first = [&] { lock = std::make_unique<WriteLock>(db_path()); };
    Sent s = run(m, env, sink);
    lock.reset();

    EXPECT_EQ(s.out.verdict.decision, Decision::modify);
    EXPECT_EQ(s.out.decision, Decision::tempfail);
    EXPECT_EQ(s.out.reply,
              "451 4.3.0 Temporary failure in the marketplace message store, try again later "
              "(audit " +
                  s.audit_id + ")");
    ASSERT_TRUE(sink.inner().reply());
    EXPECT_EQ(sink.inner().reply()->code, "451");
    EXPECT_TRUE(has_rule(s.out, "store.unavailable"));
    EXPECT_FALSE(mapped(s));
    EXPECT_FALSE(thread().exists);

    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["decision"], "tempfail");
    EXPECT_EQ(lines[0]["reply"], s.out.reply);
    bool store_rule = false;
    for (const auto& r : lines[0]["rules"]) store_rule |= r["id"] == "store.unavailable";
    EXPECT_TRUE(store_rule) << lines[0].dump();
}

TEST_F(MessageFlowTest, NoEvaluationSlotTempfails) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    const policy::Envelope env = envelope();
    EvaluationGate full(1);
    auto held = full.acquire(std::chrono::milliseconds(0));
    ASSERT_TRUE(held);
    Runtime rt = runtime();
    rt.config.milter_timeout = 0;  // wait for no slot at all
    MemorySink sink(m.clone(), env);
    const std::string id = new_audit_id();
    FlowOutcome out = run_message_flow({*directory_, *classifier_, &full, audit_.get()},
                                       {rt, env, m, id, "", "192.0.2.7"}, sink,
                                       {.commit = true, .log = false, .now = kNow});
    EXPECT_EQ(out.decision, Decision::tempfail);
    EXPECT_EQ(out.reply,
              "451 4.3.0 Temporary failure in the marketplace filter, try again later (audit " +
                  id + ")");
    ASSERT_EQ(out.rules.size(), 1u);
    EXPECT_EQ(out.rules[0].id, "evaluation.busy");
    EXPECT_FALSE(thread().exists);
    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["decision"], "tempfail");
    EXPECT_EQ(lines[0]["queue_id"], "");
}

// A refusal by evaluate() itself: the reply, no edit, nothing committed.
TEST_F(MessageFlowTest, RefusalIsAnsweredAndAudited) {
    ASSERT_EQ(send(kSubject, "Your parcel is on its way.", "m1").out.decision, Decision::modify);
    const policy::Message m = message(kSubject, "A second note about the same order.", "m2");
    const policy::Envelope env = envelope();
    ScriptedSink sink(m, env);
    Sent s = run(m, env, sink);
    EXPECT_EQ(s.out.verdict.decision, Decision::reject);
    EXPECT_EQ(s.out.decision, Decision::reject);
    EXPECT_EQ(sink.calls, 0);
    ASSERT_TRUE(sink.inner().reply());
    EXPECT_EQ(s.out.reply, "550 5.7.1 " + sink.inner().reply()->text);
    EXPECT_FALSE(mapped(s));
    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1]["decision"], "reject");
}

// A rewritten body brings its top-level Content-Type back; one longer than a
// libmilter command fails in the sink as smfi_addheader would in the daemon.
TEST_F(MessageFlowTest, AHeaderOverLibmiltersLimitTempfails) {
    const std::string raw = "From: Acme Store <support@acme.example>\r\nTo: <" + pair_.buyer_alias +
                            "@" + kDomain + ">\r\nSubject: " + kSubject +
                            "\r\nMessage-ID: <long@acme.example>\r\nContent-Type: text/plain; "
                            "charset=utf-8; x-pad=\"" +
                            std::string(70 * 1024, 'p') +
                            "\"\r\n\r\nSee https://elsewhere.example/shop for more.\r\n";
    const policy::Message m = policy::parse_message(raw).value();
    const policy::Envelope env = envelope();
    MemorySink sink(m.clone(), env);
    Sent s = run(m, env, sink, true);
    ASSERT_TRUE(s.out.verdict.edits.body) << "the link is cut";
    EXPECT_EQ(s.out.verdict.decision, Decision::modify);
    EXPECT_EQ(s.out.decision, Decision::tempfail);
    ASSERT_TRUE(has_rule(s.out, "milter.internal"));
    EXPECT_EQ(s.out.rules.back().detail, "eom: smfi_addheader failed");
}

// A dry run (`test`) edits its copy like the daemon but writes nothing.
TEST_F(MessageFlowTest, DryRunEditsTheCopyAndCommitsNothing) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    const policy::Envelope env = envelope();
    MemorySink sink(m.clone(), env);
    Sent s = run(m, env, sink, true);
    EXPECT_EQ(s.out.decision, Decision::modify);
    EXPECT_FALSE(mapped(s));
    EXPECT_FALSE(thread().exists);
    EXPECT_TRUE(audit_lines().empty());

    // The same message and envelope as apply_edits makes, with the audit header first.
    policy::Message expected = m.clone();
    policy::Envelope expected_env = env;
    policy::apply_edits(s.out.verdict.edits, expected, expected_env);
    std::vector<std::string> expected_rcpts;
    for (const auto& r : expected_env.recipients) expected_rcpts.push_back(r.address);
    const BoundFields bound = bound_fields(expected.headers, expected_rcpts, expected.body);
    expected.headers.insert(
        expected.headers.begin(),
        {"X-Marketplace-Audit", audit_header_value(s.audit_id, Decision::modify, s.out.rules,
                                                   policy_->version, bound, kKey)});
    EXPECT_EQ(policy::serialize(sink.message()), policy::serialize(expected));
    EXPECT_EQ(sink.envelope().sender_raw, expected_env.sender_raw);
    ASSERT_EQ(sink.envelope().recipients.size(), 1u);
    EXPECT_EQ(sink.envelope().recipients[0].address, "bob@gmail.example");
}

// ---- the audit header's binding --------------------------------------------

TEST_F(MessageFlowTest, AuditHeaderIsBoundToTheCopyAsDelivered) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    const policy::Envelope env = envelope();
    MemorySink sink(m.clone(), env);
    Sent s = run(m, env, sink, true);
    ASSERT_EQ(s.out.decision, Decision::modify);
    const std::string header = audit_header_of(sink);
    const BoundFields as_delivered = delivered(sink);
    AuditCheck c = check_audit_header(header, kKey, as_delivered);
    EXPECT_TRUE(c.valid());
    EXPECT_EQ(c.audit_id, s.audit_id);
    // The Message-ID and recipient after rewriting, not as received.
    EXPECT_NE(as_delivered.message_id, "<m@acme.example>");
    EXPECT_EQ(as_delivered.message_id, canonical_field(*sink.message().find("Message-ID")));
    EXPECT_EQ(as_delivered.recipients, "bob@gmail.example");

    // The same header with another body, Message-ID or recipient.
    policy::Message other = sink.message().clone();
    std::string body = other.body.str();
    body[body.find("parcel")] = 'P';
    other.body = policy::MessageBody(body);
    EXPECT_FALSE(check_audit_header(header, kKey,
                                    bound_fields(other.headers, {"bob@gmail.example"}, other.body))
                     .valid());
    BoundFields moved = as_delivered;
    moved.message_id = "<another@marketplace.example>";
    EXPECT_FALSE(check_audit_header(header, kKey, moved).valid());
    moved = as_delivered;
    moved.recipients = "carol@gmail.example";
    EXPECT_FALSE(check_audit_header(header, kKey, moved).valid());
}

// A cut link replaces the body: the header binds the body sent, not the one
// received.
TEST_F(MessageFlowTest, AuditHeaderBindsTheReplacedBody) {
    const policy::Message m =
        message(kSubject, "Your parcel is on its way, see https://elsewhere.example/shop", "m");
    const policy::Envelope env = envelope();
    MemorySink sink(m.clone(), env);
    Sent s = run(m, env, sink, true);
    ASSERT_EQ(s.out.decision, Decision::modify);
    ASSERT_TRUE(s.out.verdict.edits.body) << "the link is cut";
    const BoundFields as_delivered = delivered(sink);
    EXPECT_TRUE(check_audit_header(audit_header_of(sink), kKey, as_delivered).valid());
    BoundFields received = as_delivered;
    received.body_sha256 = body_sha256(m.body);
    ASSERT_NE(received.body_sha256, as_delivered.body_sha256);
    EXPECT_FALSE(check_audit_header(audit_header_of(sink), kKey, received).valid());
}

// ---- an audit log that fails ------------------------------------------------

// A refusal whose line the log does not take becomes a 451: no decision
// without its line.
TEST_F(MessageFlowTest, ARefusalWhoseAuditLineFailsIsTempfailed) {
    ASSERT_EQ(send(kSubject, "Your parcel is on its way.", "m1").out.decision, Decision::modify);
    int spells = 0;
    audit_ = AuditLog::open("/dev/full", [&](AuditLog::Health h, const std::string&) {
                 spells += h == AuditLog::Health::failing;
             }).value();
    const policy::Message m = message(kSubject, "A second note about the same order.", "m2");
    const policy::Envelope env = envelope();
    MemorySink sink(m.clone(), env);
    Sent s = run(m, env, sink);
    EXPECT_EQ(s.out.verdict.decision, Decision::reject);
    EXPECT_EQ(s.out.decision, Decision::tempfail);
    EXPECT_EQ(s.out.reply,
              "451 4.3.0 Temporary failure in the marketplace filter, try again later (audit " +
                  s.audit_id + ")");
    ASSERT_TRUE(sink.reply());
    EXPECT_EQ(sink.reply()->code, "451");
    EXPECT_EQ(sink.reply()->xcode, "4.3.0");
    ASSERT_TRUE(has_rule(s.out, "audit.unavailable"));
    EXPECT_EQ(s.out.rules.back().detail,
              "audit log /dev/full: cannot write: No space left on device");
    EXPECT_FALSE(s.out.audited);
    EXPECT_EQ(spells, 1);
}

// The log fails under a message whose marketplace state was just committed:
// it is delivered as decided (its retry would be refused by that state).
// While the log fails, the next message is tempfailed before it commits
// anything, so its retry is judged afresh.
TEST_F(MessageFlowTest, WhileTheAuditLogFailsNothingIsCommitted) {
    constexpr const char* kOrder2 = "123-7654321-7654321";
    ASSERT_TRUE(store_->add_order({kOrder2, pair_.id, "standard", "fbm", kNow - 86400}));
    const std::string path = dir_.file("failing.log");
    std::filesystem::create_symlink("/dev/full", path);
    audit_ = AuditLog::open(path, [](AuditLog::Health, const std::string&) {}).value();

    Sent a = send(kSubject, "Your parcel is on its way.", "a");
    EXPECT_EQ(a.out.decision, Decision::modify);
    EXPECT_FALSE(a.out.audited);
    EXPECT_TRUE(mapped(a));
    EXPECT_EQ(thread().unsolicited_since_buyer, 1);

    const std::string subject2 = std::string("Your order ") + kOrder2;
    const policy::Message b = message(subject2, "Your second parcel is on its way.", "b");
    const policy::Envelope env = envelope();
    MemorySink sink(b.clone(), env);
    Sent s = run(b, env, sink);
    EXPECT_EQ(s.out.verdict.decision, Decision::modify);
    EXPECT_EQ(s.out.decision, Decision::tempfail);
    EXPECT_EQ(s.out.smtp_code, "451");
    ASSERT_TRUE(has_rule(s.out, "audit.unavailable"));
    EXPECT_FALSE(mapped(s));
    EXPECT_FALSE(thread(kOrder2).exists);

    // The log takes lines again: the first message to find out is still
    // tempfailed (its line ends the spell), the next goes through.
    std::filesystem::remove(path);
    std::filesystem::create_symlink(audit_path(), path);
    ASSERT_TRUE(audit_->reopen());
    MemorySink first_sink(b.clone(), env);
    Sent first = run(b, env, first_sink);
    EXPECT_EQ(first.out.decision, Decision::tempfail);
    EXPECT_TRUE(first.out.audited);
    EXPECT_FALSE(audit_->failing());
    EXPECT_FALSE(thread(kOrder2).exists);
    MemorySink retry_sink(b.clone(), env);
    Sent retry = run(b, env, retry_sink);
    EXPECT_EQ(retry.out.decision, Decision::modify);
    EXPECT_TRUE(retry.out.audited);
    EXPECT_TRUE(mapped(retry));
    EXPECT_EQ(thread(kOrder2).unsolicited_since_buyer, 1);
    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["audit_id"], first.audit_id);
    EXPECT_EQ(lines[0]["decision"], "tempfail");
    EXPECT_EQ(lines[1]["audit_id"], retry.audit_id);
    EXPECT_EQ(lines[1]["decision"], "modify");
}

// ---- internal failures --------------------------------------------------------

TEST_F(MessageFlowTest, AnEvaluationThatThrowsIsTempfailedWithItsAuditLine) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    const policy::Envelope env = envelope();
    alias::AliasDirectory broken(std::make_shared<ThrowingStore>(), std::chrono::milliseconds(0));
    const Runtime rt = runtime();
    MemorySink sink(m.clone(), env);
    const std::string id = new_audit_id();
    FlowOutcome out = run_message_flow({broken, *classifier_, &gate_, audit_.get()},
                                       {rt, env, m, id, "4XbQ1", "192.0.2.7"}, sink,
                                       {.commit = true, .log = false, .now = kNow});
    EXPECT_EQ(out.decision, Decision::tempfail);
    EXPECT_EQ(out.reply,
              "451 4.3.0 Temporary failure in the marketplace filter, try again later (audit " +
                  id + ")");
    ASSERT_TRUE(sink.reply());
    EXPECT_EQ(sink.reply()->code, "451");
    ASSERT_FALSE(out.rules.empty());
    EXPECT_EQ(out.rules.back().id, "milter.internal");
    EXPECT_EQ(out.rules.back().detail, "eom: boom");
    EXPECT_TRUE(out.audited);
    EXPECT_FALSE(thread().exists);
    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["audit_id"], id);
    EXPECT_EQ(lines[0]["decision"], "tempfail");
    // The evaluation slot went back.
    auto p1 = gate_.acquire(std::chrono::milliseconds(0));
    auto p2 = gate_.acquire(std::chrono::milliseconds(0));
    EXPECT_TRUE(p1 && p2);
}

// ---- MemorySink: what libmilter refuses ------------------------------------

class MemorySinkTest : public ::testing::Test {
protected:
    MemorySink sink_{
        policy::parse_message("Subject: hi\r\nTo: a@b.example\r\n\r\nbody\r\n").value(),
        policy::Envelope{}};
};

TEST_F(MemorySinkTest, HeaderDataOverTheCommandLimitFails) {
    // add: name NUL value NUL; change and insert carry a 4-byte index too.
    const std::string name = "X-Long";
    const std::size_t add_max = kMaxDataSize - name.size() - 2;
    EXPECT_NO_THROW(sink_.add_header(name, std::string(add_max, 'a')));
    EXPECT_THROW(sink_.add_header(name, std::string(add_max + 1, 'a')), std::runtime_error);
    EXPECT_NO_THROW(sink_.change_header(name, 1, std::string(add_max - 4, 'b')));
    EXPECT_THROW(sink_.change_header(name, 1, std::string(add_max - 3, 'b')), std::runtime_error);
    EXPECT_THROW(sink_.insert_header(0, name, std::string(add_max - 3, 'c')), std::runtime_error);
    EXPECT_THROW(sink_.change_header("Subject", 1, std::string(70 * 1024, 'd')),
                 std::runtime_error);
    EXPECT_EQ(*sink_.message().find("Subject"), "hi");
    EXPECT_EQ(sink_.message().find(name)->size(), add_max - 4);
}

TEST_F(MemorySinkTest, MissingNamesAndArgumentsFail) {
    EXPECT_THROW(sink_.add_header("", "v"), std::runtime_error);
    EXPECT_THROW(sink_.change_sender(""), std::runtime_error);
    EXPECT_THROW(sink_.add_recipient(""), std::runtime_error);
    EXPECT_THROW(sink_.delete_recipient(""), std::runtime_error);
    EXPECT_THROW(sink_.quarantine(""), std::runtime_error);
    EXPECT_THROW(sink_.add_recipient("<" + std::string(kMaxDataSize, 'r') + ">"),
                 std::runtime_error);
}

TEST_F(MemorySinkTest, EditsAsPostfixMakesThem) {
    sink_.change_header("to", 1, "c@d.example");  // case ignored
    sink_.change_header("Cc", 1, "e@f.example");  // not there: added
    sink_.remove_header("Bcc", 1);                // not there: nothing
    sink_.change_header("Subject", 1, "");        // empty: removed
    sink_.insert_header(0, "X-First", "1");
    sink_.replace_body("new ");
    sink_.replace_body("body");
    sink_.change_sender("<S@Example.org>");
    sink_.add_recipient("<r@example.org>");
    sink_.quarantine("held\r\nfor 100% review");
    EXPECT_EQ(policy::serialize(sink_.message()),
              "X-First: 1\r\nTo: c@d.example\r\nCc: e@f.example\r\n\r\nnew body");
    EXPECT_EQ(sink_.envelope().sender, "s@example.org");
    ASSERT_EQ(sink_.envelope().recipients.size(), 1u);
    EXPECT_EQ(sink_.envelope().recipients[0].raw, "<r@example.org>");
    sink_.delete_recipient("<r@example.org>");
    EXPECT_TRUE(sink_.envelope().recipients.empty());
    EXPECT_EQ(sink_.quarantine_reason(), "held  for 100%% review");
}

}  // namespace
}  // namespace mm::milter
