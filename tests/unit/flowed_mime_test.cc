// format=flowed text parts judged as their reader joins them (issue 14):
// inspect_content() on such parts, and evaluate() under etc/policy.yaml on
// the bribe and the address that only the joined lines show.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "policy/evaluate.h"
#include "policy/mime/mime_inspect.h"
#include "tests/support/evaluate_fixture.h"
#include "tests/support/mime_inspect_fixture.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

std::string flowed_part(const std::string& params, const std::string& body,
                        const std::string& encoding = "8bit") {
    return "--b1\r\nContent-Type: text/plain; charset=utf-8; format=flowed" + params +
           "\r\nContent-Transfer-Encoding: " + encoding + "\r\n\r\n" + body + "\r\n";
}

class FlowedInspectTest : public inspect_testing::InspectTest {};

TEST_F(FlowedInspectTest, JoinedTextIsJudgedAndUnchangedPartKeepsItsBytes) {
    auto f = inspect(mixed(flowed_part("; delsp=yes", "Your par \r\ncel ships to \r\nday.")));
    EXPECT_FALSE(f.new_body);
    ASSERT_EQ(f.texts.size(), 1u);
    EXPECT_EQ(f.texts[0], "Your parcel ships today.");
}

TEST_F(FlowedInspectTest, SplitAddressIsRedactedAndThePartWrittenUnflowed) {
    policy_.redact.seller_to_buyer = true;
    auto f = inspect(mixed(flowed_part("; DelSp=Yes",
                                       "Write to me: john.smith@gm \r\nail.com  \r\n"
                                       "or reply  \r\nhere.\r\n> Quoted  \r\n> text")));
    ASSERT_EQ(f.redactions.size(), 1u);
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("john.smith"), std::string::npos) << body;
    EXPECT_EQ(body.find("ormat=flowed"), std::string::npos) << body;
    EXPECT_EQ(body.find("DelSp"), std::string::npos) << body;
    EXPECT_NE(body.find("charset="), std::string::npos) << body;
    EXPECT_NE(body.find("Write to me: [redacted] or reply here.\r\n> Quoted text\r\n"),
              std::string::npos)
        << body;
}

TEST_F(FlowedInspectTest, SplitLinkIsCutFromTheJoinedText) {
    auto f = inspect(mixed(flowed_part(
        "; delsp=yes", "Deals at https://shop-else \r\nwhere.example/de \r\nal today.")));
    EXPECT_EQ(f.links_removed, 1);
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("shop-else"), std::string::npos) << body;
    EXPECT_EQ(body.find("where.example"), std::string::npos) << body;
    EXPECT_EQ(body.find("format=flowed"), std::string::npos) << body;
}

// DelSp=no: the space stays, so the words are read as the reader sees them
// and a split address stays two words.
TEST_F(FlowedInspectTest, DelSpNoKeepsTheSpaceBetweenTheLines) {
    auto f = inspect(mixed(flowed_part("", "Leave us a \r\nreview.\r\n")));
    EXPECT_FALSE(f.new_body);
    ASSERT_EQ(f.texts.size(), 1u);
    EXPECT_EQ(f.texts[0], "Leave us a review.\r\n");
}

// Joined lines longer than 8bit allows: the rewritten part is encoded.
TEST_F(FlowedInspectTest, LongJoinedLinesAreEncoded) {
    policy_.redact.seller_to_buyer = true;
    std::string body = "Mail me at john.smith@gm \r\nail.com \r\n";
    for (int i = 0; i < 300; ++i) body += "more words \r\n";
    body += "end.";
    auto f = inspect(mixed(flowed_part("; delsp=yes", body)));
    ASSERT_TRUE(f.new_body);
    const std::string out = f.new_body->str();
    EXPECT_NE(out.find("Content-Transfer-Encoding: quoted-printable"), std::string::npos) << out;
    std::size_t longest = 0;
    for (std::size_t b = 0, e; b < out.size(); b = e + 1) {
        e = out.find('\n', b);
        if (e == std::string::npos) e = out.size();
        longest = std::max(longest, e - b);
    }
    EXPECT_LE(longest, 998u);
}

class FlowedEvaluateTest : public evaluate_testing::PolicyTest {
protected:
    void SetUp() override {
        PolicyTest::SetUp();
        auto committed = load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
        ASSERT_TRUE(committed) << committed.error().message;
        policy_ = **committed;
    }
    Verdict seller_sends(const std::string& body) {
        auto msg = parse_message(
            "From: Acme <support@acme.example>\r\nSubject: About your order\r\nMIME-Version: "
            "1.0\r\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" +
            body);
        EXPECT_TRUE(msg);
        return evaluate(envelope_for("support@acme.example", addr(pair_.buyer_alias)), *msg, ctx());
    }
    static bool has_rule(const Verdict& v, const std::string& id) {
        return std::any_of(v.rules.begin(), v.rules.end(),
                           [&](const RuleHit& r) { return r.id == id; });
    }
};

TEST_F(FlowedEvaluateTest, BribeSplitOverFlowedLinesIsRefused) {
    Verdict v = seller_sends("Leave us a rev \r\niew and we send you a gi \r\nft card.\r\n");
    EXPECT_EQ(v.decision, Decision::reject);
    EXPECT_EQ(v.smtp_code, "550");
    EXPECT_TRUE(has_rule(v, "review.compensation"));
}

TEST_F(FlowedEvaluateTest, AddressSplitOverFlowedLinesIsRedacted) {
    Verdict v = seller_sends("Write to me: john.smith@gm \r\nail.com\r\n");
    EXPECT_EQ(v.decision, Decision::modify);
    EXPECT_TRUE(has_rule(v, "privacy.redacted"));
    ASSERT_TRUE(v.edits.body);
    EXPECT_EQ(v.edits.body->str().find("john.smith"), std::string::npos) << v.edits.body->str();
    // The top part's Content-Type is a header of the message: it loses
    // format=flowed there.
    bool content_type_edited = false;
    for (const auto& e : v.edits.headers)
        if (iequals(e.name, "Content-Type")) {
            content_type_edited = true;
            EXPECT_EQ(e.value.find("flowed"), std::string::npos) << e.value;
        }
    EXPECT_TRUE(content_type_edited);
}

}  // namespace
}  // namespace mm::policy
