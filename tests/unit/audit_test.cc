// The audit trail's words: the decision names and audit ids, the JSON line
// and the line read back (audit_line.h).  The header and its binding:
// audit_header_test.cc; the log file: audit_log_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/audit_line.h"
#include "tests/support/audit_samples.h"

namespace mm::milter {
namespace {

using policy::Decision;

using audit_testing::sample_record;

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

std::string random_text(std::mt19937& rng, bool ascii_only) {
    std::string s(rng() % 14, ' ');
    for (char& c : s) {
        const unsigned pick = rng() % 10;
        if (pick < 6)
            c = static_cast<char>(0x20 + rng() % 0x60);  // printable and DEL
        else if (pick < 8)
            c = static_cast<char>(rng() % 0x20);  // control characters, NUL included
        else if (pick < 9)
            c = "\"\\/"[rng() % 3];
        else
            c = static_cast<char>(ascii_only ? 'x' : 0x80 + rng() % 0x80);
    }
    return s;
}

// Byte for byte, ASCII or not (the rest is the library's: U+FFFD for
// invalid UTF-8), numbers at their extremes.
TEST(AuditJson, WritesWhatTheLibraryWrites) {
    std::mt19937 rng(18);
    const std::uint64_t numbers[] = {0, 1, 9, 10, 12345, UINT64_MAX};
    for (int i = 0; i < 20000; ++i) {
        const bool ascii_only = i % 4 != 0;
        AuditRecord r;
        r.audit_id = random_text(rng, ascii_only);
        r.queue_id = random_text(rng, ascii_only);
        r.client_addr = random_text(rng, ascii_only);
        r.decision = static_cast<Decision>(rng() % 5);
        r.smtp_reply = random_text(rng, ascii_only);
        for (unsigned n = rng() % 4; n > 0; --n)
            r.rules.push_back({random_text(rng, ascii_only), random_text(rng, ascii_only)});
        r.sender_party = random_text(rng, ascii_only);
        r.recipient_party = random_text(rng, ascii_only);
        r.policy_version = random_text(rng, ascii_only);
        r.size = numbers[rng() % 6];
        r.elapsed_us = rng();
        r.milter_us = numbers[rng() % 6];
        r.milter_cpu_us = rng() % 1000;
        const std::string time =
            i % 7 == 0 ? random_text(rng, ascii_only) : "2026-12-07T11:20:05.123Z";
        ASSERT_EQ(audit_json_line(r, time), audit_json_line_by_library(r, time)) << "case " << i;
    }
}

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

}  // namespace
}  // namespace mm::milter
