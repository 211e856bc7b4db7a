// The message limits (policy/limits.h, the daemon config's `limits:`):
// header fields counted as they arrive (HeaderTally, read_message), the CPU
// budget of an evaluation (LimitScope, check_cpu_budget), and each bound
// through the end of message (milter/message_flow.h: refusal, audit line,
// the evaluation slot given back) and through `marketplace-milter test`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "alias/alias_directory.h"
#include "alias/sqlite_store.h"
#include "audit/audit.h"
#include "cli/cli.h"
#include "milter/edit_sink.h"
#include "milter/message_flow.h"
#include "milter/service.h"
#include "policy/authorize.h"
#include "policy/classify/lexicon_yaml.h"
#include "policy/limits.h"
#include "policy/message.h"
#include "policy/policy.h"
#include "policy/rules/active_content.h"
#include "policy/rules/text_scans.h"
#include "tests/support/message_flow_fixture.h"
#include "tests/support/test_support.h"

namespace mm::milter {
namespace {

using policy::Decision;
using policy::MessageLimits;

constexpr const char* kDomain = "marketplace.example";
constexpr const char* kSeller = "support@acme.example";
const std::string kKey = "a message limits test key, thirty-two bytes or more";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string fields(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += "X-Filler-" + std::to_string(i) + ": value\r\n";
    return out;
}

// `n` text parts, each with a few links: real work for every rule.
std::string text_parts(int n) {
    std::string body;
    for (int i = 0; i < n; ++i)
        body += "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPart " + std::to_string(i) +
                ": see https://elsewhere.example/p" + std::to_string(i) +
                " and www.other.example/x or mail me at someone@else.example\r\n";
    return body + "--b--\r\n";
}

// ---- HeaderTally and read_message ------------------------------------------

TEST(HeaderTally, CountsFieldsAndBytesAndStopsAtTheFirstBound) {
    MessageLimits l;
    l.max_header_count = 3;
    policy::HeaderTally tally(l);
    for (int field = 1; field <= 3; ++field) EXPECT_TRUE(tally.add(10)) << "field " << field;
    EXPECT_FALSE(tally.exceeded());
    EXPECT_FALSE(tally.add(10));
    ASSERT_TRUE(tally.exceeded());
    EXPECT_EQ(tally.exceeded()->text,
              "Message header exceeds 3 headers (limit limits.max_header_count)");
    EXPECT_EQ(tally.exceeded()->rule.id, "limits.max_header_count");
    EXPECT_EQ(tally.exceeded()->rule.detail, "more than 3 header fields");
    EXPECT_FALSE(tally.add(1));  // and every one after

    MessageLimits b;
    b.max_header_bytes = 100;
    policy::HeaderTally bytes(b);
    EXPECT_TRUE(bytes.add(60));
    EXPECT_TRUE(bytes.fits(40));
    EXPECT_FALSE(bytes.fits(41));
    EXPECT_FALSE(bytes.add(41));
    EXPECT_EQ(bytes.exceeded()->text,
              "Message header exceeds 100 bytes (limit limits.max_header_bytes)");
    EXPECT_EQ(policy::HeaderTally::field_bytes("Subject", "hi"), 13u);  // "Subject: hi\r\n"
}

TEST(HeaderTally, UnlimitedByDefault) {
    policy::HeaderTally tally{MessageLimits{}};
    for (int i = 0; i < 100000; ++i) ASSERT_TRUE(tally.add(1000));
}

class ReadMessageTest : public ::testing::Test {
protected:
    Result<policy::Message> read(const std::string& raw, const MessageLimits& limits) {
        const std::string path = dir_.file("in.eml");
        write_file(path, raw);
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        EXPECT_GE(fd, 0);
        auto m = policy::read_message(fd, {}, "in.eml", limits);
        ::close(fd);
        return m;
    }
    mm::testing::TempDir dir_;
};

// A message read under a bound on its header count, and what is read.
struct CountCase {
    const char* name;
    std::string raw;
    std::size_t max_header_count;
    const char* refused_by;  // the rule, or nullptr: read
    std::optional<std::size_t> headers;
    std::optional<std::string> body;
};

class ReadMessageCountTest : public ReadMessageTest,
                             public ::testing::WithParamInterface<CountCase> {};

TEST_P(ReadMessageCountTest, ReadsOrRefuses) {
    const CountCase& c = GetParam();
    MessageLimits l;
    l.max_header_count = c.max_header_count;
    auto m = read(c.raw, l);
    ASSERT_TRUE(m) << m.error().message;
    if (c.refused_by == nullptr) {
        EXPECT_FALSE(m->over_limit);
    } else {
        ASSERT_TRUE(m->over_limit);
        EXPECT_EQ(m->over_limit->rule.id, c.refused_by);
    }
    if (c.headers) {
        EXPECT_EQ(m->headers.size(), *c.headers);
    }
    if (c.body) {
        EXPECT_EQ(m->body.str(), *c.body);
    }
}

const std::string kTwelveFields =
    "Subject: hi\r\n" + fields(10) + "To: a@b.example\r\n\r\nbody\r\n";

INSTANTIATE_TEST_SUITE_P(
    ReadMessage, ReadMessageCountTest,
    ::testing::Values(CountCase{"WithinTheBoundsTheMessageIsReadWhole", kTwelveFields, 12, nullptr,
                                12, "body\r\n"},
                      CountCase{"OneFieldTooManyIsRefused", kTwelveFields, 11,
                                "limits.max_header_count", 0, ""},
                      CountCase{"FoldedLinesBelongToTheirField",
                                "Subject: a\r\n b\r\n\tc\r\nTo: x@y.example\r\n folded\r\n\r\nbody",
                                2, nullptr, 2, std::nullopt},
                      CountCase{"ALastFieldWithoutLineEndCounts", "Subject: hi\r\nTo: a@b.example",
                                1, "limits.max_header_count", std::nullopt, std::nullopt}),
    [](const ::testing::TestParamInfo<CountCase>& info) { return std::string(info.param.name); });

TEST_F(ReadMessageTest, AFieldLargerThanTheByteBoundIsRefusedBeforeItEnds) {
    MessageLimits l;
    l.max_header_bytes = 64 * 1024;
    // 8 MB of one field, never ended: reading stops at the bound.
    auto m = read("Subject: " + std::string(8 << 20, 'x'), l);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(m->over_limit);
    EXPECT_EQ(m->over_limit->rule.id, "limits.max_header_bytes");
    EXPECT_EQ(m->over_limit->text,
              "Message header exceeds 65536 bytes (limit limits.max_header_bytes)");
}

// ---- the CPU budget ----------------------------------------------------------

void burn_cpu(std::chrono::milliseconds at_least) {
    const auto until = std::chrono::steady_clock::now() + at_least;
    volatile std::uint64_t x = 0;
    while (std::chrono::steady_clock::now() < until)
        for (int i = 0; i < 10000; ++i) x = x + static_cast<std::uint64_t>(i);
}

TEST(CpuBudget, ThrowsOnceTheThreadHasUsedItsBudget) {
    EXPECT_NO_THROW(policy::check_cpu_budget());  // no scope: no budget
    MessageLimits l;
    l.cpu_budget = std::chrono::milliseconds(1);
    const policy::LimitScope scope(l);
    burn_cpu(std::chrono::milliseconds(20));
    try {
        policy::check_cpu_budget();
        FAIL() << "the budget was not enforced";
    } catch (const policy::BudgetExceeded& e) {
        EXPECT_EQ(e.refusal().text,
                  "Message too complex to check within the time limit (limit "
                  "limits.cpu_budget_ms)");
        EXPECT_EQ(e.refusal().rule.id, "limits.cpu_budget_ms");
    }
}

TEST(CpuBudget, ScopesNestAndEnd) {
    MessageLimits tight;
    tight.cpu_budget = std::chrono::milliseconds(1);
    {
        const policy::LimitScope outer(tight);
        {
            const policy::LimitScope inner{MessageLimits{}};  // no budget
            burn_cpu(std::chrono::milliseconds(20));
            EXPECT_NO_THROW(policy::check_cpu_budget());
            EXPECT_NE(policy::active_limits(), nullptr);
        }
        EXPECT_THROW(policy::check_cpu_budget(), policy::BudgetExceeded);
    }
    EXPECT_EQ(policy::active_limits(), nullptr);
    EXPECT_NO_THROW(policy::check_cpu_budget());
}

// The classifier's loops run over the whole text of a message: they check
// the budget too (classify/budget.h), not only the steps around them.
TEST(CpuBudget, TheConceptAnalysisStopsAtTheBudget) {
    const auto lexicon =
        classify::load_lexicon_file(std::string(MM_TEST_DATA) + "/classify_unit/concepts.yaml")
            .value();
    std::string text;
    for (int i = 0; i < 20'000; ++i) text += "review gift card " + std::to_string(i) + ". ";
    const std::vector<std::string_view> texts{text};
    policy::TextScans scans;
    // Normalised outside the scope: inside it only the analysis runs.
    ASSERT_NE(scans.get(texts, 0, classify::kAllLangs, nullptr).texts, nullptr);
    MessageLimits tight;
    tight.cpu_budget = std::chrono::milliseconds(1);
    const policy::LimitScope scope(tight);
    burn_cpu(std::chrono::milliseconds(20));
    EXPECT_THROW(scans.get(texts, 0, classify::kAllLangs, lexicon), policy::BudgetExceeded);
}

// qpdf's repair of a damaged PDF is quadratic in its size and cannot be
// interrupted but from inside its reads: the budget reaches it there.
// qpdf's repair of this file takes ~25 s: damaged PDFs get the linear scan
// instead (active_content.h), answered well inside a 50 ms budget.
TEST(CpuBudget, DamagedPdfIsAnsweredWithinTheBudget) {
    std::string pdf =
        "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n";
    while (pdf.size() < 600 * 1024) pdf += "% filler line after the end of the file\n";
    MessageLimits l;
    l.cpu_budget = std::chrono::milliseconds(50);
    const policy::LimitScope scope(l);
    EXPECT_FALSE(policy::pdf_active_content(pdf));
    pdf += "4 0 obj\n<< /S /J#61vaScript /JS (x) >>\nendobj\n";
    EXPECT_TRUE(policy::pdf_active_content(pdf));
}

// ---- through the end of message ----------------------------------------------

// The end-of-message fixture, with the message's head chosen by each test
// and the refusal's reply as the sink was told it.
class LimitsFlowTest : public flow_testing::MessageFlowTest {
protected:
    std::string head(const std::string& content_type) const {
        return "From: Acme Store <support@acme.example>\r\nTo: <" + pair_.buyer_alias + "@" +
               kDomain +
               ">\r\nSubject: About your order\r\nMessage-ID: <m@acme.example>\r\n"
               "Content-Type: " +
               content_type + "\r\n";
    }
    policy::Message message(const std::string& raw) const {
        auto parsed = policy::parse_message(raw);
        EXPECT_TRUE(parsed);
        return std::move(parsed.value());
    }
    FlowOutcome run(const policy::Message& m) {
        std::unique_ptr<MemorySink> sink;
        flow_testing::Sent s = send(m, sink);
        audit_id_ = s.audit_id;
        reply_ = sink->reply() ? sink->reply()->code + " " + sink->reply()->xcode : "";
        return std::move(s.out);
    }
    // The refusal as sent and as audited, naming `rule`.
    void expect_refused(const FlowOutcome& out, const std::string& code, const std::string& text,
                        const std::string& rule) {
        const std::string reply = code + " " + text + " (audit " + audit_id_ + ")";
        EXPECT_EQ(out.reply, reply);
        EXPECT_EQ(reply_, code);  // what the sink was told
        ASSERT_EQ(out.rules.size(), 1u);
        EXPECT_EQ(out.rules[0].id, rule);
        EXPECT_FALSE(out.delivered());
        auto lines = audit_lines();
        ASSERT_EQ(lines.size(), 1u);
        EXPECT_EQ(lines[0]["audit_id"], audit_id_);
        EXPECT_EQ(lines[0]["reply"], reply);
        ASSERT_EQ(lines[0]["rules"].size(), 1u);
        EXPECT_EQ(lines[0]["rules"][0]["id"], rule);
    }
    // Real work for every rule under a 1 ms CPU budget: refused with `code`.
    FlowOutcome over_cpu_budget(const std::string& code) {
        config_.limits.cpu_budget = std::chrono::milliseconds(1);
        FlowOutcome out =
            run(message(head("multipart/mixed; boundary=b") + "\r\n" + text_parts(800)));
        expect_refused(
            out, code,
            "Message too complex to check within the time limit (limit limits.cpu_budget_ms)",
            "limits.cpu_budget_ms");
        return out;
    }

    std::string audit_id_;
    std::string reply_;
};

TEST_F(LimitsFlowTest, TheDefaultsLetRealMailThrough) {
    FlowOutcome out =
        run(message(head("multipart/mixed; boundary=b") + fields(40) + "\r\n" + text_parts(50)));
    EXPECT_EQ(out.decision, Decision::modify) << out.reply;
    EXPECT_TRUE(out.delivered());
}

TEST_F(LimitsFlowTest, AHeaderOverTheBoundAsItArrivedIsRefusedUnevaluated) {
    policy::Message m = message(head("text/plain") + "\r\nhello\r\n");
    m.over_limit = policy::header_count_refusal(1000);
    FlowOutcome out = run(m);
    EXPECT_EQ(out.decision, Decision::reject);
    expect_refused(out, "552 5.3.4",
                   "Message header exceeds 1000 headers (limit limits.max_header_count)",
                   "limits.max_header_count");
    EXPECT_EQ(out.verdict.findings, nullptr);  // never evaluated
    EXPECT_TRUE(out.verdict.sender_party.empty());
}

TEST_F(LimitsFlowTest, TooManyMimePartsAreRefusedBeforeTheParse) {
    config_.limits.max_mime_parts = 20;
    FlowOutcome out = run(message(head("multipart/mixed; boundary=b") + "\r\n" + text_parts(21)));
    EXPECT_EQ(out.decision, Decision::reject);
    expect_refused(out, "552 5.3.4",
                   "Message has more than 20 MIME parts (limit limits.max_mime_parts)",
                   "limits.max_mime_parts");
}

TEST_F(LimitsFlowTest, NestingTooDeepIsRefused) {
    config_.limits.max_mime_depth = 3;
    std::string body;
    for (int i = 1; i <= 4; ++i)
        body += "--b" + std::to_string(i) + "\r\nContent-Type: multipart/mixed; boundary=b" +
                std::to_string(i + 1) + "\r\n\r\n";
    body += "--b5\r\n\r\nbottom\r\n";
    FlowOutcome out = run(message(head("multipart/mixed; boundary=b1") + "\r\n" + body));
    expect_refused(
        out, "552 5.3.4",
        "Message MIME structure nests deeper than 3 levels (limit limits.max_mime_depth)",
        "limits.max_mime_depth");
}

TEST_F(LimitsFlowTest, TooManyWordsToReadIsRefused) {
    config_.limits.max_text_words = 1000;
    std::string words;
    for (int i = 0; i < 600; ++i) words += "word" + std::to_string(i) + " ";
    // 600 words in the body and 600 in an attached text: the limit is the message's.
    FlowOutcome out = run(message(head("multipart/mixed; boundary=b") +
                                  "\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + words +
                                  "\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: "
                                  "attachment; filename=notes.txt\r\n\r\n" +
                                  words + "\r\n--b--\r\n"));
    expect_refused(out, "552 5.3.4",
                   "Message text has more than 1000 words to check (limit limits.max_text_words)",
                   "limits.max_text_words");
    config_.limits.max_text_words = 2000;
    EXPECT_NE(run(message(head("text/plain") + "\r\n" + words + "\r\n")).decision,
              Decision::reject);
}

// The contact reasons an [Important] subject asks for are read inside the
// marketplace rules, within the store's transaction: a limit met there
// refuses the message as everywhere else (it was a 451 "out of memory").
TEST_F(LimitsFlowTest, TooManyWordsForTheContactReasonsIsRefusedNotTempfailed) {
    config_.limits.max_text_words = 1000;
    std::string words;  // '1' between letters: each text is read twice ("i", "l")
    for (int i = 0; i < 400; ++i) words += "wo1rd ";
    std::string raw = head("text/plain") + "\r\n" + words + "\r\n";
    const std::string subject = "Subject: About your order";
    raw.replace(raw.find(subject), subject.size(), "Subject: [Important] About your order");
    expect_refused(run(message(raw)), "552 5.3.4",
                   "Message text has more than 1000 words to check (limit limits.max_text_words)",
                   "limits.max_text_words");
}

// Every replacement is kept until its part is rewritten: a text of
// addresses is refused at the bound, summed over the parts, not redacted in
// part.
TEST_F(LimitsFlowTest, TooManyContactDetailsToRedactIsRefused) {
    config_.limits.max_redactions = 5;
    std::string body;
    for (int i = 0; i < 6; ++i) body += "write to person" + std::to_string(i) + "@mail.example\r\n";
    expect_refused(run(message(head("text/plain") + "\r\n" + body)), "552 5.3.4",
                   "Message text has more than 5 email addresses and phone numbers to redact "
                   "(limit limits.max_redactions)",
                   "limits.max_redactions");
    body.clear();
    for (int i = 0; i < 5; ++i) body += "write to person" + std::to_string(i) + "@mail.example\r\n";
    EXPECT_NE(run(message(head("text/plain") + "\r\n" + body)).decision, Decision::reject);
}

TEST_F(LimitsFlowTest, OverTheCpuBudgetIsRefusedAndTheSlotGivenBack) {
    EXPECT_EQ(over_cpu_budget("552 5.3.4").decision, Decision::reject);
    // Every slot of the gate is free: the evaluation gave its back.
    auto p1 = gate_.acquire(std::chrono::milliseconds(0));
    auto p2 = gate_.acquire(std::chrono::milliseconds(0));
    EXPECT_TRUE(p1);
    EXPECT_TRUE(p2);
}

TEST_F(LimitsFlowTest, OverTheCpuBudgetTempfailsWhenConfigured) {
    config_.over_budget_tempfail = true;
    EXPECT_EQ(over_cpu_budget("451 4.3.0").decision, Decision::tempfail);
}

// ---- through `marketplace-milter test` ---------------------------------------

class LimitsCliTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::filesystem::copy_file(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml",
                                   dir_.file("policy.yaml"));
        std::filesystem::copy_file(std::string(MM_SOURCE_DIR) + "/etc/concepts.yaml",
                                   dir_.file("concepts.yaml"));
        // and the word models it names under models/.
        std::filesystem::copy(std::string(MM_SOURCE_DIR) + "/etc/models", dir_.file("models"));
        write_file(dir_.file("hmac.key"), kKey + "\n");
        ::chmod(dir_.file("hmac.key").c_str(), 0600);
        auto store = alias::open_sqlite_store(dir_.file("store.db"), 1000);
        ASSERT_TRUE(store) << store.error().message;
        alias::Pair pair;
        ASSERT_NO_FATAL_FAILURE(flow_testing::add_bob_and_acme(**store, pair));
        alias_ = pair.buyer_alias + "@" + kDomain;
    }

