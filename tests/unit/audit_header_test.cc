// The audit header: its value and HMAC (RFC 4231's known answers first),
// what tampering it detects, and its binding to the delivered message's
// fields (audit_binding.h).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <functional>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/audit_binding.h"
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

// Against OpenSSL's own HMAC() for keys and data of every length around the
// block size (a key over 64 bytes is hashed first), the key changing between
// calls.
TEST(HmacSha256, SameAsOpenSslForEveryLength) {
    std::mt19937 rng(18);
    for (std::size_t key_len = 0; key_len <= 140; ++key_len) {
        std::string key(key_len, '\0');
        for (char& c : key) c = static_cast<char>(rng());
        for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{55}, std::size_t{56},
                                std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{119},
                                std::size_t{120}, std::size_t{300}}) {
            std::string data(len, '\0');
            for (char& c : data) c = static_cast<char>(rng());
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int md_len = 0;
            ASSERT_NE(
                HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &md_len),
                nullptr);
            ASSERT_EQ(hmac_sha256_hex(key, data), to_hex(md, md_len))
                << "key " << key_len << " data " << len;
        }
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

}  // namespace
}  // namespace mm::milter
