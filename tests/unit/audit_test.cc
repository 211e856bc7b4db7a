// The audit trail: header value + HMAC and its binding to the delivered
// message, JSON line, AuditLog (with reopen for logrotate, and its failure
// spells), and the decision names they carry.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "audit/audit_line.h"
#include "tests/support/test_support.h"
#include "util/hex.h"

namespace mm::milter {
namespace {

using policy::Decision;
using policy::RuleHit;

const std::string kKey = "an audit key of at least thirty-two bytes";
const std::string kOtherKey = "another audit key, also thirty-two bytes";

// What a delivered message binds: its fields as audit_binding.h reads them.
BoundFields sample_bound() {
    policy::Message m = policy::parse_message(
                            "Message-ID: <m1@marketplace.example>\r\n"
                            "Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\nHello\r\n")
                            .value();
    return bound_fields(m.headers, {"<Bob@Gmail.example>"}, m.body);
}
const BoundFields kBound = sample_bound();

std::string header(const std::string& id, Decision d, const std::vector<RuleHit>& rules,
                   const std::string& policy, const std::string& key = kKey) {
    return audit_header_value(id, d, rules, policy, kBound, key);
}

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
    std::string v = header("0123456789abcdef", Decision::modify,
                           {{"alias.rewrite", "x"}, {"headers.removed", "y"}}, "2026-11-23.1");
    const std::string signed_part =
        "id=0123456789abcdef; decision=modify; rules=alias.rewrite,headers.removed; bind=" +
        bind_value(kBound, kKey) + "; policy=2026-11-23.1";
    EXPECT_EQ(v, signed_part + "; hmac=" + hmac_sha256_hex(kKey, signed_part));
    EXPECT_TRUE(verify_audit_header(v, kKey));
}

// Thousands of stripped parts: each id once with its count, in order of its
// first hit, and a header libmilter still sends (at most 65535 bytes).
TEST(AuditHeader, ManyHitsAreCountedPerRule) {
    std::vector<RuleHit> hits{{"alias.rewrite", "x"}};
    for (int i = 0; i < 5000; ++i) hits.push_back({"attachment.type", "part"});
    hits.push_back({"links.removed", "y"});
    for (int i = 0; i < 3000; ++i) hits.push_back({"attachment.encoded", "part"});
    const std::string v = header("0123456789abcdef", Decision::modify, hits, "v1");
    EXPECT_NE(v.find("; rules=alias.rewrite,attachment.type*5000,links.removed,"
                     "attachment.encoded*3000; bind="),
              std::string::npos)
        << v;
    EXPECT_TRUE(verify_audit_header(v, kKey));
    // A policy with thousands of rule ids of its own: the list is cut.
    std::vector<RuleHit> many;
    for (int i = 0; i < 20000; ++i) many.push_back({"content.rule" + std::to_string(i), "z"});
    const std::string cut = header("0123456789abcdef", Decision::modify, many, "v1");
    EXPECT_LT(cut.size(), 16384u);
    EXPECT_NE(cut.find(",+"), std::string::npos);
    EXPECT_TRUE(verify_audit_header(cut, kKey));
}

TEST(AuditHeader, BindHoldsOneKeyedTagPerField) {
    const std::string bind = bind_value(kBound, kKey);
    EXPECT_TRUE(std::regex_match(
        bind,
        std::regex("msgid:[0-9a-f]{32},rcpt:[0-9a-f]{32},date:[0-9a-f]{32},body:[0-9a-f]{32}")))
        << bind;
    EXPECT_EQ(bind.substr(6, 32),
              hmac_sha256_hex(kKey, "X-Marketplace-Audit bind\nmsgid\n<m1@marketplace.example>")
                  .substr(0, 32));
    // Keyed: the recipient's tag says nothing to whoever lacks the key.
    EXPECT_NE(bind_value(kBound, kOtherKey), bind);
    EXPECT_EQ(bind.find("bob"), std::string::npos);
}

TEST(AuditHeader, NoRulesIsNone) {
    std::string v = header("0123456789abcdef", Decision::accept, {}, "v1");
    EXPECT_TRUE(v.starts_with("id=0123456789abcdef; decision=accept; rules=none; bind=msgid:"))
        << v;
    EXPECT_NE(v.find("; policy=v1; hmac="), std::string::npos) << v;
    EXPECT_TRUE(verify_audit_header(v, kKey));
}

TEST(AuditHeader, SurroundingWhiteSpaceAndFoldingAreTolerated) {
    std::string v = header("0123456789abcdef", Decision::accept, {}, "v1");
    EXPECT_TRUE(verify_audit_header(" " + v + "\r\n", kKey));
    std::string folded = v;
    folded.insert(folded.find("; bind=") + 1, "\r\n");
    EXPECT_TRUE(verify_audit_header(folded, kKey)) << folded;
}

TEST(AuditHeader, HostileFieldsCannotInjectHeadersAndStillVerify) {
    std::string v = header("id\r\nBcc: x@evil.example", Decision::reject,
                           {{"a,b;c d", ""}, {"\xff", ""}}, "v1; hmac=00\n");
    EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << v;
    EXPECT_TRUE(
        v.starts_with("id=id__Bcc:_x@evil.example; decision=reject; rules=a_b_c_d,_; bind="))
        << v;
    EXPECT_NE(v.find("; policy=v1__hmac=00_; hmac="), std::string::npos) << v;
    EXPECT_TRUE(verify_audit_header(v, kKey));
}

TEST(AuditHeader, AnotherKeyFails) {
    std::string v = header("0123456789abcdef", Decision::accept, {}, "v1");
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
    std::string v =
        header("0123456789abcdef", Decision::reject, {{"links.disallowed", "d"}}, "2026-11-23.1");
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
                      Tamper{"ExtraField", "; hmac=", "; extra=1; hmac="},
                      Tamper{"BindRemoved", "; bind=", "; bound="},
                      Tamper{"BindTagLengthened", "msgid:", "msgid:0"},
                      Tamper{"BindFieldsSwapped", "msgid:", "date:"}));

