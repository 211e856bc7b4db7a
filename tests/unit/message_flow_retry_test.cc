// The MTA's retry of a message whose marketplace state was committed but
// whose reply never reached the MTA (the milter killed between the commit and
// the reply): recognised by its delivery key (milter/delivery_key.h) and
// judged as the first attempt was, with the same Message-ID, writing nothing
// again; a different message with the same text is still a repeat.
#include <gtest/gtest.h>

#include <string>

#include "milter/delivery_key.h"
#include "milter/message_flow.h"
#include "tests/support/message_flow_fixture.h"

namespace mm::milter {
namespace {

using namespace flow_testing;
using policy::Decision;

constexpr const char* kParcel = "Your parcel left our warehouse today and arrives on Friday.";
constexpr const char* kNoOrder = "A question about the listing";

std::string marketplace_id(const Sent& s) {
    return s.out.verdict.message_id_record ? s.out.verdict.message_id_record->marketplace_id : "";
}

TEST_F(MessageFlowTest, RetryAfterTheCommitIsJudgedAsTheFirstAndCountedOnce) {
    const Sent first = send(kSubject, kParcel, "m1");
    ASSERT_EQ(first.out.decision, Decision::modify);
    ASSERT_EQ(thread().unsolicited_since_buyer, 1);

    const Sent retry = send(kSubject, kParcel, "m1");
    EXPECT_EQ(retry.out.decision, first.out.decision);
    EXPECT_EQ(retry.out.reply, "");
    EXPECT_TRUE(has_rule(retry.out, "delivery.retry"));
    EXPECT_FALSE(has_rule(retry.out, "marketplace.repeat"));
    EXPECT_TRUE(has_rule(retry.out, "marketplace.unsolicited_limit"));  // as the first noted it
    EXPECT_EQ(marketplace_id(retry), marketplace_id(first));
    EXPECT_TRUE(mapped(retry));
    const alias::ThreadState st = thread();
    EXPECT_EQ(st.unsolicited_since_buyer, 1);
    EXPECT_EQ(st.recent_fingerprints.size(), 1u);

    auto lines = audit_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1]["audit_id"], retry.audit_id);
    EXPECT_EQ(lines[1]["decision"], "modify");
}

TEST_F(MessageFlowTest, DifferentMessageIdWithTheSameTextIsStillARepeat) {
    ASSERT_EQ(send(kNoOrder, kParcel, "m1").out.decision, Decision::modify);
    const Sent other = send(kNoOrder, kParcel, "m2");
    EXPECT_EQ(other.out.decision, Decision::reject);
    EXPECT_TRUE(has_rule(other.out, "marketplace.repeat"));
    EXPECT_FALSE(has_rule(other.out, "delivery.retry"));
    // The first one's retry is still the first one.
    const Sent retry = send(kNoOrder, kParcel, "m1");
    EXPECT_EQ(retry.out.decision, Decision::modify);
    EXPECT_FALSE(has_rule(retry.out, "marketplace.repeat"));
    EXPECT_EQ(thread("").recent_fingerprints.size(), 1u);
}

TEST_F(MessageFlowTest, RetryOfTheOrdersUnsolicitedMessageIsStillAcceptedOnce) {
    const Sent a = send(kSubject, kParcel, "a");
    ASSERT_EQ(a.out.decision, Decision::modify);
    const Sent b = send(kSubject, "Would you like gift wrapping for the lamp?", "b");
    ASSERT_EQ(b.out.decision, Decision::reject);
    ASSERT_TRUE(has_rule(b.out, "marketplace.unsolicited_limit"));

    const Sent retry = send(kSubject, kParcel, "a");
    EXPECT_EQ(retry.out.decision, Decision::modify);
    EXPECT_TRUE(has_rule(retry.out, "delivery.retry"));
    EXPECT_EQ(marketplace_id(retry), marketplace_id(a));
    EXPECT_EQ(thread().unsolicited_since_buyer, 1);
}

// `test` of a message already delivered shows the judgement it got.
TEST_F(MessageFlowTest, DryRunOfACommittedMessageShowsItsJudgement) {
    ASSERT_EQ(send(kNoOrder, kParcel, "m1").out.decision, Decision::modify);
    const policy::Message m = message(kNoOrder, kParcel, "m1");
    const policy::Envelope env = envelope();
    MemorySink sink(m.clone(), env);
    const Sent dry = run(m, env, sink, true);
    EXPECT_EQ(dry.out.decision, Decision::modify);
    EXPECT_TRUE(has_rule(dry.out, "delivery.retry"));
}

TEST(DeliveryKeyTest, TellsTheMessageByIdDateEnvelopeAndBody) {
    auto parse = [](const std::string& id, const std::string& date, const std::string& body) {
        return policy::parse_message("Message-ID: <" + id + ">\r\nDate: " + date +
                                     "\r\nSubject: s\r\n\r\n" + body)
            .value();
    };
    policy::Envelope env;
    env.sender = "a@example.org";
    env.recipients.push_back({"<X@Example.org>", "x@example.org", std::nullopt});
    const std::string k = "key";
    const std::string base = delivery_key(env, parse("1@h", "d", "body\r\n"), k);
    EXPECT_EQ(base.size(), 64u);
    EXPECT_EQ(delivery_key(env, parse("1@h", "d", "body\n"), k), base);  // LF as CRLF
    EXPECT_NE(delivery_key(env, parse("2@h", "d", "body\r\n"), k), base);
    EXPECT_NE(delivery_key(env, parse("1@h", "e", "body\r\n"), k), base);
    EXPECT_NE(delivery_key(env, parse("1@h", "d", "body!\r\n"), k), base);
    EXPECT_NE(delivery_key(env, parse("1@h", "d", "body\r\n"), "other"), base);
    policy::Envelope other = env;
    other.sender = "b@example.org";
    EXPECT_NE(delivery_key(other, parse("1@h", "d", "body\r\n"), k), base);
    other = env;
    other.recipients.push_back({"<y@example.org>", "y@example.org", std::nullopt});
    EXPECT_NE(delivery_key(other, parse("1@h", "d", "body\r\n"), k), base);
}

}  // namespace
}  // namespace mm::milter
