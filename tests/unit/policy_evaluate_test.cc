// evaluate() on a message between a pair (the rewriting, the headers that
// reach the recipient, authentication, redaction, documents) and message
// parsing, against a real SQLite store in a temp dir.  Recipients:
// authorize_test.cc; null senders: null_sender_test.cc; the From: builder:
// from_header_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "policy/evaluate.h"
#include "tests/support/document_samples.h"
#include "tests/support/evaluate_fixture.h"
#include "tests/support/synthetic_files.h"

namespace mm::policy {
namespace {

using evaluate_testing::PolicyTest;

TEST_F(PolicyTest, SellerToBuyerIsRewrittenBothWays) {
    auto env = envelope_for("support@acme.example", addr(pair_.buyer_alias));
    auto msg = parse_message(
        "From: Acme Support <support@acme.example>\r\n"
        "To: " +
        addr(pair_.buyer_alias) +
        "\r\n"
        "Reply-To: support@acme.example\r\n"
        "X-Originating-IP: [192.0.2.7]\r\n"
        "Subject: Your order\r\n"
        "X-Marketplace-Audit: id=forged; decision=accept\r\n"
        "Reply-To: second@acme.example\r\n"
        "\r\n"
        "Hello Bob\r\n");
    ASSERT_TRUE(msg);
    Verdict v = evaluate(env, *msg, ctx());
    EXPECT_EQ(v.decision, Decision::modify);
    EXPECT_EQ(v.sender_party, "acme");
    EXPECT_EQ(v.recipient_party, "bob");
    ASSERT_TRUE(v.edits.envelope_from);
    EXPECT_EQ(*v.edits.envelope_from, "<" + addr(pair_.seller_alias) + ">");
    EXPECT_EQ(v.edits.remove_rcpts, std::vector<std::string>{"<" + addr(pair_.buyer_alias) + ">"});
    EXPECT_EQ(v.edits.add_rcpts, std::vector<std::string>{"<bob@gmail.example>"});

    Message out = msg->clone();
    Envelope env_out = env;
    apply_edits(v.edits, out, env_out);
    EXPECT_EQ(*out.find("From"), "Acme Store <" + addr(pair_.seller_alias) + ">");
    EXPECT_EQ(out.count("Reply-To"), 0);
    EXPECT_EQ(out.count("X-Originating-IP"), 0);
    EXPECT_EQ(out.count("X-Marketplace-Audit"), 0);
    EXPECT_EQ(*out.find("Subject"), "Your order");
    EXPECT_EQ(out.body.str(), "Hello Bob\r\n");
    std::string wire = serialize(out);
    EXPECT_EQ(wire.find("acme.example"), std::string::npos) << wire;
    ASSERT_EQ(env_out.recipients.size(), 1u);
    EXPECT_EQ(env_out.recipients[0].address, "bob@gmail.example");

    auto has_rule = [&](const std::string& id) {
        return std::any_of(v.rules.begin(), v.rules.end(),
                           [&](const RuleHit& r) { return r.id == id; });
    };
    EXPECT_TRUE(has_rule("alias.rewrite"));
    EXPECT_TRUE(has_rule("headers.identity"));
    EXPECT_TRUE(has_rule("headers.forged_marketplace"));
}

// ---- sender authenticity (policy.yaml authentication:) ----------------------

class AuthenticationTest : public PolicyTest {
protected:
    void SetUp() override {
        PolicyTest::SetUp();
        policy_.authentication = {
            {"mx.marketplace.example"}, true, AuthenticationPolicy::Action::reject};
        env_ = envelope_for("support@acme.example", addr(pair_.buyer_alias));
    }
    // The seller's message with `fields` (kept in msg_) to the buyer.
    Verdict judge(const std::string& fields) {
        auto msg = parse_message("Received: from mail.acme.example by mx\r\n" + fields +
                                 "From: support@acme.example\r\nSubject: Your order\r\n\r\n"
                                 "Your parcel left today.\r\n");
        EXPECT_TRUE(msg);
        if (!msg) return {};
        msg_.emplace(std::move(*msg));
        return evaluate(env_, *msg_, ctx());
    }
    static bool has_rule(const Verdict& v, const std::string& id) {
        return std::any_of(v.rules.begin(), v.rules.end(),
                           [&](const RuleHit& r) { return r.id == id; });
    }

