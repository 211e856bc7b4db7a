// authorize_recipient(): which recipients of a transaction are ours, who may
// write to an alias, and transactions that mix pairs or mix ours with
// others, against a real SQLite store in a temp dir.
#include <gtest/gtest.h>

#include <string>

#include "policy/authorize.h"
#include "tests/support/evaluate_fixture.h"

namespace mm::policy {
namespace {

using evaluate_testing::kDomain;
using evaluate_testing::PolicyTest;

TEST_F(PolicyTest, RecipientOutsideDomainIsNotOurs) {
    EXPECT_EQ(rcpt("support@acme.example", "someone@elsewhere.example").kind,
              RcptOutcome::Kind::not_ours);
}

TEST_F(PolicyTest, UnknownAliasIs550_511) {
    auto out = rcpt("support@acme.example", addr("0123456789abcdef"));
    EXPECT_EQ(out.kind, RcptOutcome::Kind::unknown_alias);
    EXPECT_EQ(out.smtp_code, "550");
    EXPECT_EQ(out.enhanced_code, "5.1.1");
    EXPECT_EQ(out.rule.id, "rcpt.unknown_alias");
    EXPECT_EQ(rcpt("support@acme.example", addr("postmaster")).kind,
              RcptOutcome::Kind::unknown_alias);
}

TEST_F(PolicyTest, CounterpartMayWriteFromAnyApprovedAddressCaseInsensitively) {
    EXPECT_EQ(rcpt("support@acme.example", addr(pair_.buyer_alias)).kind,
              RcptOutcome::Kind::accepted);
    EXPECT_EQ(rcpt("orders@acme.example", addr(pair_.buyer_alias)).kind,
              RcptOutcome::Kind::accepted);
    auto upper = authorize_recipient(*directory_, kDomain, "support@acme.example",
                                     "<" + to_upper_alias() + "@MARKETPLACE.EXAMPLE>", {});
    EXPECT_EQ(upper.kind, RcptOutcome::Kind::accepted);
    EXPECT_EQ(rcpt("bob@gmail.example", addr(pair_.seller_alias)).kind,
              RcptOutcome::Kind::accepted);
}

TEST_F(PolicyTest, WrongSenderIs550_571) {
    // Bob may not write to his own alias, and a stranger may not write at all.
    for (const auto& sender : {"bob@gmail.example", "mallory@evil.example"}) {
        auto out = rcpt(sender, addr(pair_.buyer_alias));
        EXPECT_EQ(out.kind, RcptOutcome::Kind::wrong_sender) << sender;
        EXPECT_EQ(out.smtp_code, "550");
        EXPECT_EQ(out.enhanced_code, "5.7.1");
    }
}

TEST_F(PolicyTest, SecondPairInOneTransactionIs452_453) {
    auto out = rcpt("support@acme.example", addr(other_.buyer_alias), pair_.id);
    EXPECT_EQ(out.kind, RcptOutcome::Kind::other_pair);
    EXPECT_EQ(out.smtp_code, "452");
    EXPECT_EQ(out.enhanced_code, "4.5.3");
    // The same pair again is fine.
    EXPECT_EQ(rcpt("support@acme.example", addr(pair_.buyer_alias), pair_.id).kind,
              RcptOutcome::Kind::accepted);
}

TEST_F(PolicyTest, MixedTransactionDefersTheLaterRecipient) {
    for (bool alias_first : {true, false}) {
        RcptStage stage(*directory_, kDomain, MixedRecipients::separate);
        Envelope env;
        env.sender = "support@acme.example";
        const std::string alias = "<" + addr(pair_.buyer_alias) + ">";
        const std::string outside = "<crm@acme-tools.example>";
        auto first = stage.add(env, alias_first ? alias : outside);
        auto second = stage.add(env, alias_first ? outside : alias);
        EXPECT_NE(first.kind, RcptOutcome::Kind::mixed);
        EXPECT_EQ(second.kind, RcptOutcome::Kind::mixed);
        EXPECT_EQ(second.smtp_code, "452");
        EXPECT_EQ(second.enhanced_code, "4.5.3");
        EXPECT_EQ(second.rule.id, "rcpt.mixed");
        ASSERT_EQ(env.recipients.size(), 1u);  // the refused one is not in the envelope
        EXPECT_EQ(env.recipients[0].raw, alias_first ? alias : outside);
    }
}

TEST_F(PolicyTest, MixedTransactionCanBeRefusedAndOutsideOnlyIsFine) {
    RcptStage stage(*directory_, kDomain, MixedRecipients::refuse);
    Envelope env;
    env.sender = "support@acme.example";
    EXPECT_EQ(stage.add(env, "<a@elsewhere.example>").kind, RcptOutcome::Kind::not_ours);
    EXPECT_EQ(stage.add(env, "<b@elsewhere.example>").kind, RcptOutcome::Kind::not_ours);
    auto out = stage.add(env, "<" + addr(pair_.buyer_alias) + ">");
    EXPECT_EQ(out.kind, RcptOutcome::Kind::mixed);
    EXPECT_EQ(out.smtp_code, "550");
    EXPECT_EQ(out.enhanced_code, "5.7.1");
    EXPECT_EQ(env.recipients.size(), 2u);
}

}  // namespace
}  // namespace mm::policy
