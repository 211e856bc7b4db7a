// The end of message (milter/message_flow.h) through an in-memory sink,
// against a real SQLite store and audit log in a temp dir: the commit race
// (refused or quarantined by the authoritative run), an edit the sink fails,
// a store failure at commit, and MemorySink's libmilter limits.  The audit
// trail's part of the flow is in message_flow_audit_test.
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
    std::unique_ptr<MemorySink> sink;
    Sent s = send(m, sink, true);
    ASSERT_TRUE(s.out.verdict.edits.body) << "the link is cut";
    EXPECT_EQ(s.out.verdict.decision, Decision::modify);
    EXPECT_EQ(s.out.decision, Decision::tempfail);
    ASSERT_TRUE(has_rule(s.out, "milter.internal"));
    EXPECT_EQ(s.out.rules.back().detail, "eom: smfi_addheader failed");
}

// A dry run (`test`) edits its copy like the daemon but writes nothing.
TEST_F(MessageFlowTest, DryRunEditsTheCopyAndCommitsNothing) {
    const policy::Message m = message(kSubject, "Your parcel is on its way.", "m");
    std::unique_ptr<MemorySink> sink;
    Sent s = send(m, sink, true);
    EXPECT_EQ(s.out.decision, Decision::modify);
    EXPECT_FALSE(mapped(s));
    EXPECT_FALSE(thread().exists);
    EXPECT_TRUE(audit_lines().empty());

    // The same message and envelope as apply_edits makes, with the audit header first.
    policy::Message expected = m.clone();
    policy::Envelope expected_env = envelope();
    policy::apply_edits(s.out.verdict.edits, expected, expected_env);
    std::vector<std::string> expected_rcpts;
    for (const auto& r : expected_env.recipients) expected_rcpts.push_back(r.address);
    const BoundFields bound = bound_fields(expected.headers, expected_rcpts, expected.body);
    expected.headers.insert(
        expected.headers.begin(),
        {"X-Marketplace-Audit", audit_header_value(s.audit_id, Decision::modify, s.out.rules,
                                                   policy_->version, bound, kKey)});
    EXPECT_EQ(policy::serialize(sink->message()), policy::serialize(expected));
    EXPECT_EQ(sink->envelope().sender_raw, expected_env.sender_raw);
    ASSERT_EQ(sink->envelope().recipients.size(), 1u);
    EXPECT_EQ(sink->envelope().recipients[0].address, "bob@gmail.example");
}

// The received body's digest (computed for the delivery key) stands in for
// a body the edits leave alone, and only for that one.
TEST(DeliveredFields, TheReceivedDigestStandsInForAnUnchangedBody) {
    const policy::Message m =
        policy::parse_message("Message-ID: <a@b>\r\nDate: d\r\n\r\nbody\n").value();
    policy::Envelope env;
    env.recipients.push_back({"<r@x.example>", "r@x.example"});
    policy::Edits edits;
    const std::string digest = body_sha256(m.body);
    const BoundFields plain = delivered_fields(m, env, edits);
    const BoundFields given = delivered_fields(m, env, edits, digest);
    EXPECT_EQ(given.body_sha256, plain.body_sha256);
    EXPECT_EQ(given.message_id, plain.message_id);
    EXPECT_EQ(given.recipients, plain.recipients);
    EXPECT_EQ(given.date, plain.date);
    edits.body.emplace("other\r\n");
    EXPECT_EQ(delivered_fields(m, env, edits, digest).body_sha256, body_sha256(*edits.body));
    EXPECT_NE(body_sha256(*edits.body), digest);
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