TEST(AuditHeader, EveryHmacDigitMatters) {
    std::string v = header("0123456789abcdef", Decision::accept, {}, "v1");
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
    // Nor is the form before bind=, signed and all: it fits any message.
    const std::string unbound = "id=x; decision=accept; rules=none; policy=v1";
    EXPECT_FALSE(verify_audit_header(unbound + "; hmac=" + hmac_sha256_hex(kKey, unbound), kKey));
}

// ---- binding to the delivered message -------------------------------------

TEST(AuditBinding, CanonicalFieldsUnfoldAndTrim) {
    EXPECT_EQ(canonical_field("  <a@b>\r\n"), "<a@b>");
    EXPECT_EQ(canonical_field("Mon, 23 Nov 2026\r\n 12:00:00 +0000"),
              "Mon, 23 Nov 2026 12:00:00 +0000");
    EXPECT_EQ(canonical_field("Mon, 23 Nov 2026\n\t12:00"), "Mon, 23 Nov 2026\t12:00");
    EXPECT_EQ(canonical_field(" \t\r\n"), "");
    EXPECT_EQ(canonical_recipients({"<Carol@Example.org>", "bob@example.org", "BOB@example.org"}),
              "bob@example.org,carol@example.org");
    EXPECT_EQ(canonical_recipients({}), "");
}

