// `marketplace-milter audit verify` (cli/cli_audit.cc) on message files as a
// recipient keeps them (LF line ends): a genuine header verifies, one copied
// onto another body, Message-ID or recipient does not, nor one whose decision
// was altered; exit 0 valid, 1 invalid, 2 unreadable.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/audit_binding.h"
#include "cli/cli.h"
#include "policy/message.h"
#include "tests/support/test_support.h"

namespace mm::milter {
namespace {

using policy::Decision;

const std::string kKey = "0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kHeaders =
    "Received: by mx.marketplace.example\n"
    "From: Acme Store <0f3c5a1b2d4e6f70@marketplace.example>\n"
    "To: <9a8b7c6d5e4f3a2b@marketplace.example>\n"
    "Subject: Your order\n"
    "Date: Mon, 23 Nov 2026 12:00:00 +0000\n"
    "Message-ID: <m-1@marketplace.example>\n";
const std::string kBody = "Your parcel is on its way.\n\nAcme\n";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

struct Verified {
    int rc = -1;
    std::string out;
};

class AuditVerifyTest : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(dir_.file("hmac.key"), kKey + "\n");
        ::chmod(dir_.file("hmac.key").c_str(), 0600);
        write_file(config(),
                   "domain: marketplace.example\npolicy: policy.yaml\nstore: {path: store.db}\n"
                   "audit_log: audit.log\nhmac_key_file: hmac.key\n");
    }
    std::string config() const { return dir_.file("marketplace-milter.yaml"); }

    // The header the filter would have added for this message to `rcpt`.
    static std::string issue(const std::string& headers, const std::string& body,
                             const std::string& rcpt, Decision decision = Decision::modify) {
        policy::Message m = policy::parse_message(headers + "\n" + body).value();
        const BoundFields bound = bound_fields(m.headers, {rcpt}, m.body);
        return audit_header_value("0123456789abcdef", decision, {{"alias.rewrite", ""}},
                                  "2026-11-23.1", bound, kKey);
    }
    // The message as delivered: the audit header on top.
    std::string delivered(const std::string& header, const std::string& headers = kHeaders,
                          const std::string& body = kBody) {
        const std::string path = dir_.file("message-" + std::to_string(++files_) + ".eml");
        write_file(path, "X-Marketplace-Audit: " + header + "\n" + headers + "\n" + body);
        return path;
    }
    Verified verify(const std::string& path, std::vector<std::string> rcpts = {}, bool json = false,
                    const std::string& config_path = "") {
        ::testing::internal::CaptureStdout();
        Verified r;
        r.rc = cmd_audit_verify(config_path.empty() ? config() : config_path,
                                {std::move(rcpts), json, path});
        r.out = ::testing::internal::GetCapturedStdout();
        return r;
    }

    mm::testing::TempDir dir_;
    int files_ = 0;
};

