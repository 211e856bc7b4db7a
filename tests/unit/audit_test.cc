// The audit trail: header value + HMAC, JSON line, AuditLog (with reopen for
// logrotate), and the decision names they carry.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "tests/support/test_support.h"
#include "util/hex.h"

namespace mm::milter {
namespace {

using policy::Decision;
using policy::RuleHit;

const std::string kKey = "an audit key of at least thirty-two bytes";
const std::string kOtherKey = "another audit key, also thirty-two bytes";

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

AuditRecord sample_record() {
    AuditRecord r;
    r.audit_id = "0123456789abcdef";
    r.queue_id = "4XbQ1";
    r.client_addr = "192.0.2.7";
    r.decision = Decision::reject;
    r.smtp_reply = "550 5.7.1 links are not allowed (audit 0123456789abcdef)";
    r.rules = {{"links.disallowed", "example.net not allow-listed"}, {"alias.rewrite", "buyer"}};
    r.sender_party = "acme";
    r.recipient_party = "bob";
    r.policy_version = "2026-11-23.1";
    r.size = 12345;
    r.elapsed_us = 678;
    r.milter_us = 91;
    r.milter_cpu_us = 57;
    return r;
}

// ---- decision names and ids ----------------------------------------------

TEST(Decision, Names) {
    EXPECT_STREQ(policy::to_string(Decision::accept), "accept");
    EXPECT_STREQ(policy::to_string(Decision::modify), "modify");
    EXPECT_STREQ(policy::to_string(Decision::reject), "reject");
    EXPECT_STREQ(policy::to_string(Decision::tempfail), "tempfail");
    EXPECT_STREQ(policy::to_string(Decision::quarantine), "quarantine");
}

TEST(AuditId, SixteenRandomHexCharacters) {
    std::string a = new_audit_id();
    std::string b = new_audit_id();
    EXPECT_TRUE(std::regex_match(a, std::regex("[0-9a-f]{16}"))) << a;
    EXPECT_NE(a, b);
}

// ---- HMAC ----------------------------------------------------------------

// RFC 4231 test cases 1 and 2, alternating keys: the keyed context is cached
// per key and must follow a key change (a reload) both ways.
TEST(HmacSha256, KnownAnswersAcrossKeyChanges) {
    const std::string key1(20, '\x0b');
    const char* mac1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    const char* mac2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(hmac_sha256_hex(key1, "Hi There"), mac1);
        EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"), mac2);
    }
}

// ---- header value --------------------------------------------------------

TEST(AuditHeader, FormatAndHmac) {
    std::string v = audit_header_value("0123456789abcdef", Decision::modify,
                                       {{"alias.rewrite", "x"}, {"headers.removed", "y"}},
                                       "2026-11-23.1", kKey);
    const std::string signed_part =
        "id=0123456789abcdef; decision=modify; rules=alias.rewrite,headers.removed; "
        "policy=2026-11-23.1";
    EXPECT_EQ(v, signed_part + "; hmac=" + hmac_sha256_hex(kKey, signed_part));
    EXPECT_TRUE(verify_audit_header(v, kKey));
}

TEST(AuditHeader, NoRulesIsNone) {
    std::string v = audit_header_value("0123456789abcdef", Decision::accept, {}, "v1", kKey);
    EXPECT_TRUE(v.starts_with("id=0123456789abcdef; decision=accept; rules=none; policy=v1; hmac="))
        << v;
    EXPECT_TRUE(verify_audit_header(v, kKey));
}

TEST(AuditHeader, SurroundingWhiteSpaceIsTolerated) {
    std::string v = audit_header_value("0123456789abcdef", Decision::accept, {}, "v1", kKey);
    EXPECT_TRUE(verify_audit_header(" " + v + "\r\n", kKey));
}

TEST(AuditHeader, HostileFieldsCannotInjectHeadersAndStillVerify) {
    std::string v = audit_header_value("id\r\nBcc: x@evil.example", Decision::reject,
                                       {{"a,b;c d", ""}, {"\xff", ""}}, "v1; hmac=00\n", kKey);
    EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << v;
    EXPECT_TRUE(
        v.starts_with("id=id__Bcc:_x@evil.example; decision=reject; rules=a_b_c_d,_; "
                      "policy=v1__hmac=00_; hmac="))
        << v;
    EXPECT_TRUE(verify_audit_header(v, kKey));
}

TEST(AuditHeader, AnotherKeyFails) {
    std::string v = audit_header_value("0123456789abcdef", Decision::accept, {}, "v1", kKey);
    EXPECT_FALSE(verify_audit_header(v, kOtherKey));
    EXPECT_FALSE(verify_audit_header(v, ""));
}

// Each row alters one part of a genuine header; none may verify.
struct Tamper {
    const char* name;
    std::string from;
    std::string to;
};
void PrintTo(const Tamper& t, std::ostream* os) {
    *os << t.name;
}

class AuditHeaderTamperTest : public ::testing::TestWithParam<Tamper> {};

TEST_P(AuditHeaderTamperTest, AlteredHeaderFails) {
    std::string v = audit_header_value("0123456789abcdef", Decision::reject,
                                       {{"links.disallowed", "d"}}, "2026-11-23.1", kKey);
    ASSERT_TRUE(verify_audit_header(v, kKey));
    const Tamper& t = GetParam();
    auto pos = v.find(t.from);
    ASSERT_NE(pos, std::string::npos) << t.from << " not in " << v;
    std::string forged = v;
    forged.replace(pos, t.from.size(), t.to);
    EXPECT_FALSE(verify_audit_header(forged, kKey)) << forged;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, AuditHeaderTamperTest,
    ::testing::Values(Tamper{"Id", "id=0123456789abcdef", "id=0123456789abcdee"},
                      Tamper{"Decision", "decision=reject", "decision=accept"},
                      Tamper{"Rules", "rules=links.disallowed", "rules=none"},
                      Tamper{"RuleAdded", "rules=links.disallowed", "rules=links.disallowed,x"},
                      Tamper{"Policy", "policy=2026-11-23.1", "policy=2026-11-23.2"},
                      Tamper{"HmacTruncated", "; hmac=", "; hmac=0"},
                      Tamper{"HmacRemoved", "; hmac=", "; mac="},
                      Tamper{"FieldSeparator", "; decision", ";decision"},
                      Tamper{"ExtraField", "; hmac=", "; extra=1; hmac="}));

TEST(AuditHeader, EveryHmacDigitMatters) {
    std::string v = audit_header_value("0123456789abcdef", Decision::accept, {}, "v1", kKey);
    const size_t start = v.rfind('=') + 1;
    ASSERT_EQ(v.size() - start, 64u);
    for (size_t i = start; i < v.size(); ++i) {
        std::string forged = v;
        forged[i] = forged[i] == '0' ? '1' : '0';
        EXPECT_FALSE(verify_audit_header(forged, kKey)) << i;
    }
    std::string upper = v;
    for (size_t i = start; i < upper.size(); ++i)
        upper[i] = static_cast<char>(std::toupper(upper[i]));
    if (upper != v) {
        EXPECT_FALSE(verify_audit_header(upper, kKey));
    }
}

TEST(AuditHeader, GarbageDoesNotVerify) {
    EXPECT_FALSE(verify_audit_header("", kKey));
    EXPECT_FALSE(verify_audit_header("hmac=", kKey));
    EXPECT_FALSE(verify_audit_header("; hmac=" + std::string(64, '0'), kKey));
    // A correct HMAC over text that is not an audit header is still refused.
    const std::string text = "id=x; decision=maybe; rules=none; policy=v1";
    EXPECT_FALSE(verify_audit_header(text + "; hmac=" + hmac_sha256_hex(kKey, text), kKey));
}

// ---- JSON line -----------------------------------------------------------

TEST(AuditJson, HoldsEveryFieldInOrderOnOneLine) {
    std::string line = audit_json_line(sample_record());
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(line.back(), ' ');
    EXPECT_EQ(line.find(": "), std::string::npos) << "compact output expected: " << line;

    auto j = nlohmann::ordered_json::parse(line);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"time", "audit_id", "queue_id", "client", "decision",
                                              "reply", "rules", "sender_party", "recipient_party",
                                              "policy", "size", "elapsed_us", "milter_us",
                                              "milter_cpu_us"}));
    EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << j["time"];
    EXPECT_EQ(j["audit_id"], "0123456789abcdef");
    EXPECT_EQ(j["queue_id"], "4XbQ1");
    EXPECT_EQ(j["client"], "192.0.2.7");
    EXPECT_EQ(j["decision"], "reject");
    EXPECT_EQ(j["reply"], "550 5.7.1 links are not allowed (audit 0123456789abcdef)");
    ASSERT_EQ(j["rules"].size(), 2u);
    EXPECT_EQ(j["rules"][0]["id"], "links.disallowed");
    EXPECT_EQ(j["rules"][0]["detail"], "example.net not allow-listed");
    EXPECT_EQ(j["rules"][1]["id"], "alias.rewrite");
    EXPECT_EQ(j["rules"][1]["detail"], "buyer");
    EXPECT_EQ(j["sender_party"], "acme");
    EXPECT_EQ(j["recipient_party"], "bob");
    EXPECT_EQ(j["policy"], "2026-11-23.1");
    EXPECT_EQ(j["size"], 12345);
    EXPECT_EQ(j["elapsed_us"], 678);
    EXPECT_EQ(j["milter_us"], 91);
    EXPECT_EQ(j["milter_cpu_us"], 57);
}