TEST(AuditBinding, BodyDigestReadsLineEndsAsCrlf) {
    EXPECT_EQ(body_sha256(policy::MessageBody("")),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const std::string crlf = "8f9e99332aa14be2fd8e6e7052c0a42ecedf771020a3293170dfefa344da59ac";
    EXPECT_EQ(body_sha256(policy::MessageBody("hello\r\nworld\r\n")), crlf);
    EXPECT_EQ(body_sha256(policy::MessageBody("hello\nworld\n")), crlf);
    EXPECT_EQ(body_sha256(policy::MessageBody("hello\r\nworld\n")), crlf);
    EXPECT_NE(body_sha256(policy::MessageBody("hello\r\nworld\r\n ")), crlf);
}

// The body is read in 64 KiB chunks: a CRLF split between two is one line end.
TEST(AuditBinding, CrlfAcrossAChunkBoundaryIsOneLineEnd) {
    const std::string head(64 * 1024 - 1, 'a');
    EXPECT_EQ(body_sha256(policy::MessageBody(head + "\r\nb\r\n")),
              body_sha256(policy::MessageBody(head + "\nb\n")));
    EXPECT_NE(body_sha256(policy::MessageBody(head + "\r\r\nb\r\n")),
              body_sha256(policy::MessageBody(head + "\nb\n")));
}

TEST(AuditBinding, FieldsComeFromTheFirstOfEachHeader) {
    policy::Message m =
        policy::parse_message(
            "message-id:  <first@x>\r\nMessage-ID: <second@x>\r\nSubject: s\r\n\r\nbody\n")
            .value();
    BoundFields f = bound_fields(m.headers, {"<r@x.example>"}, m.body);
    EXPECT_EQ(f.message_id, "<first@x>");
    EXPECT_EQ(f.date, "");
    EXPECT_EQ(f.recipients, "r@x.example");
    EXPECT_EQ(f.body_sha256, body_sha256(policy::MessageBody("body\r\n")));
}

// check_audit_header: the header against the message it came with.
class AuditCheckTest : public ::testing::Test {
protected:
    std::string issued() const {
        return header("0123456789abcdef", Decision::modify, {{"alias.rewrite", ""}},
                      "2026-11-23.1");
    }
    static std::vector<std::string> mismatched(const AuditCheck& c) {
        std::vector<std::string> names;
        for (const auto& f : c.fields)
            if (!f.ok) names.push_back(f.name);
        return names;
    }
};

TEST_F(AuditCheckTest, TheMessageItWasIssuedForVerifies) {
    AuditCheck c = check_audit_header(issued(), kKey, kBound);
    EXPECT_TRUE(c.valid());
    EXPECT_TRUE(c.well_formed);
    EXPECT_TRUE(c.hmac_ok);
    EXPECT_EQ(c.audit_id, "0123456789abcdef");
    EXPECT_EQ(c.decision, "modify");
    EXPECT_EQ(c.rules, "alias.rewrite");
    EXPECT_EQ(c.policy, "2026-11-23.1");
    ASSERT_EQ(c.fields.size(), 4u);
    EXPECT_EQ(c.fields[0].name, "msgid");
    EXPECT_EQ(c.fields[0].value, "<m1@marketplace.example>");
    EXPECT_EQ(c.fields[1].value, "bob@gmail.example");
    EXPECT_TRUE(mismatched(c).empty());
}

// Each row: the genuine header on a message that differs in one field.
TEST_F(AuditCheckTest, CopiedOntoAnotherMessageFailsOnTheFieldThatDiffers) {
    struct Row {
        const char* field;
        std::function<void(BoundFields&)> change;
    };
    const Row rows[] = {
        {"msgid", [](BoundFields& f) { f.message_id = "<other@marketplace.example>"; }},
        {"msgid", [](BoundFields& f) { f.message_id.clear(); }},
        {"rcpt", [](BoundFields& f) { f.recipients = "carol@gmail.example"; }},
        {"rcpt", [](BoundFields& f) { f.recipients += ",carol@gmail.example"; }},
        {"date", [](BoundFields& f) { f.date = "Tue, 24 Nov 2026 12:00:00 +0000"; }},
        {"body",
         [](BoundFields& f) { f.body_sha256 = body_sha256(policy::MessageBody("Hellp\r\n")); }},
    };
    for (const auto& row : rows) {
        BoundFields other = kBound;
        row.change(other);
        AuditCheck c = check_audit_header(issued(), kKey, other);
        EXPECT_TRUE(c.hmac_ok) << row.field << ": the copied header is genuine";
        EXPECT_FALSE(c.valid()) << row.field;
        EXPECT_EQ(mismatched(c), std::vector<std::string>{row.field});
    }
}

TEST_F(AuditCheckTest, AlteredDecisionFailsTheHmac) {
    std::string forged = issued();
    forged.replace(forged.find("decision=modify"), 15, "decision=accept");
    AuditCheck c = check_audit_header(forged, kKey, kBound);
    EXPECT_TRUE(c.well_formed);
    EXPECT_EQ(c.decision, "accept");
    EXPECT_FALSE(c.hmac_ok);
    EXPECT_FALSE(c.valid());
    EXPECT_TRUE(mismatched(c).empty()) << "the fields still match: only the HMAC tells";
}

TEST_F(AuditCheckTest, AnotherKeyOrNoKeyFailsEverything) {
    AuditCheck c = check_audit_header(issued(), kOtherKey, kBound);
    EXPECT_FALSE(c.hmac_ok);
    EXPECT_EQ(mismatched(c).size(), 4u);
    EXPECT_FALSE(check_audit_header(issued(), "", kBound).valid());
}

TEST_F(AuditCheckTest, MalformedHeaderHasNoFields) {
    AuditCheck c = check_audit_header("id=x; decision=accept", kKey, kBound);
    EXPECT_FALSE(c.well_formed);
    EXPECT_TRUE(c.fields.empty());
    EXPECT_FALSE(c.valid());
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

// ---- the line read back (audit_line.h) -----------------------------------

TEST(AuditLine, ReadsBackWhatTheWriterWrote) {
    const AuditRecord r = sample_record();
    auto back = parse_audit_line(audit_json_line(r));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->audit_id, r.audit_id);
    EXPECT_EQ(back->queue_id, r.queue_id);
    EXPECT_EQ(back->client, r.client_addr);
    EXPECT_EQ(back->decision, r.decision);
    EXPECT_EQ(back->reply, r.smtp_reply);
    ASSERT_EQ(back->rules.size(), r.rules.size());
    EXPECT_EQ(back->rules[0].id, r.rules[0].id);
    EXPECT_EQ(back->rules[1].detail, r.rules[1].detail);
    EXPECT_EQ(back->sender_party, r.sender_party);
    EXPECT_EQ(back->recipient_party, r.recipient_party);
    EXPECT_EQ(back->policy_version, r.policy_version);
    EXPECT_EQ(back->size, r.size);
    EXPECT_EQ(back->elapsed_us, r.elapsed_us);
    EXPECT_EQ(back->milter_us, r.milter_us);
    EXPECT_EQ(back->milter_cpu_us, r.milter_cpu_us);
    EXPECT_EQ(back->day.size(), 10u);
}

TEST(AuditLine, SaysWhatIsWrongWithABadLine) {
    const std::pair<const char*, const char*> cases[] = {
        {"{\"time\": \"2026", "not JSON"},
        {"[1]", "not a JSON object"},
        {"{\"time\": \"yesterday\"}", "not RFC 3339"},
        {"{\"time\": \"2026-03-01T00:00:00Z\"}", "no field 'decision'"},
        {"{\"time\": \"2026-03-01T00:00:00Z\", \"decision\": \"drop\"}", "unknown decision"},
    };
    for (const auto& [text, why] : cases) {
        SCOPED_TRACE(text);
        auto r = parse_audit_line(text);
        ASSERT_FALSE(r);
        EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
    }
}

TEST(AuditLine, Rfc3339TimesWithFractionsAndOffsets) {
    std::int64_t ms = 0;
    ASSERT_TRUE(parse_rfc3339_ms("1970-01-01T00:00:01.5Z", ms));
    EXPECT_EQ(ms, 1500);
    ASSERT_TRUE(parse_rfc3339_ms("1970-01-01T01:00:00+01:00", ms));
    EXPECT_EQ(ms, 0);
    EXPECT_FALSE(parse_rfc3339_ms("2026-02-30T00:00:00Z", ms));
    EXPECT_FALSE(parse_rfc3339_ms("2026-03-01 00:00:00", ms));
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
        ASSERT_TRUE((*log)->write(r));
        r.audit_id = "fedcba9876543210";
        ASSERT_TRUE((*log)->write(r));
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
    ASSERT_TRUE((*log)->write(sample_record()));
    auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "earlier line");
}

