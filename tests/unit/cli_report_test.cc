// `marketplace-milter report` (cli/cli_report*.cc) over a generated audit log
// whose every figure is known: three days in three files (the oldest
// gzipped), two bad lines, hostile text in rule details.  Each section of
// the JSON report is held whole against the figures the log was made with;
// the text and HTML outputs against the same figures; --since/--until, a
// gzip file cut short, an over-long line, and `report audit-id`.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "alias/store_factory.h"
#include "audit/audit.h"
#include "audit/audit_line.h"
#include "cli/cli.h"
#include "cli/cli_report.h"
#include "tests/support/test_support.h"

namespace mm::milter {
namespace {

using json = nlohmann::json;
using policy::Decision;

const std::string kHostileDomain = "<script>alert(1)</script>.example";
const std::string kHostileFile = "<img src=x onerror=alert(2)>.docm";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// One audit line as the daemon writes it (audit_json_line), at `time`.
std::string line(const std::string& time, Decision d, std::vector<policy::RuleHit> rules,
                 const std::string& sender, const std::string& recipient,
                 const std::string& reply = "", const std::string& id = "") {
    static int n = 0;
    AuditRecord r;
    r.audit_id = id.empty() ? "a" + std::to_string(++n) : id;
    r.queue_id = "Q" + std::to_string(n);
    r.client_addr = "192.0.2.1";
    r.decision = d;
    r.smtp_reply = reply;
    r.rules = std::move(rules);
    r.sender_party = sender;
    r.recipient_party = recipient;
    r.policy_version = "p1";
    r.size = 1000;
    json j = json::parse(audit_json_line(r));
    j["time"] = time;
    return j.dump() + "\n";
}

const policy::RuleHit kRewrite{"alias.rewrite", "aliases mapped"};
const policy::RuleHit kBuyer{"marketplace.buyer_message", "buyer message"};

class ReportTest : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(dir_.file("hmac.key"), std::string(48, 'k') + "\n");
        ::chmod(dir_.file("hmac.key").c_str(), 0600);
        write_file(config(),
                   "domain: marketplace.example\npolicy: policy.yaml\nstore: {path: store.db}\n"
                   "audit_log: audit.log\nhmac_key_file: hmac.key\n");
        alias::StoreConfig sc;
        sc.path = dir_.file("store.db");
        auto store = alias::make_store(sc);
        ASSERT_TRUE(store) << store.error().message;
        for (auto [id, role] : {std::pair{"s1", alias::Role::seller},
                                {"s2", alias::Role::seller},
                                {"s3", alias::Role::seller},
                                {"b1", alias::Role::buyer},
                                {"b2", alias::Role::buyer}}) {
            alias::Party p;
            p.id = id;
            p.role = role;
            p.address = std::string(id) + "@real.example";
            ASSERT_TRUE((*store)->add_party(p));
        }
        write_logs();
    }