TEST(AuditJson, NoRulesIsAnEmptyArray) {
    AuditRecord r;
    auto j = nlohmann::json::parse(audit_json_line(r));
    EXPECT_TRUE(j["rules"].is_array());
    EXPECT_TRUE(j["rules"].empty());
    EXPECT_EQ(j["decision"], "tempfail");
}

TEST(AuditJson, HostileInputStaysOneParsableLine) {
    AuditRecord r = sample_record();
    r.queue_id = "4XbQ1\n{\"forged\":true}";
    r.client_addr = std::string("bad\xff\xfe\xc3(utf8\r\n", 13);
    r.smtp_reply = std::string("nul\0byte \"quoted\" \\ \t tab", 25);
    r.rules = {{"rule\n2", "\xe2\x82"}, {"ok", "caf\xc3\xa9"}};
    std::string line;
    ASSERT_NO_THROW(line = audit_json_line(r));
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_NE(line.back(), ' ');

    auto j = nlohmann::json::parse(line);  // valid UTF-8 JSON, or this throws
    EXPECT_EQ(j["queue_id"], "4XbQ1\n{\"forged\":true}");
    EXPECT_EQ(j.size(), 14u);
    const std::string client = j["client"];
    EXPECT_TRUE(client.starts_with("bad\xef\xbf\xbd")) << client;  // U+FFFD
    EXPECT_TRUE(client.ends_with("(utf8\r\n")) << client;
    EXPECT_EQ(j["reply"], std::string("nul\0byte \"quoted\" \\ \t tab", 25));
    EXPECT_EQ(j["rules"][0]["id"], "rule\n2");
    EXPECT_EQ(j["rules"][1]["detail"], "caf\xc3\xa9");
}

