// evaluate() on mail with a null sender: bounces and auto-replies to an
// alias, genuine (answering what the marketplace delivered) or forged,
// against a real SQLite store in a temp dir.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "policy/evaluate.h"
#include "tests/support/evaluate_fixture.h"

namespace mm::policy {
namespace {

using evaluate_testing::kDomain;
using evaluate_testing::PolicyTest;

// ---- forged bounces and auto-replies ----------------------------------------

class NullSenderTest : public PolicyTest {
protected:
    EvalContext store_ctx() {
        EvalContext c = ctx();
        c.store = store_.get();
        c.now = 1796000000;
        return c;
    }
    Envelope to_seller() {
        Envelope env;
        env.sender_raw = "<>";
        auto out = rcpt("", addr(pair_.seller_alias));
        EXPECT_EQ(out.kind, RcptOutcome::Kind::accepted);
        env.recipients.push_back({"<" + addr(pair_.seller_alias) + ">", "", out.alias});
        return env;
    }
    // A message the marketplace delivered to the buyer for this pair.
    std::string delivered() {
        const std::string id = "0123456789abcdef01234567@marketplace.example";
        EXPECT_TRUE(store_->record_message_id(
            {id, "orig@acme.example", pair_.id, alias::Role::seller, 1796000000}));
        return id;
    }
    static std::string report(const std::string& returned_headers, const std::string& extra) {
        return "From: Mail Delivery System <MAILER-DAEMON@mx.gmail.example>\r\n"
               "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n"
               "\r\n--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered."
               " Leave us a 5-star review and get a $20 gift card! "
               "https://shop-elsewhere.example/deal\r\n"
               "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
               "mx.gmail.example\r\n\r\nFinal-Recipient: rfc822; bob@gmail.example\r\n"
               "Action: failed\r\nStatus: 5.1.1\r\n\r\n" +
               returned_headers + extra + "--r--\r\n";
    }
    static std::string exe_part() {
        return "--r\r\nContent-Type: application/octet-stream; name=\"setup.exe\"\r\n"
               "Content-Disposition: attachment; filename=\"setup.exe\"\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n"
               "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
               "gAAAAA4fug4AtAnNIbgBTM0hVGhpcyBwcm9ncmFtIGNhbm5vdCBiZSBydW4gaW4gRE9TIG1vZGUuDQ0K"
               "JAAAAAAAAABQRQAATAEDAA==\r\n";
    }
    static bool has_rule(const Verdict& v, const std::string& id) {
        return std::any_of(v.rules.begin(), v.rules.end(),
                           [&](const RuleHit& r) { return r.id == id; });
    }
};

TEST_F(NullSenderTest, BounceThatLooksRealButReturnsNothingIsRefused) {
    auto msg = parse_message(report("", exe_part()));
    ASSERT_TRUE(msg);
    Verdict v = evaluate(to_seller(), *msg, store_ctx());
    EXPECT_EQ(v.decision, Decision::reject);
    EXPECT_TRUE(has_rule(v, "bounce.backscatter"));
}

TEST_F(NullSenderTest, BounceForAStrangersMessageIsRefused) {
    auto msg = parse_message(report(
        "--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <x@elsewhere.example>\r\n\r\n",
        ""));
    ASSERT_TRUE(msg);
    Verdict v = evaluate(to_seller(), *msg, store_ctx());
    EXPECT_EQ(v.decision, Decision::reject);
    EXPECT_TRUE(has_rule(v, "bounce.backscatter"));
}

// A genuine bounce is delivered, but what it carries meets the content
// policy: the review bribe refuses it; without the bribe the executable and
// the link are stripped.
TEST_F(NullSenderTest, GenuineBounceMeetsTheContentPolicy) {
    const std::string returned = "--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" +
                                 delivered() + ">\r\nSubject: Your order\r\n\r\n";
    // The shipped content rules refuse the bribe in the report's text.
    auto shipped = load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
    ASSERT_TRUE(shipped) << shipped.error().message;
    auto bribe = parse_message(report(returned, exe_part()));
    ASSERT_TRUE(bribe);
    EvalContext c{**shipped, kDomain, *classifier_, store_.get(), nullptr, 1796000000};
    Verdict v = evaluate(to_seller(), *bribe, c);
    EXPECT_EQ(v.decision, Decision::reject) << "a review bribe in a bounce was not refused";

    std::string plain = report(returned, exe_part());
    plain.replace(plain.find(" Leave us"),
                  plain.find("\r\n--r\r\nContent-Type: message/") - plain.find(" Leave us"),
                  " See https://shop-elsewhere.example/deal");
    auto msg = parse_message(plain);
    ASSERT_TRUE(msg);
    v = evaluate(to_seller(), *msg, store_ctx());
    ASSERT_EQ(v.decision, Decision::modify);
    EXPECT_TRUE(has_rule(v, "bounce.rewritten"));
    EXPECT_TRUE(has_rule(v, "links.removed"));
    ASSERT_TRUE(v.edits.body);
    const std::string body = v.edits.body->str();
    EXPECT_EQ(body.find("TVqQAAMAAAAE"), std::string::npos) << body;
    EXPECT_EQ(body.find("shop-elsewhere.example"), std::string::npos) << body;
    EXPECT_NE(body.find("Status: 5.1.1"), std::string::npos) << body;
}

TEST_F(NullSenderTest, AutoReplyFromAStrangerIsRefused) {
    auto msg = parse_message(
        "From: Acme Store <stranger@evil.example>\r\nAuto-Submitted: auto-replied\r\n"
        "Subject: Out of office\r\n\r\nI am away. Buy at https://evil.example\r\n");
    ASSERT_TRUE(msg);
    Verdict v = evaluate(to_seller(), *msg, store_ctx());
    EXPECT_EQ(v.decision, Decision::reject);
    EXPECT_TRUE(has_rule(v, "autoreply.unsolicited"));
}

TEST_F(NullSenderTest, AutoReplyAnsweringOurMessageOrFromTheCounterpartPasses) {
    const std::string id = delivered();
    for (const std::string& headers :
         {"From: someone@gmail.example\r\nIn-Reply-To: <" + id + ">\r\n",
          std::string("From: Bob <bob@gmail.example>\r\n")}) {
        auto msg = parse_message(headers +
                                 "Auto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\n"
                                 "I am away until Monday.\r\n");
        ASSERT_TRUE(msg);
        Verdict v = evaluate(to_seller(), *msg, store_ctx());
        EXPECT_EQ(v.decision, Decision::modify) << headers;
        EXPECT_TRUE(v.auto_reply);
    }
}

}  // namespace
}  // namespace mm::policy