    // Day 1 (gzipped, oldest), day 2 (.1), day 3 (the live log).
    void write_logs() {
        const std::string day1 =
            line("2026-03-01T10:00:00.000Z", Decision::modify, {kRewrite, kBuyer}, "b1", "s1") +
            line("2026-03-01T11:00:00.000Z", Decision::modify, {kRewrite}, "s1", "b1") +
            line("2026-03-01T12:00:00.000Z", Decision::reject,
                 {kRewrite, {"marketplace.optout", "buyer opted out"}}, "s1", "b1",
                 "550 5.7.1 The buyer does not take messages") +
            line("2026-03-01T13:00:00.000Z", Decision::reject,
                 {kRewrite, {"links.removed", "2 link(s): evil.example, " + kHostileDomain}}, "s2",
                 "b2",
                 "550 5.7.1 Links to sites outside the marketplace are not allowed (rule "
                 "links.removed)") +
            line("2026-03-01T14:00:00.000Z", Decision::tempfail,
                 {{"store.unavailable", "database is locked"}}, "s1", "b1", "451 4.3.0 try later",
                 "twice");
        write_file(dir_.file("day1"), day1);
        ASSERT_EQ(
            std::system(
                ("gzip -c " + dir_.file("day1") + " > " + dir_.file("audit.log.2.gz")).c_str()),
            0);
        const std::string day2 =
            line("2026-03-02T09:00:00Z", Decision::modify, {kRewrite, kBuyer}, "b2", "s2") +
            line("2026-03-02T09:30:00Z", Decision::accept, {kBuyer}, "b2", "s2") +
            line("2026-03-02T11:00:00Z", Decision::modify,
                 {kRewrite,
                  {"attachment.type",
                   "part 2 \"x.exe\" application/x-dosexec: executable (stripped)"},
                  {"links.removed", "1 link(s): evil.example"}},
                 "s2", "b2") +
            line("2026-03-02T12:00:00Z", Decision::quarantine,
                 {kRewrite,
                  {"marketplace.critical", "tagged and critical: delivery"},
                  {"marketplace.important_quarantine", "seller's tag use 4 today (threshold 3)"}},
                 "s1", "b1", "held for review") +
            line("2026-03-02T13:00:00Z", Decision::reject,
                 {kRewrite, {"marketplace.important_misuse", "tagged but not critical"}}, "s1",
                 "b1", "550 5.7.1 [Important] is for critical messages") +
            "{\"time\": \"2026-03-02T14:00:00Z\", \"audit_id\": \"tr\n" + "not json at all\n";
        write_file(dir_.file("audit.log.1"), day2);
        const std::string day3 =
            line("2026-03-03T08:00:00Z", Decision::reject,
                 {{"rcpt.sender_not_counterpart", "sender is not the counterpart"}}, "", "b1",
                 "550 5.7.1 not allowed") +
            line("2026-03-03T09:00:00Z", Decision::reject,
                 {kRewrite,
                  {"attachment.macro", "part 2 \"" + kHostileFile +
                                           "\" application/vnd.ms-word.document.macroEnabled.12: "
                                           "a macro-enabled Word document"}},
                 "s3", "b1", "550 5.7.1 Attachment not allowed (rule attachment.macro)") +
            line("2026-03-03T10:00:00Z", Decision::tempfail, {{"milter.internal", "eom: boom"}}, "",
                 "", "451 4.3.0", "twice") +
            line("2026-03-03T11:00:00Z", Decision::accept, {}, "ghost", "b1") +
            line("2026-03-03T12:00:00Z", Decision::modify,
                 {{"marketplace.buyer_message", "buyer auto-reply: delivered"}}, "b1", "s1");
        write_file(dir_.file("audit.log"), day3);
    }

    std::string config() const { return dir_.file("marketplace-milter.yaml"); }

    struct Run {
        int rc = -1;
        std::string out, err;
    };
    Run run(AuditReportArgs args) {
        ::testing::internal::CaptureStdout();
        ::testing::internal::CaptureStderr();
        Run r;
        r.rc = cmd_report(config(), args);
        r.out = ::testing::internal::GetCapturedStdout();
        r.err = ::testing::internal::GetCapturedStderr();
        return r;
    }
    json report_json(AuditReportArgs args = {}) {
        args.format = "json";
        Run r = run(std::move(args));
        EXPECT_EQ(r.rc, 0) << r.err;
        return json::parse(r.out);
    }

    mm::testing::TempDir dir_;
};

TEST_F(ReportTest, ReadsTheLiveLogAndItsRotationsOldestFirst) {
    json j = report_json();
    EXPECT_EQ(j["input"]["files"], json({dir_.file("audit.log.2.gz"), dir_.file("audit.log.1"),
                                         dir_.file("audit.log")}));
    EXPECT_EQ(j["input"]["lines"], 17);
    EXPECT_EQ(j["input"]["records"], 15);
    EXPECT_EQ(j["input"]["outside_dates"], 0);
    EXPECT_EQ(j["input"]["unknown_parties"], 1);
    EXPECT_EQ(j["input"]["file_errors"], json::array());
    EXPECT_EQ(j["period"]["first"], "2026-03-01T10:00:00Z");
    EXPECT_EQ(j["period"]["last"], "2026-03-03T12:00:00Z");
}

TEST_F(ReportTest, BadLinesAreCountedAndNamedNeverFatal) {
    json j = report_json();
    EXPECT_EQ(j["input"]["bad_lines"], 2);
    ASSERT_EQ(j["input"]["bad_examples"].size(), 2u);
    EXPECT_EQ(j["input"]["bad_examples"][0]["where"], dir_.file("audit.log.1") + ":6");
    EXPECT_EQ(j["input"]["bad_examples"][1]["where"], dir_.file("audit.log.1") + ":7");
    EXPECT_NE(j["input"]["bad_examples"][0]["why"].get<std::string>().find("not JSON"),
              std::string::npos);
}