// ---- AuditLog ------------------------------------------------------------

class AuditLogTest : public ::testing::Test {
protected:
    mm::testing::TempDir dir_;
};

TEST_F(AuditLogTest, WritesOneLinePerRecordWithPrivatePermissions) {
    std::string path = dir_.file("audit.log");
    {
        auto log = AuditLog::open(path);
        ASSERT_TRUE(log) << log.error().message;
        AuditRecord r = sample_record();
        (*log)->write(r);
        r.audit_id = "fedcba9876543210";
        (*log)->write(r);
        // Flushed after each line: visible before the log is closed.
        EXPECT_EQ(read_lines(path).size(), 2u);
    }
    auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["audit_id"], "0123456789abcdef");
    EXPECT_EQ(nlohmann::json::parse(lines[1])["audit_id"], "fedcba9876543210");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0007, 0u) << "audit log must not be world-accessible";
    EXPECT_EQ(st.st_mode & 0200, 0200u);
}

TEST_F(AuditLogTest, AppendsToAnExistingFile) {
    std::string path = dir_.file("audit.log");
    { std::ofstream(path) << "earlier line\n"; }
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log) << log.error().message;
    (*log)->write(sample_record());
    auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "earlier line");
}

TEST_F(AuditLogTest, ReopenAfterRenameWritesToANewFile) {
    std::string path = dir_.file("audit.log");
    std::string rotated = dir_.file("audit.log.1");
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log) << log.error().message;
    (*log)->write(sample_record());
    std::filesystem::rename(path, rotated);  // logrotate moves the file away
    (*log)->write(sample_record());          // still goes to the open (renamed) file
    ASSERT_TRUE((*log)->reopen());           // SIGUSR1
    (*log)->write(sample_record());
    EXPECT_EQ(read_lines(rotated).size(), 2u);
    EXPECT_EQ(read_lines(path).size(), 1u);
}

