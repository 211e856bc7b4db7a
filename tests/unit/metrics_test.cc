// util/metrics: the registry's instruments and the Prometheus text format,
// as exact output for known counts.
#include "util/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mm::metrics {
namespace {

TEST(MetricsTextFormat, ExactOutputForKnownCounts) {
    Registry r;
    Counter& messages = r.counter("demo_messages_total", "Messages seen.");
    Gauge& temperature = r.gauge("demo_temperature_celsius", "Temperature.");
    LabelledCounter& by_rule = r.labelled_counter("demo_rule_hits_total", "Hits by rule.", "rule");
    Histogram& seconds = r.histogram("demo_seconds", "Time taken.", {0.25, 0.5, 1});
    r.gauge_fn("demo_queue", "Queued now.", [] { return 3; });
    r.counter_fn("demo_reads_total", "Reads.", [] { return 12; });
    r.labelled_counter_fn("demo_cache_hits_total", "Hits by cache.", "cache", [] {
        return std::vector<std::pair<std::string, double>>{{"order", 2}, {"alias", 40}};
    });

    messages.inc();
    messages.inc(4);
    temperature.set(21.5);
    by_rule.inc("links.removed");
    by_rule.inc("attachment.stripped", 2);
    by_rule.inc("links.removed");
    // Fractions of two, so the sum is exact.
    seconds.observe(0.125);  // first bucket
    seconds.observe(0.25);   // "le": on the bound is in that bucket
    seconds.observe(0.75);
    seconds.observe(4);  // only +Inf

    EXPECT_EQ(r.render(),
              "# HELP demo_messages_total Messages seen.\n"
              "# TYPE demo_messages_total counter\n"
              "demo_messages_total 5\n"
              "# HELP demo_temperature_celsius Temperature.\n"
              "# TYPE demo_temperature_celsius gauge\n"
              "demo_temperature_celsius 21.5\n"
              "# HELP demo_rule_hits_total Hits by rule.\n"
              "# TYPE demo_rule_hits_total counter\n"
              "demo_rule_hits_total{rule=\"attachment.stripped\"} 2\n"
              "demo_rule_hits_total{rule=\"links.removed\"} 2\n"
              "# HELP demo_seconds Time taken.\n"
              "# TYPE demo_seconds histogram\n"
              "demo_seconds_bucket{le=\"0.25\"} 2\n"
              "demo_seconds_bucket{le=\"0.5\"} 2\n"
              "demo_seconds_bucket{le=\"1\"} 3\n"
              "demo_seconds_bucket{le=\"+Inf\"} 4\n"
              "demo_seconds_sum 5.125\n"
              "demo_seconds_count 4\n"
              "# HELP demo_queue Queued now.\n"
              "# TYPE demo_queue gauge\n"
              "demo_queue 3\n"
              "# HELP demo_reads_total Reads.\n"
              "# TYPE demo_reads_total counter\n"
              "demo_reads_total 12\n"
              "# HELP demo_cache_hits_total Hits by cache.\n"
              "# TYPE demo_cache_hits_total counter\n"
              "demo_cache_hits_total{cache=\"alias\"} 40\n"
              "demo_cache_hits_total{cache=\"order\"} 2\n");
}

TEST(MetricsTextFormat, NothingObservedYet) {
    Registry r;
    r.counter("empty_total", "Nothing yet.");
    r.labelled_counter("empty_by_total", "No labels yet.", "kind");
    r.histogram("empty_seconds", "No observations.", {1});
    EXPECT_EQ(r.render(),
              "# HELP empty_total Nothing yet.\n"
              "# TYPE empty_total counter\n"
              "empty_total 0\n"
              "# HELP empty_by_total No labels yet.\n"
              "# TYPE empty_by_total counter\n"
              "# HELP empty_seconds No observations.\n"
              "# TYPE empty_seconds histogram\n"
              "empty_seconds_bucket{le=\"1\"} 0\n"
              "empty_seconds_bucket{le=\"+Inf\"} 0\n"
              "empty_seconds_sum 0\n"
              "empty_seconds_count 0\n");
}

TEST(MetricsTextFormat, LabelValuesAndHelpAreEscaped) {
    Registry r;
    LabelledCounter& c =
        r.labelled_counter("escape_total", "Back\\slash and\nnew line \"quoted\".", "rule");
    c.inc("a\"b");
    c.inc("c\\d");
    c.inc("e\nf");
    c.inc("plain ünïcode");
    EXPECT_EQ(r.render(),
              "# HELP escape_total Back\\\\slash and\\nnew line \"quoted\".\n"
              "# TYPE escape_total counter\n"
              "escape_total{rule=\"a\\\"b\"} 1\n"
              "escape_total{rule=\"c\\\\d\"} 1\n"
              "escape_total{rule=\"e\\nf\"} 1\n"
              "escape_total{rule=\"plain ünïcode\"} 1\n");
    EXPECT_EQ(escape_label_value("x\"\\\ny"), "x\\\"\\\\\\ny");
    EXPECT_EQ(escape_help("x\"\\\ny"), "x\"\\\\\\ny");
}

TEST(MetricsTextFormat, Values) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(42), "42");
    EXPECT_EQ(format_value(-3), "-3");
    EXPECT_EQ(format_value(18446744073709551615.0), "18446744073709551616");
    EXPECT_EQ(format_value(1e21), "1e+21");
    EXPECT_EQ(format_value(1.5e-7), "1.5e-07");
    EXPECT_EQ(format_value(0.1 + 0.2), "0.30000000000000004");  // reads back the same
    EXPECT_EQ(format_value(1764975600), "1764975600");
    EXPECT_EQ(format_value(1764975600.25), "1764975600.25");
    EXPECT_EQ(format_value(0.0005), "0.0005");
    EXPECT_EQ(format_value(INFINITY), "+Inf");
    EXPECT_EQ(format_value(-INFINITY), "-Inf");
    EXPECT_EQ(format_value(NAN), "NaN");
}

