// Unit tests for the response-time report (alias/response_report.h) and the
// CLI's --since date parsing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "alias/response_report.h"
#include "cli/cli.h"

namespace mm::alias {
namespace {

constexpr std::int64_t kH = 3600;
constexpr std::int64_t kNow = 1'714'564'800;

ResponseTime rt(const std::string& seller, std::int64_t at, std::int64_t reply_after) {
    return ResponseTime{seller, at, reply_after < 0 ? 0 : at + reply_after};
}

TEST(PercentileTest, InterpolatesBetweenRanks) {
    EXPECT_DOUBLE_EQ(percentile({5}, 0.5), 5);
    EXPECT_DOUBLE_EQ(percentile({5}, 0.9), 5);
    EXPECT_DOUBLE_EQ(percentile({1, 3}, 0.5), 2);
    EXPECT_DOUBLE_EQ(percentile({1, 2, 3}, 0.5), 2);
    EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 0.5), 2.5);
    // 10 values 1..10: rank 0.9 * 9 = 8.1 -> 9 + 0.1 * (10 - 9)
    EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9), 9.1);
    EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.0), 1);
    EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 1.0), 10);
    EXPECT_DOUBLE_EQ(percentile({}, 0.5), 0);
}

TEST(HoursTest, OneDecimal) {
    EXPECT_DOUBLE_EQ(hours_1dp(5400), 1.5);
    EXPECT_DOUBLE_EQ(hours_1dp(0), 0.0);
    EXPECT_DOUBLE_EQ(hours_1dp(3600 * 2 + 179), 2.0);
    EXPECT_DOUBLE_EQ(hours_1dp(3600 * 2 + 181), 2.1);
}

TEST(ResponseReportTest, PerSellerMedianP90AndShareWithin) {
    const std::int64_t old = kNow - 10 * 24 * kH;
    std::vector<ResponseTime> log = {
        rt("s2", old, 1 * kH),      rt("s1", old, 2 * kH), rt("s1", old + 1, 4 * kH),
        rt("s1", old + 2, 30 * kH), rt("s1", old + 3, -1),  // never answered
        rt("s1", kNow - kH, -1),                            // pending: inside the window
    };
    auto report = response_report(log, 24 * kH, kNow);
    ASSERT_EQ(report.size(), 2u);

    const auto& s1 = report[0];
    EXPECT_EQ(s1.seller_id, "s1");
    EXPECT_EQ(s1.buyer_messages, 5);
    EXPECT_EQ(s1.answered, 3);
    EXPECT_EQ(s1.answered_within, 2);
    EXPECT_EQ(s1.pending, 1);
    ASSERT_TRUE(s1.median_s && s1.p90_s && s1.share_within);
    EXPECT_DOUBLE_EQ(*s1.median_s, 4.0 * kH);
    // {2, 4, 30} h: rank 0.9 * 2 = 1.8 -> 4 + 0.8 * 26 = 24.8 h
    EXPECT_NEAR(*s1.p90_s, 24.8 * kH, 1e-6);
    EXPECT_DOUBLE_EQ(hours_1dp(*s1.p90_s), 24.8);
    EXPECT_DOUBLE_EQ(*s1.share_within, 0.5);  // 2 of 4 decided

    const auto& s2 = report[1];
    EXPECT_EQ(s2.seller_id, "s2");
    EXPECT_EQ(s2.buyer_messages, 1);
    EXPECT_DOUBLE_EQ(*s2.median_s, 1.0 * kH);
    EXPECT_DOUBLE_EQ(*s2.share_within, 1.0);
}

TEST(ResponseReportTest, WindowIsConfigurableAndInclusive) {
    std::vector<ResponseTime> log = {rt("s1", 0, 2 * kH), rt("s1", 10, 3 * kH),
                                     rt("s1", 20, 2 * kH + 1)};
    auto r = response_report(log, 2 * kH, kNow);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].answered_within, 1);
    EXPECT_NEAR(*r[0].share_within, 1.0 / 3, 1e-12);
}

TEST(ResponseReportTest, NoAnswersGiveNoPercentiles) {
    auto r = response_report({rt("s1", 0, -1)}, 24 * kH, kNow);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].answered, 0);
    EXPECT_FALSE(r[0].median_s);
    EXPECT_FALSE(r[0].p90_s);
    ASSERT_TRUE(r[0].share_within);
    EXPECT_DOUBLE_EQ(*r[0].share_within, 0.0);

    auto pending_only = response_report({rt("s1", kNow - 10, -1)}, 24 * kH, kNow);
    EXPECT_FALSE(pending_only[0].share_within);
}

TEST(ResponseReportTest, NamedSellerWithoutEntriesIsListed) {
    auto r = response_report({}, 24 * kH, kNow, {"quiet"});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].seller_id, "quiet");
    EXPECT_EQ(r[0].buyer_messages, 0);
    EXPECT_FALSE(r[0].share_within);
    EXPECT_TRUE(response_report({}, 24 * kH, kNow).empty());
}

TEST(ResponseReportTest, ReplyBeforeMessageCountsAsZero) {
    auto r = response_report({ResponseTime{"s1", 100, 50}}, kH, kNow);
    EXPECT_DOUBLE_EQ(*r[0].median_s, 0);
}

TEST(ParseUtcDateTest, CalendarDatesOnly) {
    EXPECT_EQ(milter::parse_utc_date("1970-01-01"), 0);
    EXPECT_EQ(milter::parse_utc_date("2024-05-01"), 1'714'521'600);
    EXPECT_EQ(milter::parse_utc_date("2024-02-29"), 1'709'164'800);
    for (const char* bad : {"2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-5-1",
                            "20240501", "2024-05-01T00:00", "", "abcd-ef-gh", "2024-05-00"})
        EXPECT_FALSE(milter::parse_utc_date(bad)) << bad;
}

}  // namespace
}  // namespace mm::alias