TEST_F(ReportTest, DecisionsInTotalAndPerDay) {
    json j = report_json();
    EXPECT_EQ(j["decisions"], json::parse(R"({"accept":2,"modify":5,"quarantine":1,"reject":5,
                                               "tempfail":2,"total":15})"));
    EXPECT_EQ(j["per_day"], json::parse(R"([
      {"day":"2026-03-01","accept":0,"modify":2,"quarantine":0,"reject":2,"tempfail":1,"total":5},
      {"day":"2026-03-02","accept":1,"modify":2,"quarantine":1,"reject":1,"tempfail":0,"total":5},
      {"day":"2026-03-03","accept":1,"modify":1,"quarantine":0,"reject":2,"tempfail":1,"total":5}
    ])"));
}

TEST_F(ReportTest, RefusalsStripsAndQuarantinesByRule) {
    json j = report_json();
    EXPECT_EQ(j["rules"], json::parse(R"([
      {"rule":"links.removed","refused":1,"stripped":1,"quarantined":0,"tempfailed":0,"hits":2},
      {"rule":"attachment.macro","refused":1,"stripped":0,"quarantined":0,"tempfailed":0,"hits":1},
      {"rule":"attachment.type","refused":0,"stripped":1,"quarantined":0,"tempfailed":0,"hits":1},
      {"rule":"marketplace.important_misuse","refused":1,"stripped":0,"quarantined":0,"tempfailed":0,"hits":1},
      {"rule":"marketplace.important_quarantine","refused":0,"stripped":0,"quarantined":1,"tempfailed":0,"hits":1},
      {"rule":"marketplace.optout","refused":1,"stripped":0,"quarantined":0,"tempfailed":0,"hits":1},
      {"rule":"milter.internal","refused":0,"stripped":0,"quarantined":0,"tempfailed":1,"hits":1},
      {"rule":"rcpt.sender_not_counterpart","refused":1,"stripped":0,"quarantined":0,"tempfailed":0,"hits":1},
      {"rule":"store.unavailable","refused":0,"stripped":0,"quarantined":0,"tempfailed":1,"hits":1},
      {"rule":"alias.rewrite","refused":0,"stripped":0,"quarantined":0,"tempfailed":0,"hits":9},
      {"rule":"marketplace.buyer_message","refused":0,"stripped":0,"quarantined":0,"tempfailed":0,"hits":4},
      {"rule":"marketplace.critical","refused":0,"stripped":0,"quarantined":0,"tempfailed":0,"hits":1}
    ])"));
    EXPECT_EQ(j["refusals_per_day"], json::parse(R"([
      {"day":"2026-03-01","rules":{"links.removed":1,"marketplace.optout":1}},
      {"day":"2026-03-02","rules":{"marketplace.important_misuse":1}},
      {"day":"2026-03-03","rules":{"attachment.macro":1,"rcpt.sender_not_counterpart":1}}
    ])"));
}

TEST_F(ReportTest, SellersRefusedImportantAndResponseTimes) {
    json j = report_json();
    EXPECT_EQ(j["sellers_refused"], json::parse(R"([
      {"seller":"s1","refused":2,"sent":5,"quarantined":1,
       "rules":{"marketplace.important_misuse":1,"marketplace.optout":1}},
      {"seller":"s2","refused":1,"sent":2,"quarantined":0,"rules":{"links.removed":1}},
      {"seller":"s3","refused":1,"sent":1,"quarantined":0,"rules":{"attachment.macro":1}}
    ])"));
    EXPECT_EQ(j["important"], json::parse(R"([
      {"seller":"s1","tagged":2,"critical":1,"misuse":1,"over_threshold":1}
    ])"));
    // s1: answered after an hour; b1's later auto-reply does not count.  s2:
    // two buyer messages, the reply measured from the first.
    EXPECT_EQ(j["response_times"], json::parse(R"([
      {"seller":"s1","buyer_messages":1,"answered":1,"median_seconds":3600.0,"p90_seconds":3600.0,"sampled":false},
      {"seller":"s2","buyer_messages":2,"answered":1,"median_seconds":7200.0,"p90_seconds":7200.0,"sampled":false}
    ])"));
}

TEST_F(ReportTest, AttachmentTypesLinkDomainsAndTempfails) {
    json j = report_json();
    EXPECT_EQ(j["attachments"], json::parse(R"({
      "stripped":[{"type":"application/x-dosexec","count":1}],
      "refused":[{"type":"application/vnd.ms-word.document.macroEnabled.12","count":1}],
      "exact":true})"));
    EXPECT_EQ(j["links"], json({{"removed", 3},
                                {"messages", 2},
                                {"domains",
                                 {{{"domain", "evil.example"}, {"count", 2}},
                                  {{"domain", kHostileDomain}, {"count", 1}}}},
                                {"exact", true}}));
    EXPECT_EQ(j["tempfails"], json::parse(R"({
      "total":2,
      "causes":{"milter.internal":1,"store.unavailable":1},
      "details":[{"detail":"milter.internal: eom: boom","count":1},
                 {"detail":"store.unavailable: database is locked","count":1}],
      "exact":true})"));
}