    // `marketplace-milter test` with `limits` as the config's limits: section.
    nlohmann::json test(const std::string& limits, const std::string& raw) {
        write_file(dir_.file("mm.yaml"),
                   "domain: marketplace.example\npolicy: policy.yaml\nstore: {path: store.db}\n"
                   "audit_log: audit.log\nhmac_key_file: hmac.key\nlimits: {" +
                       limits + "}\n");
        write_file(dir_.file("in.eml"), raw);
        TestArgs args;
        args.from = kSeller;
        args.rcpts = {alias_};
        args.message = dir_.file("in.eml");
        ::testing::internal::CaptureStdout();
        const int rc = cmd_test(dir_.file("mm.yaml"), args);
        const std::string out = ::testing::internal::GetCapturedStdout();
        EXPECT_EQ(rc, 0) << out;
        return nlohmann::json::parse(out);
    }
    std::string head(const std::string& content_type) const {
        return "From: Acme Store <support@acme.example>\r\nTo: <" + alias_ +
               ">\r\nSubject: About your order\r\nContent-Type: " + content_type + "\r\n";
    }

    mm::testing::TempDir dir_;
    std::string alias_;
};

TEST_F(LimitsCliTest, TooManyHeadersAreRefusedAsTheDaemonRefusesThem) {
    const std::string raw = head("text/plain") + fields(30) + "\r\nhello\r\n";
    nlohmann::json out = test("max_header_count: 30", raw);
    EXPECT_EQ(out["decision"], "reject");
    EXPECT_EQ(out["smtp_code"], "552");
    EXPECT_EQ(out["enhanced_code"], "5.3.4");
    EXPECT_EQ(
        out["smtp_reply"],
        "552 5.3.4 Message header exceeds 30 headers (limit limits.max_header_count) (audit " +
            out["audit_id"].get<std::string>() + ")");
    ASSERT_EQ(out["rules"].size(), 1u);
    EXPECT_EQ(out["rules"][0]["id"], "limits.max_header_count");

    EXPECT_EQ(test("max_header_count: 34", raw)["decision"], "modify");
}

TEST_F(LimitsCliTest, HeaderBytesMimePartsAndCpuBudget) {
    const std::string big =
        head("text/plain") + "X-Big: " + std::string(5000, 'x') + "\r\n\r\nhi\r\n";
    nlohmann::json out = test("max_header_bytes: 4096", big);
    EXPECT_EQ(out["decision"], "reject");
    EXPECT_EQ(out["rules"][0]["id"], "limits.max_header_bytes");

    const std::string multipart = head("multipart/mixed; boundary=b") + "\r\n" + text_parts(600);
    out = test("max_mime_parts: 500", multipart);
    EXPECT_EQ(out["decision"], "reject");
    EXPECT_EQ(out["rules"][0]["id"], "limits.max_mime_parts");

    out = test("cpu_budget_ms: 1", multipart);
    EXPECT_EQ(out["decision"], "reject");
    EXPECT_EQ(out["rules"][0]["id"], "limits.cpu_budget_ms");

    out = test("cpu_budget_ms: 1, over_budget_action: tempfail", multipart);
    EXPECT_EQ(out["decision"], "tempfail");
    EXPECT_EQ(out["smtp_code"], "451");

    EXPECT_EQ(test("", multipart)["decision"], "modify");
}

}  // namespace
}  // namespace mm::milter