TEST_F(AuditLogTest, FailedReopenKeepsTheOldFile) {
    std::filesystem::create_directory(dir_.file("logs"));
    std::string path = dir_.file("logs/audit.log");
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log) << log.error().message;
    std::filesystem::rename(dir_.file("logs"), dir_.file("gone"));
    auto reopened = (*log)->reopen();
    ASSERT_FALSE(reopened);
    EXPECT_EQ(reopened.error().code, Errc::unavailable);
    EXPECT_EQ(reopened.error().message, "audit log " + path + ": No such file or directory");
    (*log)->write(sample_record());
    EXPECT_EQ(read_lines(dir_.file("gone/audit.log")).size(), 1u);
}

TEST_F(AuditLogTest, OpenFailureIsUnavailable) {
    std::string path = dir_.file("no/such/dir/audit.log");
    auto log = AuditLog::open(path);
    ASSERT_FALSE(log);
    EXPECT_EQ(log.error().code, Errc::unavailable);
    EXPECT_EQ(log.error().message, "audit log " + path + ": No such file or directory");
}

TEST_F(AuditLogTest, DashWritesToStdoutAndNeverClosesIt) {
    ::testing::internal::CaptureStdout();
    {
        auto log = AuditLog::open("-");
        ASSERT_TRUE(log) << log.error().message;
        (*log)->write(sample_record());
        EXPECT_TRUE((*log)->reopen());
    }
    std::string out = ::testing::internal::GetCapturedStdout();
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back(), '\n');
    EXPECT_EQ(out.find('\n'), out.size() - 1);
    EXPECT_EQ(nlohmann::json::parse(out)["audit_id"], "0123456789abcdef");
    EXPECT_NE(std::fprintf(stdout, "%s", ""), -1);  // stdout still open
}

TEST_F(AuditLogTest, ConcurrentWritersNeverInterleaveLines) {
    std::string path = dir_.file("audit.log");
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log) << log.error().message;
    AuditLog& audit = **log;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&audit, t] {
            AuditRecord r = sample_record();
            r.queue_id = "thread" + std::to_string(t);
            r.smtp_reply = std::string(2000, static_cast<char>('a' + t));
            for (int i = 0; i < 100; ++i) audit.write(r);
        });
    }
    for (auto& th : threads) th.join();
    auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 800u);
    for (const auto& line : lines) {
        auto j = nlohmann::json::parse(line);
        const std::string q = j["queue_id"];
        EXPECT_EQ(j["reply"], std::string(2000, static_cast<char>('a' + (q.back() - '0'))));
    }
}

}  // namespace
}  // namespace mm::milter