TEST_F(ReportTest, SinceAndUntilTakeWholeDays) {
    AuditReportArgs args;
    args.since = "2026-03-02";
    args.until = "2026-03-02";
    json j = report_json(args);
    EXPECT_EQ(j["input"]["records"], 5);
    EXPECT_EQ(j["input"]["outside_dates"], 10);
    EXPECT_EQ(j["period"]["since"], "2026-03-02");
    EXPECT_EQ(j["decisions"]["total"], 5);
    EXPECT_EQ(j["per_day"].size(), 1u);
    args.since = "2026-03-03";
    args.until = "";
    EXPECT_EQ(report_json(args)["decisions"]["total"], 5);
}

TEST_F(ReportTest, BadArgumentsAreExit2) {
    AuditReportArgs args;
    args.since = "2026-02-30";
    EXPECT_EQ(run(args).rc, 2);
    args.since = "2026-03-03";
    args.until = "2026-03-01";
    Run r = run(args);
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("after --until"), std::string::npos) << r.err;
    AuditReportArgs missing;
    missing.files = {dir_.file("nope.log")};
    EXPECT_EQ(run(missing).rc, 2);
    AuditReportArgs format;
    format.format = "pdf";
    EXPECT_EQ(run(format).rc, 2);
}

TEST_F(ReportTest, NamedFilesAreReadOldestFirstWhateverTheOrderGiven) {
    AuditReportArgs args;
    args.files = {dir_.file("audit.log"), dir_.file("audit.log.1"), dir_.file("audit.log.2.gz")};
    json j = report_json(args);
    EXPECT_EQ(j["input"]["files"][0], dir_.file("audit.log.2.gz"));
    EXPECT_EQ(j["input"]["files"][2], dir_.file("audit.log"));
    EXPECT_EQ(j["response_times"][1]["median_seconds"], 7200.0);
}

TEST_F(ReportTest, AGzipFileCutShortIsReportedAndTheRestCounted) {
    const std::string whole = read_file(dir_.file("audit.log.2.gz"));
    write_file(dir_.file("audit.log.3.gz"), whole.substr(0, whole.size() / 2));
    json j = report_json();
    ASSERT_EQ(j["input"]["file_errors"].size(), 1u);
    EXPECT_NE(j["input"]["file_errors"][0].get<std::string>().find("audit.log.3.gz"),
              std::string::npos);
    EXPECT_EQ(j["input"]["files"][0], dir_.file("audit.log.3.gz"));
    EXPECT_GE(j["input"]["lines"].get<int>(), 17);
}

TEST_F(ReportTest, AnOverlongLineIsOneBadLine) {
    write_file(dir_.file("long.log"),
               std::string(3 << 20, 'x') + "\n" +
                   line("2026-03-04T00:00:00Z", Decision::accept, {}, "b1", "s1"));
    AuditReportArgs args;
    args.files = {dir_.file("long.log")};
    json j = report_json(args);
    EXPECT_EQ(j["input"]["bad_lines"], 1);
    EXPECT_EQ(j["input"]["records"], 1);
}