TEST(MetricsLabels, PastTheBoundCountedAsOther) {
    Registry r;
    LabelledCounter& c = r.labelled_counter("bounded_total", "Bounded.", "rule", 2);
    c.inc("a");
    c.inc("b");
    c.inc("c");
    c.inc("d", 5);
    c.inc("a");
    EXPECT_EQ(c.value("a"), 2u);
    EXPECT_EQ(c.value("b"), 1u);
    EXPECT_EQ(c.value("c"), 0u);
    EXPECT_EQ(c.value("other"), 6u);
    EXPECT_EQ(c.values().size(), 3u);  // a, b, other: never more than the bound and one
}

TEST(MetricsLabels, DeclaredWithZeroShowsTheLabel) {
    Registry r;
    LabelledCounter& c = r.labelled_counter("declared_total", "Declared.", "result");
    c.inc("ok", 0);
    c.inc("failed", 0);
    EXPECT_EQ(r.render(),
              "# HELP declared_total Declared.\n"
              "# TYPE declared_total counter\n"
              "declared_total{result=\"failed\"} 0\n"
              "declared_total{result=\"ok\"} 0\n");
}

TEST(MetricsRegistry, BadNamesAndDuplicatesAreRefused) {
    Registry r;
    EXPECT_THROW(r.counter("1starts_with_digit", "x"), std::invalid_argument);
    EXPECT_THROW(r.counter("has-dash", "x"), std::invalid_argument);
    EXPECT_THROW(r.counter("", "x"), std::invalid_argument);
    EXPECT_THROW(r.labelled_counter("ok_total", "x", "__reserved"), std::invalid_argument);
    EXPECT_THROW(r.labelled_counter("ok2_total", "x", "le"), std::invalid_argument);
    EXPECT_THROW(r.labelled_counter("ok3_total", "x", "a:b"), std::invalid_argument);
    EXPECT_THROW(r.histogram("h_seconds", "x", {1, 0.5}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h2_seconds", "x", {1, 1}), std::invalid_argument);
    r.counter("name:with_colon_total", "x");
    EXPECT_THROW(r.gauge("name:with_colon_total", "x"), std::invalid_argument);
}

// Many threads count at once: nothing is lost (run it under TSan too).
TEST(MetricsConcurrency, CountsFromManyThreadsAddUp) {
    Registry r;
    Counter& c = r.counter("threads_total", "x");
    LabelledCounter& l = r.labelled_counter("threads_by_total", "x", "t");
    Histogram& h = r.histogram("threads_seconds", "x", {0.5});
    constexpr int kThreads = 4, kEach = 10000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                c.inc();
                l.inc(t % 2 ? "odd" : "even");
                h.observe(i % 2 ? 1.0 : 0.25);
                if (i % 1000 == 0) (void)r.render();
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), static_cast<std::uint64_t>(kThreads * kEach));
    EXPECT_EQ(l.value("odd") + l.value("even"), static_cast<std::uint64_t>(kThreads * kEach));
    const auto s = h.snapshot();
    EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads * kEach));
    EXPECT_EQ(s.cumulative[0], static_cast<std::uint64_t>(kThreads * kEach / 2));
    EXPECT_DOUBLE_EQ(s.sum, kThreads * kEach / 2 * 1.25);
}

}  // namespace
}  // namespace mm::metrics
