// Authentication-Results read by RFC 8601's grammar, and judged against the
// trusted authserv-ids and the party's domain (authentication_results.h).
#include "policy/rewrite/authentication_results.h"

#include <gtest/gtest.h>

namespace mm::policy {
namespace {

TEST(AuthenticationResults, ReadsWhatOpenDkimAndSpfWrite) {
    auto r = parse_authentication_results(
        "mx.marketplace.example;\r\n\tdkim=pass (2048-bit key; unprotected) "
        "header.d=acme.example header.i=@acme.example header.b=\"ab+cd\";\r\n"
        "\tspf=pass (mx.marketplace.example: domain of support@acme.example designates "
        "192.0.2.7 as permitted sender) smtp.mailfrom=support@acme.example");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->authserv_id, "mx.marketplace.example");
    ASSERT_EQ(r->results.size(), 2u);
    EXPECT_EQ(r->results[0].method, "dkim");
    EXPECT_EQ(r->results[0].result, "pass");
    ASSERT_NE(r->results[0].property("header.d"), nullptr);
    EXPECT_EQ(*r->results[0].property("header.d"), "acme.example");
    EXPECT_EQ(*r->results[0].property("header.i"), "@acme.example");
    EXPECT_EQ(*r->results[0].property("header.b"), "ab+cd");
    EXPECT_EQ(r->results[1].method, "spf");
    EXPECT_EQ(*r->results[1].property("smtp.mailfrom"), "support@acme.example");
}

TEST(AuthenticationResults, VersionsReasonsSpacingAndNone) {
    auto r = parse_authentication_results(
        "\"mx.example\" 1; dkim/1 = pass reason=\"good sig\" header . d = acme.example; "
        "dmarc=fail header.from=acme.example;");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->authserv_id, "mx.example");
    ASSERT_EQ(r->results.size(), 2u);
    EXPECT_EQ(r->results[0].method, "dkim");
    EXPECT_EQ(*r->results[0].property("header.d"), "acme.example");
    EXPECT_EQ(r->results[1].result, "fail");
    auto none = parse_authentication_results("mx.example (no checks); none");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->results.empty());
}

// What a comment or a quoted string says is not a result.
TEST(AuthenticationResults, CommentsAndQuotesAreNotResults) {
    auto r = parse_authentication_results(
        "mx.example; spf=fail (dkim=pass header.d=acme.example) "
        "smtp.mailfrom=\"dkim=pass\"@evil.example");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->results.size(), 1u);
    EXPECT_EQ(r->results[0].method, "spf");
    EXPECT_EQ(r->results[0].result, "fail");
    EXPECT_EQ(*r->results[0].property("smtp.mailfrom"), "dkim=pass@evil.example");
}

TEST(AuthenticationResults, BrokenFieldsAreNotRead) {
    for (const char* v : {"", ";", "mx.example; dkim", "mx.example; dkim=pass header.d",
                          "mx.example; dkim=pass (unclosed comment", "mx.example; dkim=\"pass\"",
                          "mx.example dkim=pass", "mx.example; none; dkim=pass",
                          "mx.example; dkim=pass nodot=acme.example", "mx.example; =pass"})
        EXPECT_FALSE(parse_authentication_results(v)) << v;
}

TEST(AuthenticationResults, OrganizationalDomainByPublicSuffix) {
    EXPECT_EQ(organizational_domain("mail.acme.co.uk"), "acme.co.uk");
    EXPECT_EQ(organizational_domain("Bounce.Acme.Example."), "acme.example");
    EXPECT_EQ(organizational_domain("co.uk"), "co.uk");
}

class JudgeAuthentication : public ::testing::Test {
protected:
    SenderAuthentication judge(const std::vector<std::string>& fields, const char* domain) {
        Message m;
        m.headers.push_back({"Received", "from x by y"});
        for (const auto& f : fields) m.headers.push_back({"Authentication-Results", f});
        return judge_authentication(m, policy_, domain);
    }
    AuthenticationPolicy policy_{
        {"mx.marketplace.example"}, true, AuthenticationPolicy::Action::reject};
};

TEST_F(JudgeAuthentication, AlignedDkimOrSpfPassFromTheTrustedId) {
    auto dkim =
        judge({"mx.marketplace.example; dkim=pass header.d=mail.acme.example"}, "acme.example");
    EXPECT_EQ(dkim.aligned_pass, "dkim mail.acme.example");
    EXPECT_TRUE(dkim.untrusted.empty());
    auto spf = judge({"MX.Marketplace.Example; spf=pass smtp.mailfrom=bounce@acme.example"},
                     "mail.acme.example");
    EXPECT_EQ(spf.aligned_pass, "spf acme.example");
}

TEST_F(JudgeAuthentication, ForgedAndUnalignedPassesDoNotCount) {
    auto r = judge({"mx.evil.example; dkim=pass header.d=acme.example",         // forged id
                    "mx.marketplace.example; dkim=pass header.d=evil.example",  // other domain
                    "mx.marketplace.example; spf=softfail smtp.mailfrom=acme.example",
                    "mx.marketplace.example; dkim=pass (header.d=acme.example)",
                    "mx.marketplace.example; dkim=pass header.d=acme.example.evil.example",
                    "mx.marketplace.example (dkim=pass header.d=acme.example"},  // broken
                   "acme.example");
    EXPECT_TRUE(r.aligned_pass.empty()) << r.aligned_pass;
    EXPECT_EQ(r.untrusted, (std::vector<int>{1, 6}));
    EXPECT_EQ(r.trusted, 4);
}

}  // namespace
}  // namespace mm::policy