    Envelope env_;
    std::optional<Message> msg_;
};

TEST_F(AuthenticationTest, AlignedPassFromTheTrustedMtaIsDelivered) {
    Verdict v = judge(
        "Authentication-Results: mx.marketplace.example; dkim=pass header.d=acme.example\r\n");
    EXPECT_EQ(v.decision, Decision::modify);
    EXPECT_TRUE(has_rule(v, "auth.aligned"));
}

TEST_F(AuthenticationTest, ForgedPassIsRefused) {
    Verdict v = judge(
        "Authentication-Results: mx.marketplace.example; spf=fail "
        "smtp.mailfrom=support@acme.example\r\n"
        "Authentication-Results: mx.evil.example; dkim=pass header.d=acme.example\r\n");
    EXPECT_EQ(v.decision, Decision::reject);
    EXPECT_EQ(v.smtp_code, "550");
    EXPECT_EQ(v.enhanced_code, "5.7.1");
    EXPECT_NE(v.reply_text.find("auth.alignment"), std::string::npos);
    EXPECT_TRUE(has_rule(v, "auth.alignment"));
}

TEST_F(AuthenticationTest, QuarantineWhenThePolicySaysSo) {
    policy_.authentication.action = AuthenticationPolicy::Action::quarantine;
    EXPECT_EQ(judge("").decision, Decision::quarantine);
}

// Kept by the header policy: only the trusted fields are delivered.
TEST_F(AuthenticationTest, UntrustedFieldsAreNeverDelivered) {
    policy_.headers.keep.push_back("authentication-results");
    policy_.authentication.require_alignment = false;
    Verdict v = judge(
        "Authentication-Results: mx.marketplace.example; dkim=pass header.d=acme.example\r\n"
        "Authentication-Results: mx.evil.example; dkim=pass header.d=acme.example\r\n"
        "Authentication-Results: mx.marketplace.example (; dkim=pass\r\n");
    ASSERT_TRUE(msg_);
    EXPECT_EQ(v.decision, Decision::modify);
    EXPECT_TRUE(has_rule(v, "auth.untrusted"));
    Message out = msg_->clone();
    Envelope env_out = env_;
    apply_edits(v.edits, out, env_out);
    ASSERT_EQ(out.count("Authentication-Results"), 1);
    EXPECT_EQ(out.find("Authentication-Results")->find("mx.marketplace.example; dkim=pass"), 0u);
}

TEST_F(PolicyTest, RepeatedHeadersAreRemovedHighestIndexFirst) {
    auto env = envelope_for("bob@gmail.example", addr(pair_.seller_alias));
    auto msg = parse_message(
        "From: bob@gmail.example\r\nSender: a\r\nSender: b\r\nSender: c\r\n\r\nbody\r\n");
    ASSERT_TRUE(msg);
    Verdict v = evaluate(env, *msg, ctx());
    std::vector<int> sender_indexes;
    for (const auto& e : v.edits.headers)
        if (e.name == "Sender" && e.op == HeaderEdit::Op::remove) sender_indexes.push_back(e.index);
    EXPECT_EQ(sender_indexes, (std::vector<int>{3, 2, 1}));
}

TEST_F(PolicyTest, MissingFromIsAddedAndExtraFromsRemoved) {
    auto env = envelope_for("bob@gmail.example", addr(pair_.seller_alias));
    auto none = parse_message("Subject: hi\r\n\r\nbody\r\n");
    ASSERT_TRUE(none);
    Message out = none->clone();
    Envelope e2 = env;
    apply_edits(evaluate(env, *none, ctx()).edits, out, e2);
    EXPECT_EQ(out.count("From"), 1);
    EXPECT_EQ(*out.find("From"), "Bob Buyer <" + addr(pair_.buyer_alias) + ">");

    auto two = parse_message("From: a@b.example\r\nFrom: bob@gmail.example\r\n\r\nbody\r\n");
    ASSERT_TRUE(two);
    out = two->clone();
    e2 = env;
    apply_edits(evaluate(env, *two, ctx()).edits, out, e2);
    EXPECT_EQ(out.count("From"), 1);
    EXPECT_EQ(serialize(out).find("gmail.example"), std::string::npos);
}

TEST_F(PolicyTest, BounceToAliasIsQuarantinedOrRejectedPerPolicy) {
    Envelope env;
    env.sender_raw = "<>";
    auto out = rcpt("", addr(pair_.seller_alias));
    ASSERT_EQ(out.kind, RcptOutcome::Kind::accepted);
    env.recipients.push_back({"<" + addr(pair_.seller_alias) + ">", "", out.alias});
    // A bounce that returns no message proves nothing: refused as backscatter.
    auto bare = parse_message(
        "From: MAILER-DAEMON@mx.gmail.example\r\nSubject: failure notice\r\n\r\n"
        "<bob@gmail.example>: 550 5.1.1 user unknown at mx.gmail.example\r\n");
    ASSERT_TRUE(bare);
    ASSERT_EQ(policy_.bounce_action, BounceAction::rewrite);
    Verdict refused = evaluate(env, *bare, ctx());
    EXPECT_EQ(refused.decision, Decision::reject);
    EXPECT_EQ(refused.rules.back().id, "bounce.backscatter");
    // One that returns a message the marketplace delivered for this pair:
    // rewritten and delivered to the seller, the envelope sender kept <>.
    const std::string delivered_id = "0123456789abcdef01234567@marketplace.example";
    ASSERT_TRUE(store_->record_message_id(
        {delivered_id, "orig@acme.example", pair_.id, alias::Role::seller, 1796000000}));
    auto msg = parse_message(
        "From: MAILER-DAEMON@mx.gmail.example\r\nSubject: failure notice\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        "boundary=\"r\"\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\n"
        "<bob@gmail.example>: 550 5.1.1 user unknown at mx.gmail.example\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
        "mx.gmail.example\r\n\r\nFinal-Recipient: rfc822; bob@gmail.example\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n\r\n--r\r\nContent-Type: text/rfc822-headers"
        "\r\n\r\nMessage-ID: <" +
        delivered_id + ">\r\nSubject: Your order\r\n\r\n--r--\r\n");
    ASSERT_TRUE(msg);
    Verdict v = evaluate(env, *msg, ctx());
    EXPECT_EQ(v.decision, Decision::modify);
    EXPECT_TRUE(v.auto_reply);
    EXPECT_TRUE(std::any_of(v.rules.begin(), v.rules.end(),
                            [](const RuleHit& r) { return r.id == "bounce.rewritten"; }));
    EXPECT_FALSE(v.edits.envelope_from);
    EXPECT_EQ(v.edits.add_rcpts, std::vector<std::string>{"<support@acme.example>"});
    Message delivered = msg->clone();
    Envelope e2 = env;
    apply_edits(v.edits, delivered, e2);
    const std::string text = serialize(delivered);
    EXPECT_EQ(text.find("gmail.example"), std::string::npos) << text;
    EXPECT_NE(text.find("<" + addr(pair_.buyer_alias) + ">: 550 5.1.1"), std::string::npos) << text;
    EXPECT_EQ(e2.sender_raw, "<>");
    // A null-sender message that is neither a report nor an auto-reply is held.
    auto odd = parse_message("From: someone@else.example\r\nSubject: hi\r\n\r\nhi\r\n");
    ASSERT_TRUE(odd);
    EXPECT_EQ(evaluate(env, *odd, ctx()).decision, Decision::quarantine);

    policy_.bounce_action = BounceAction::quarantine;
    v = evaluate(env, *msg, ctx());
    EXPECT_EQ(v.decision, Decision::quarantine);
    EXPECT_TRUE(v.edits.empty());
    policy_.bounce_action = BounceAction::reject;
    v = evaluate(env, *msg, ctx());
    EXPECT_EQ(v.decision, Decision::reject);
    EXPECT_EQ(v.smtp_code, "550");
}

TEST_F(PolicyTest, AutoReplyIsRedactedWhateverTheDirectionFlags) {
    policy_.redact.seller_to_buyer = false;
    policy_.redact.buyer_to_seller = false;
    const std::string body =
        "I am away until Monday.\r\n--\r\nBob, bob.private@home.example, +49 30 1234 5678\r\n";
    auto msg = parse_message(
        "From: Bob <bob@gmail.example>\r\nSubject: Auto: away\r\n"
        "Auto-Submitted: auto-replied\r\n\r\n" +
        body);
    ASSERT_TRUE(msg);
    for (const std::string sender : {"bob@gmail.example", ""}) {
        Envelope env;
        if (sender.empty()) {
            env.sender_raw = "<>";
            auto out = rcpt("", addr(pair_.seller_alias));
            env.recipients.push_back({"<" + addr(pair_.seller_alias) + ">", "", out.alias});
        } else {
            env = envelope_for(sender, addr(pair_.seller_alias));
        }
        Verdict v = evaluate(env, *msg, ctx());
        EXPECT_EQ(v.decision, Decision::modify) << sender;
        EXPECT_TRUE(v.auto_reply);
        EXPECT_TRUE(std::any_of(v.rules.begin(), v.rules.end(),
                                [](const RuleHit& r) { return r.id == "autoreply.redacted"; }));
        ASSERT_TRUE(v.edits.body);
        EXPECT_EQ(v.edits.body->str().find("bob.private@home.example"), std::string::npos);
        EXPECT_EQ(v.edits.body->str().find("1234 5678"), std::string::npos);
        EXPECT_EQ(v.edits.envelope_from.has_value(), !sender.empty()) << sender;
    }
    // Not an auto-reply: the direction flags decide (both off here).
    auto plain = parse_message("From: Bob <bob@gmail.example>\r\nSubject: hi\r\n\r\n" + body);
    ASSERT_TRUE(plain);
    Verdict v =
        evaluate(envelope_for("bob@gmail.example", addr(pair_.seller_alias)), *plain, ctx());
    EXPECT_FALSE(v.auto_reply);
    EXPECT_FALSE(v.edits.body);
}

// The marketplace's rules: sellers may not give buyers an address or a
// number; buyers may give sellers theirs.  So both the built-in policy and
// etc/policy.yaml redact seller -> buyer and not buyer -> seller.
TEST_F(PolicyTest, RedactionIsOnSellerToBuyerAndOffBuyerToSellerByDefault) {
    auto committed = load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
    ASSERT_TRUE(committed) << committed.error().message;
    const std::string body = "Call me on +49 30 1234 5678 or write to me@private.example\r\n";
    for (const Policy& policy : {default_policy(), **committed}) {
        policy_ = policy;
        auto from_seller = parse_message(
            "From: Acme <support@acme.example>\r\nSubject: Your order\r\n\r\n" + body);
        auto from_buyer =
            parse_message("From: Bob <bob@gmail.example>\r\nSubject: My order\r\n\r\n" + body);
        ASSERT_TRUE(from_seller && from_buyer);
        Verdict to_buyer = evaluate(envelope_for("support@acme.example", addr(pair_.buyer_alias)),
                                    *from_seller, ctx());
        EXPECT_EQ(to_buyer.decision, Decision::modify);
        ASSERT_TRUE(to_buyer.edits.body);
        EXPECT_EQ(to_buyer.edits.body->str().find("1234 5678"), std::string::npos);
        EXPECT_EQ(to_buyer.edits.body->str().find("me@private.example"), std::string::npos);
        EXPECT_TRUE(std::any_of(to_buyer.rules.begin(), to_buyer.rules.end(),
                                [](const RuleHit& r) { return r.id == "privacy.redacted"; }));

        Verdict to_seller = evaluate(envelope_for("bob@gmail.example", addr(pair_.seller_alias)),
                                     *from_buyer, ctx());
        EXPECT_EQ(to_seller.decision, Decision::modify);
        EXPECT_FALSE(to_seller.edits.body);
    }
}

// The text of a PDF attachment is judged like a text part, and the refusal's
// audit detail names the file; a PDF whose text cannot be read is delivered
// and the audit says its text was not read.
TEST_F(PolicyTest, PdfTextIsJudgedAndWhatIsNotReadIsAudited) {
    auto committed = load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
    ASSERT_TRUE(committed) << committed.error().message;
    policy_ = **committed;
    auto message_with = [](const std::string& pdf) {
        gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(pdf.data()), pdf.size());
        std::string raw =
            "From: Acme <support@acme.example>\r\nSubject: Spring\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\nHello Bob, see the attached flyer.\r\n--b\r\n"
            "Content-Type: application/pdf; name=\"flyer.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"flyer.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" +
            std::string(b64) + "\r\n--b--\r\n";
        g_free(b64);
        return parse_message(raw);
    };
    const auto env = envelope_for("support@acme.example", addr(pair_.buyer_alias));
    auto coupon = message_with(mm::testing::text_pdf({"Spring sale!\nUse code ABC123 today."}));
    ASSERT_TRUE(coupon);
    Verdict refused = evaluate(env, *coupon, ctx());
    EXPECT_EQ(refused.decision, Decision::reject);
    EXPECT_EQ(refused.smtp_code, "550");
    auto promo = std::find_if(refused.rules.begin(), refused.rules.end(),
                              [](const RuleHit& r) { return r.id == "promo.marketing"; });
    ASSERT_NE(promo, refused.rules.end());
    EXPECT_NE(promo->detail.find("\"flyer.pdf: "), std::string::npos) << promo->detail;