TEST_F(ReportTest, TextShowsTheSameFigures) {
    Run r = run({});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("records: 15, outside the dates: 0, bad lines: 2"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("decisions: accept 2 modify 5 quarantine 1 reject 5 tempfail 2"),
              std::string::npos);
    EXPECT_NE(r.out.find("2026-03-02       1       2           1       1         0      5"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("s1            2     5            1  marketplace.important_misuse 1, "
                         "marketplace.optout 1"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("s2                   2         1   2.0 h  2.0 h"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("3 link(s) removed from 2 message(s)"), std::string::npos);
}

TEST_F(ReportTest, TextKeepsControlCharactersFromMailOffTheTerminal) {
    write_file(
        dir_.file("esc.log"),
        line("2026-03-04T00:00:00Z", Decision::modify,
             {{"links.removed", "1 link(s): \x1b]0;owned\x07x\x1b[2J.example"}}, "s1", "b1"));
    AuditReportArgs args;
    args.files = {dir_.file("esc.log")};
    Run r = run(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
    EXPECT_EQ(r.out.find('\x07'), std::string::npos);
    EXPECT_NE(r.out.find("?]0;owned?x?[2J.example"), std::string::npos) << r.out;
}

TEST_F(ReportTest, HtmlEscapesWhatCameFromMail) {
    AuditReportArgs args;
    args.format = "html";
    args.out = dir_.file("report.html");
    ASSERT_EQ(run(args).rc, 0);
    const std::string html = read_file(args.out);
    EXPECT_EQ(html.find("<script>alert"), std::string::npos);
    EXPECT_EQ(html.find("<img"), std::string::npos);
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;.example"), std::string::npos);
    // One script: ours, allowed by its hash; nothing else may run.
    std::size_t scripts = 0;
    for (std::size_t at = html.find("<script"); at != std::string::npos;
         at = html.find("<script", at + 1))
        ++scripts;
    EXPECT_EQ(scripts, 1u);
    EXPECT_NE(html.find("script-src 'sha256-"), std::string::npos);
    EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
    for (const char* chart : {"chart-decisions", "chart-refusals", "chart-rules", "chart-sellers"})
        EXPECT_NE(html.find(std::string("<svg id=\"") + chart), std::string::npos) << chart;
}

TEST_F(ReportTest, AuditIdPrintsEveryLineOfOneMessageAcrossFiles) {
    ::testing::internal::CaptureStdout();
    const int rc = cmd_report_audit_id(config(), "twice", {});
    const json j = json::parse(::testing::internal::GetCapturedStdout());
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(j["records"].size(), 2u);
    EXPECT_EQ(j["records"][0]["file"], dir_.file("audit.log.2.gz"));
    EXPECT_EQ(j["records"][0]["line"], 5);
    EXPECT_EQ(j["records"][0]["record"]["rules"][0]["id"], "store.unavailable");
    EXPECT_EQ(j["records"][1]["file"], dir_.file("audit.log"));
    EXPECT_EQ(j["records"][1]["record"]["time"], "2026-03-03T10:00:00Z");
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(cmd_report_audit_id(config(), "missing", {}), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("no audit line with id 'missing'"),
              std::string::npos);
}

// -- the pieces --

TEST(ReportPiecesTest, RotatedNamesSortOldestFirst) {
    std::vector<std::string> paths = {"/l/audit.log", "/l/other.log", "/l/audit.log.1",
                                      "/l/audit.log.10.gz", "/l/audit.log.2.gz"};
    report::oldest_first(paths);
    EXPECT_EQ(paths, (std::vector<std::string>{"/l/audit.log.10.gz", "/l/audit.log.2.gz",
                                               "/l/audit.log.1", "/l/audit.log", "/l/other.log"}));
    std::vector<std::string> dated = {"x/a.log", "x/a.log-20260302.gz", "x/a.log-20260301"};
    report::oldest_first(dated);
    EXPECT_EQ(dated,
              (std::vector<std::string>{"x/a.log-20260301", "x/a.log-20260302.gz", "x/a.log"}));
}

TEST(ReportPiecesTest, TopCounterIsExactUntilFullThenBoundsItsError) {
    report::TopCounter c(2);
    c.add("a", 5);
    c.add("b", 3);
    EXPECT_TRUE(c.exact());
    c.add("c");  // evicts b (3): c counts 4, of which 3 may be b's
    EXPECT_FALSE(c.exact());
    auto top = c.top(5);
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].key, "a");
    EXPECT_EQ(top[0].count, 5u);
    EXPECT_EQ(top[1].key, "c");
    EXPECT_EQ(top[1].count, 4u);
    EXPECT_EQ(top[1].error, 3u);
    EXPECT_EQ(c.total(), 9u);
}

TEST(ReportPiecesTest, SampleIsExactWhileSmallAndBoundedAfter) {
    report::Sample s(100);
    for (int i = 1; i <= 100; ++i) s.add(i);
    EXPECT_TRUE(s.exact());
    EXPECT_DOUBLE_EQ(*s.percentile(0.5), 50.5);
    for (int i = 101; i <= 10000; ++i) s.add(i);
    EXPECT_FALSE(s.exact());
    EXPECT_EQ(s.count(), 10000u);
    EXPECT_NEAR(*s.percentile(0.5), 5000, 1500);  // a uniform sample of 1..10000
    EXPECT_FALSE(report::Sample().percentile(0.5));
}

}  // namespace
}  // namespace mm::milter