TEST_F(AuditLogTest, ReopenAfterRenameWritesToANewFile) {
    std::string path = dir_.file("audit.log");
    std::string rotated = dir_.file("audit.log.1");
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log) << log.error().message;
    ASSERT_TRUE((*log)->write(sample_record()));
    std::filesystem::rename(path, rotated);       // logrotate moves the file away
    ASSERT_TRUE((*log)->write(sample_record()));  // still goes to the open (renamed) file
    ASSERT_TRUE((*log)->reopen());                // SIGUSR1
    ASSERT_TRUE((*log)->write(sample_record()));
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
    ASSERT_TRUE((*log)->write(sample_record()));
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
        ASSERT_TRUE((*log)->write(sample_record()));
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
            for (int i = 0; i < 100; ++i) EXPECT_TRUE(audit.write(r));
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

// A log that cannot take lines: each write fails with unavailable, the
// spell is reported once, and its end once.  The path is a symlink, first to
// /dev/full (every write: ENOSPC), then to a regular file (after reopen).
TEST_F(AuditLogTest, WriteFailuresAreReturnedAndReportedOncePerSpell) {
    const std::string path = dir_.file("audit.log");
    std::filesystem::create_symlink("/dev/full", path);
    std::vector<std::pair<AuditLog::Health, std::string>> reports;
    auto log = AuditLog::open(path, [&](AuditLog::Health h, const std::string& detail) {
        reports.emplace_back(h, detail);
    });
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_FALSE((*log)->failing());
    for (int i = 0; i < 3; ++i) {
        auto written = (*log)->write(sample_record());
        ASSERT_FALSE(written);
        EXPECT_EQ(written.error().code, Errc::unavailable);
        EXPECT_EQ(written.error().message,
                  "audit log " + path + ": cannot write: No space left on device");
        EXPECT_TRUE((*log)->failing());
    }
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].first, AuditLog::Health::failing);
    EXPECT_EQ(reports[0].second, "audit log " + path + ": cannot write: No space left on device");

    std::filesystem::remove(path);
    { std::ofstream(dir_.file("real.log")); }
    std::filesystem::create_symlink(dir_.file("real.log"), path);
    ASSERT_TRUE((*log)->reopen());
    EXPECT_TRUE((*log)->failing()) << "until a line goes in";
    ASSERT_TRUE((*log)->write(sample_record()));
    ASSERT_TRUE((*log)->write(sample_record()));
    EXPECT_FALSE((*log)->failing());
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_EQ(reports[1].first, AuditLog::Health::recovered);
    EXPECT_EQ(reports[1].second, "audit log " + path + ": written again");
    auto lines = read_lines(dir_.file("real.log"));
    ASSERT_EQ(lines.size(), 2u);
    for (const auto& line : lines)
        EXPECT_EQ(nlohmann::json::parse(line)["audit_id"], "0123456789abcdef");
}

TEST_F(AuditLogTest, WithoutAReporterASpellGoesToStderr) {
    auto log = AuditLog::open("/dev/full");
    ASSERT_TRUE(log) << log.error().message;
    ::testing::internal::CaptureStderr();
    EXPECT_FALSE((*log)->write(sample_record()));
    EXPECT_FALSE((*log)->write(sample_record()));
    EXPECT_EQ(::testing::internal::GetCapturedStderr(),
              "marketplace-milter: audit log /dev/full: cannot write: No space left on device\n");
}

}  // namespace
}  // namespace mm::milter
