// The audit trail in the end of message (milter/message_flow.h): the audit
// header bound to the copy as delivered (the replaced body included), an
// audit log that fails (the decision becomes a 451; nothing is committed
// while it fails), and an evaluation that throws (a 451 with its line).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "milter/edit_sink.h"
#include "milter/message_flow.h"
#include "tests/support/message_flow_fixture.h"

namespace mm::milter {
namespace {

using namespace flow_testing;
using policy::Decision;

// Every call throws, as a store with a bug or out of memory would.
class ThrowingStore final : public alias::Store {
public:
    Result<void> add_party(const alias::Party&) override { boom(); }
    Result<void> update_party(const alias::Party&) override { boom(); }
    Result<std::optional<alias::Party>> find_party(const std::string&) override { boom(); }
    Result<alias::Pair> add_pair(const std::string&, const std::string&) override { boom(); }
    Result<std::optional<alias::Pair>> find_pair(const std::string&, const std::string&) override {
        boom();
    }
    Result<std::optional<alias::Pair>> find_pair_by_alias(const std::string&) override { boom(); }
    Result<void> record_message_id(const alias::MessageIdRecord&) override { boom(); }
    Result<std::optional<alias::MessageIdRecord>> find_message_id(const std::string&) override {
        boom();
    }
    Result<std::optional<alias::MessageIdRecord>> find_by_original(std::int64_t, alias::Role,
                                                                   const std::string&) override {
        boom();
    }
    Result<std::optional<alias::Delivery>> find_delivery(const std::string&,
                                                         std::int64_t) override {
        boom();
    }
    Result<void> record_delivery(const alias::Delivery&, const alias::MessageIdRecord*) override {
        boom();
    }
    Result<void> add_order(const alias::Order&) override { boom(); }
    Result<std::optional<alias::Order>> find_order(const std::string&) override { boom(); }
    Result<alias::ThreadUpdate> apply_thread_event(const alias::ThreadEvent&,
                                                   const alias::ThreadDecide&) override {
        boom();
    }
    Result<std::vector<alias::ResponseTime>> response_times(const std::string&,
                                                            std::int64_t) override {
        boom();
    }

private:
    [[noreturn]] static void boom() { throw std::runtime_error("boom"); }
};

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

}  // namespace
}  // namespace mm::milter