TEST_F(AuditVerifyTest, TheMessageAsDeliveredVerifies) {
    const std::string path = delivered(issue(kHeaders, kBody, "bob@gmail.example"));
    Verified r = verify(path, {"Bob@Gmail.example"});
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_NE(r.out.find("  hmac   ok\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  msgid  ok       <m-1@marketplace.example>\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  rcpt   ok       bob@gmail.example (from --rcpt)\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  date   ok       Mon, 23 Nov 2026 12:00:00 +0000\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("  body   ok       sha256 "), std::string::npos) << r.out;
    EXPECT_TRUE(r.out.ends_with("\nvalid\n")) << r.out;
}

TEST_F(AuditVerifyTest, TheRecipientComesFromDeliveredToWithoutRcpt) {
    const std::string headers = "Delivered-To: bob@gmail.example\n" + kHeaders;
    Verified r = verify(delivered(issue(headers, kBody, "bob@gmail.example"), headers));
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_NE(r.out.find("bob@gmail.example (from Delivered-To)"), std::string::npos) << r.out;
    // To: names the alias, not the envelope recipient: no match from it alone.
    Verified to_only = verify(delivered(issue(kHeaders, kBody, "bob@gmail.example")));
    EXPECT_EQ(to_only.rc, 1) << to_only.out;
    EXPECT_NE(to_only.out.find("  rcpt   mismatch 9a8b7c6d5e4f3a2b@marketplace.example (from To)"),
              std::string::npos)
        << to_only.out;
}

TEST_F(AuditVerifyTest, OneBodyByteChangedIsInvalid) {
    std::string body = kBody;
    body[body.find("parcel")] = 'P';
    Verified r = verify(delivered(issue(kHeaders, kBody, "bob@gmail.example"), kHeaders, body),
                        {"bob@gmail.example"});
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("  hmac   ok\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  body   mismatch sha256 "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  msgid  ok "), std::string::npos) << r.out;
    EXPECT_TRUE(r.out.ends_with("\ninvalid\n")) << r.out;
}

TEST_F(AuditVerifyTest, CopiedOntoAnotherMessageOrRecipientIsInvalid) {
    const std::string header = issue(kHeaders, kBody, "bob@gmail.example");
    std::string other_id = kHeaders;
    other_id.replace(other_id.find("m-1@"), 4, "m-2@");
    Verified r = verify(delivered(header, other_id), {"bob@gmail.example"});
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("  msgid  mismatch <m-2@marketplace.example>"), std::string::npos)
        << r.out;
    Verified carol = verify(delivered(header), {"carol@gmail.example"});
    EXPECT_EQ(carol.rc, 1) << carol.out;
    EXPECT_NE(carol.out.find("  rcpt   mismatch carol@gmail.example"), std::string::npos)
        << carol.out;
}

TEST_F(AuditVerifyTest, AlteredDecisionIsInvalid) {
    std::string header = issue(kHeaders, kBody, "bob@gmail.example", Decision::quarantine);
    header.replace(header.find("decision=quarantine"), 19, "decision=accept");
    Verified r = verify(delivered(header), {"bob@gmail.example"});
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("  hmac   mismatch\n"), std::string::npos) << r.out;
}

TEST_F(AuditVerifyTest, JsonNamesEveryCheck) {
    Verified r =
        verify(delivered(issue(kHeaders, kBody, "bob@gmail.example")), {"bob@gmail.example"}, true);
    EXPECT_EQ(r.rc, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["valid"], true);
    EXPECT_EQ(j["hmac"], true);
    EXPECT_EQ(j["audit_id"], "0123456789abcdef");
    EXPECT_EQ(j["decision"], "modify");
    ASSERT_EQ(j["fields"].size(), 4u);
    EXPECT_EQ(j["fields"][1]["field"], "rcpt");
    EXPECT_EQ(j["fields"][1]["source"], "--rcpt");
    for (const auto& f : j["fields"]) EXPECT_EQ(f["ok"], true) << f;
}

TEST_F(AuditVerifyTest, WhatCannotBeReadIsExitTwo) {
    EXPECT_EQ(verify(dir_.file("no-such.eml"), {"bob@gmail.example"}).rc, 2);
    const std::string unsigned_path = dir_.file("unsigned.eml");
    write_file(unsigned_path, kHeaders + "\n" + kBody);
    EXPECT_EQ(verify(unsigned_path, {"bob@gmail.example"}).rc, 2);
    const std::string path = delivered(issue(kHeaders, kBody, "bob@gmail.example"));
    EXPECT_EQ(verify(path, {"bob@gmail.example"}, false, dir_.file("missing.yaml")).rc, 2);
    // Malformed is no header of ours: exit 1, as any other invalid one.
    Verified r = verify(delivered("id=x; decision=accept"), {"bob@gmail.example"});
    EXPECT_EQ(r.rc, 1) << r.out;
    EXPECT_NE(r.out.find("  form   malformed\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mm::milter
