// AuditLog: one line per record with private permissions, reopen for
// logrotate, stdout, concurrent writers, and its failure spells.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit.h"
#include "tests/support/audit_samples.h"
#include "tests/support/test_support.h"

namespace mm::milter {
namespace {

using audit_testing::sample_record;

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
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