    auto broken = message_with(mm::bench::synthetic_pdf(4096));
    ASSERT_TRUE(broken);
    Verdict delivered = evaluate(env, *broken, ctx());
    EXPECT_EQ(delivered.decision, Decision::modify);
    auto unread = std::find_if(delivered.rules.begin(), delivered.rules.end(),
                               [](const RuleHit& r) { return r.id == "attachment.text"; });
    ASSERT_NE(unread, delivered.rules.end());
    EXPECT_EQ(unread->detail, "part 2 \"flyer.pdf\": text not read: the PDF is damaged");
}

TEST_F(PolicyTest, OnlyAllowedHeadersAndThisPairsAliasesReachTheRecipient) {
    auto env = envelope_for("support@acme.example", addr(pair_.buyer_alias));
    auto msg = parse_message(
        "Received: from mail.acme.example ([192.0.2.7]) by mx.example\r\n"
        "Authentication-Results: mx.example; dkim=pass header.d=acme.example\r\n"
        "DKIM-Signature: v=1; d=acme.example; b=abc\r\n"
        "ARC-Seal: i=1; d=acme.example\r\n"
        "From: Acme Support <support@acme.example>\r\n"
        "To: " +
        addr(pair_.buyer_alias) +
        ", Bob <bob@gmail.example>\r\n"
        "Cc: " +
        addr(other_.buyer_alias) +
        "\r\n"
        "Bcc: boss@acme.example\r\n"
        "Subject: Your order\r\n"
        "List-Unsubscribe: <mailto:unsub@acme.example>\r\n"
        "X-Mailer: Acme Mailer\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Hello Bob\r\n");
    ASSERT_TRUE(msg);
    Verdict v = evaluate(env, *msg, ctx());
    ASSERT_EQ(v.decision, Decision::modify);
    Message out = msg->clone();
    Envelope env_out = env;
    apply_edits(v.edits, out, env_out);
    std::vector<std::string> names;
    for (const auto& h : out.headers) names.push_back(h.name);
    EXPECT_EQ(names,
              (std::vector<std::string>{"From", "To", "Subject", "MIME-Version", "Content-Type"}));
    EXPECT_EQ(*out.find("To"), addr(pair_.buyer_alias));
    const std::string wire = serialize(out);
    EXPECT_EQ(wire.find("acme.example"), std::string::npos) << wire;
    EXPECT_EQ(wire.find("gmail.example"), std::string::npos) << wire;
    EXPECT_EQ(wire.find(other_.buyer_alias), std::string::npos) << wire;

    auto rule = [&](const std::string& id) -> const RuleHit* {
        for (const auto& r : v.rules)
            if (r.id == id) return &r;
        return nullptr;
    };
    ASSERT_TRUE(rule("headers.identity"));
    EXPECT_NE(rule("headers.identity")->detail.find("Received"), std::string::npos);
    ASSERT_TRUE(rule("headers.recipients"));
    EXPECT_EQ(rule("headers.recipients")->detail,
              "removed 2 address(es) from To/Cc (1 in the marketplace domain)");
}

TEST_F(PolicyTest, CleanRecipientHeadersAreLeftAlone) {
    auto env = envelope_for("bob@gmail.example", addr(pair_.seller_alias));
    auto msg = parse_message("From: bob@gmail.example\r\nTo: Acme Store <" +
                             addr(pair_.seller_alias) + ">\r\nSubject: hi\r\n\r\nbody\r\n");
    ASSERT_TRUE(msg);
    Verdict v = evaluate(env, *msg, ctx());
    for (const auto& e : v.edits.headers) EXPECT_NE(e.name, "To");
    for (const auto& r : v.rules) EXPECT_NE(r.id, "headers.recipients");
}

TEST_F(PolicyTest, MailOutsideTheMarketplaceIsAcceptedButLosesForgedAuditHeaders) {
    Envelope env;
    env.sender = "x@a.example";
    env.recipients.push_back({"<y@b.example>", "y@b.example", std::nullopt});
    auto clean = parse_message("From: x@a.example\r\n\r\nhi\r\n");
    ASSERT_TRUE(clean);
    EXPECT_EQ(evaluate(env, *clean, ctx()).decision, Decision::accept);
    auto forged = parse_message("From: x@a.example\r\nX-Marketplace-Audit: x\r\n\r\nhi\r\n");
    ASSERT_TRUE(forged);
    Verdict v = evaluate(env, *forged, ctx());
    EXPECT_EQ(v.decision, Decision::modify);
    ASSERT_EQ(v.edits.headers.size(), 1u);
    EXPECT_EQ(v.edits.headers[0].op, HeaderEdit::Op::remove);
}

// Header planning must stay linear in the number of headers: a message may
// carry 100,000 of them, and a plan that counts the headers once per name
// takes minutes.
TEST_F(PolicyTest, HundredThousandHeadersAreJudged) {
    constexpr int kHeaders = 100000;
    auto env = envelope_for("support@acme.example", addr(pair_.buyer_alias));
    Message msg;
    msg.headers.push_back({"From", "Acme Support <support@acme.example>"});
    msg.headers.push_back({"Subject", "Your order"});
    msg.headers.push_back({"Content-Type", "text/plain; charset=us-ascii"});
    // Distinct names (each removed, forged or passed) and one name repeated.
    const std::string kPrefixes[] = {"X-Junk-", "Received", "X-Marketplace-Forged-",
                                     "Content-Junk-"};
    for (int i = 3; i < kHeaders; ++i) {
        const std::string n = std::to_string(i);
        const std::string& prefix = kPrefixes[i % 4];
        msg.headers.push_back({prefix == "Received" ? prefix : prefix + n, "from host-" + n});
    }
    msg.body = "Track it at https://evil.example/track\r\n";
    EvalContext c = ctx();
    c.store = store_.get();
    c.directory = directory_.get();
    Verdict v = evaluate(env, msg, c);
    ASSERT_EQ(v.decision, Decision::modify) << v.reply_text;
    for (const char* id : {"headers.forged_marketplace", "headers.identity", "links.removed"})
        EXPECT_TRUE(std::any_of(v.rules.begin(), v.rules.end(), [&](const RuleHit& r) {
            return r.id == id;
        })) << id;
    ASSERT_TRUE(v.edits.body);

    Message out = msg.clone();
    Envelope env_out = env;
    apply_edits(v.edits, out, env_out);
    EXPECT_EQ(out.count("From"), 1);
    EXPECT_EQ(out.count("Received"), 0);
    EXPECT_EQ(out.count("Message-ID"), 1);
    for (const auto& h : out.headers) ASSERT_FALSE(h.name.starts_with("X-")) << h.name;
    EXPECT_EQ(out.body.str().find("evil.example"), std::string::npos);
}

TEST(MessageTest, ParseKeepsBodyBytesAndFoldedHeaders) {
    std::string raw =
        "Subject: a\r\n long subject\r\nFrom: x@y.example\r\n\r\nline1\r\n\r\nline3 =C3=A9\r\n";
    auto m = parse_message(raw);
    ASSERT_TRUE(m);
    ASSERT_EQ(m->headers.size(), 2u);
    EXPECT_EQ(m->headers[0].name, "Subject");
    EXPECT_NE(m->headers[0].value.find("long subject"), std::string::npos);
    EXPECT_EQ(m->body.str(), "line1\r\n\r\nline3 =C3=A9\r\n");
}

}  // namespace
}  // namespace mm::policy
