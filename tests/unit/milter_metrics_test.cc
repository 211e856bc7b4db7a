// milter/metrics: the daemon's metrics agree with the audit log the same
// records went to, read the store, its caches and the evaluation gate when
// scraped, and count reloads; the exact exposition of a fresh daemon.
#include "milter/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "alias/counting_store.h"
#include "alias/sqlite_store.h"
#include "audit/audit_line.h"
#include "tests/support/fake_store.h"
#include "tests/support/test_support.h"

namespace mm::milter {
namespace {

using namespace std::chrono_literals;
using policy::Decision;

// "name{labels}" -> value, from the text format (comments skipped).
std::map<std::string, double> samples(const std::string& text) {
    std::map<std::string, double> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t end = text.find('\n', pos);
        const std::string line = text.substr(pos, end - pos);
        pos = end == std::string::npos ? text.size() : end + 1;
        if (line.empty() || line[0] == '#') continue;
        const std::size_t space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

double sample(const MilterMetrics& m, const std::string& key) {
    const auto all = samples(m.render());
    auto it = all.find(key);
    return it == all.end() ? -1 : it->second;
}

AuditRecord record(Decision decision, std::vector<std::string> rules, std::uint64_t milter_us) {
    AuditRecord r;
    r.audit_id = "0123456789abcdef";
    r.decision = decision;
    for (auto& id : rules) r.rules.push_back({std::move(id), "detail"});
    r.policy_version = "test";
    r.milter_us = milter_us;
    return r;
}

TEST(MilterMetrics, DecisionsRulesAndTimesAgreeWithTheAuditLog) {
    mm::testing::TempDir dir;
    const std::string path = dir.file("audit.log");
    MilterMetrics metrics;
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log) << log.error().message;
    (*log)->set_observer(
        [&metrics](const AuditRecord& r, bool written) { metrics.audited(r, written); });

    const AuditRecord records[] = {
        record(Decision::accept, {}, 300),
        record(Decision::modify, {"alias.rewrite", "links.removed", "links.removed"}, 800),
        record(Decision::reject, {"rcpt.unknown_alias"}, 40),
        record(Decision::reject, {"content.review_for_reward"}, 3000),
        record(Decision::tempfail, {"store.unavailable"}, 1200000),
        record(Decision::quarantine, {"marketplace.unsolicited", "alias.rewrite"}, 700),
    };
    for (const auto& r : records) ASSERT_TRUE((*log)->write(r).ok());

    // What the log holds, counted as the integration test counts it.
    std::map<std::string, int> decisions, rules;
    std::ifstream in(path);
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        auto parsed = parse_audit_line(line);
        ASSERT_TRUE(parsed) << parsed.error().message;
        ++decisions[policy::to_string(parsed->decision)];
        for (const auto& hit : parsed->rules) ++rules[hit.id];
    }
    ASSERT_EQ(lines, 6);
    const auto scraped = samples(metrics.render());
    for (const char* d : {"accept", "modify", "quarantine", "reject", "tempfail"})
        EXPECT_EQ(
            scraped.at(std::string("marketplace_milter_decisions_total{decision=\"") + d + "\"}"),
            decisions[d])
            << d;
    for (const auto& [id, n] : rules)
        EXPECT_EQ(scraped.at("marketplace_milter_rule_hits_total{rule=\"" + id + "\"}"), n) << id;
    EXPECT_EQ(scraped.at("marketplace_milter_rule_hits_total{rule=\"links.removed\"}"), 2);
    EXPECT_EQ(scraped.at("marketplace_milter_milter_seconds_count"), 6);
    // 40 and 300 us; 700 and 800; 3 ms; 1.2 s.
    EXPECT_EQ(scraped.at("marketplace_milter_milter_seconds_bucket{le=\"0.0005\"}"), 2);
    EXPECT_EQ(scraped.at("marketplace_milter_milter_seconds_bucket{le=\"0.001\"}"), 4);
    EXPECT_EQ(scraped.at("marketplace_milter_milter_seconds_bucket{le=\"0.005\"}"), 5);
    EXPECT_EQ(scraped.at("marketplace_milter_milter_seconds_bucket{le=\"1\"}"), 5);
    EXPECT_EQ(scraped.at("marketplace_milter_milter_seconds_bucket{le=\"2.5\"}"), 6);
    EXPECT_NEAR(scraped.at("marketplace_milter_milter_seconds_sum"), 1.20484, 1e-9);
    EXPECT_EQ(scraped.at("marketplace_milter_audit_write_failures_total"), 0);
}

TEST(MilterMetrics, LineTheLogDidNotTakeIsCountedApart) {
    MilterMetrics metrics;
    metrics.audited(record(Decision::modify, {"alias.rewrite"}, 500), false);
    EXPECT_EQ(sample(metrics, "marketplace_milter_audit_write_failures_total"), 1);
    EXPECT_EQ(sample(metrics, "marketplace_milter_decisions_total{decision=\"modify\"}"), 0);
    EXPECT_EQ(sample(metrics, "marketplace_milter_rule_hits_total{rule=\"alias.rewrite\"}"), -1);
    EXPECT_EQ(sample(metrics, "marketplace_milter_milter_seconds_count"), 0);
}

TEST(MilterMetrics, ReloadsByResultAndTheTimeOfTheLastSuccess) {
    MilterMetrics metrics;
    metrics.loaded(1764975600);
    EXPECT_EQ(sample(metrics, "marketplace_milter_reloads_total{result=\"ok\"}"), 0);
    EXPECT_EQ(sample(metrics, "marketplace_milter_last_reload_success_timestamp_seconds"),
              1764975600);
    metrics.reloaded(true, 1764975700.5);
    metrics.reloaded(false, 1764975800);
    metrics.reloaded(false, 1764975900);
    EXPECT_EQ(sample(metrics, "marketplace_milter_reloads_total{result=\"ok\"}"), 1);
    EXPECT_EQ(sample(metrics, "marketplace_milter_reloads_total{result=\"failed\"}"), 2);
    // A failed reload keeps the time of the last good one.
    EXPECT_EQ(sample(metrics, "marketplace_milter_last_reload_success_timestamp_seconds"),
              1764975700.5);
}

// The store fails as an unreachable database does, or answers "conflict"
// (not a store error: an answer about the input).
class FailingStore : public mm::testing::ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;
    bool down = false;
    Result<std::optional<alias::Pair>> find_pair_by_alias(const std::string& local) override {
        if (down) return unavailable();
        return ForwardingStore::find_pair_by_alias(local);
    }
    Result<void> record_message_id(const alias::MessageIdRecord&) override {
        return fail(Errc::conflict, "exists");
    }
};

class WatchedDaemon : public ::testing::Test {
protected:
    void SetUp() override {
        auto sqlite = alias::open_sqlite_store(dir_.file("store.db"), 100);
        ASSERT_TRUE(sqlite) << sqlite.error().message;
        failing_ = std::make_shared<FailingStore>(std::move(sqlite).value());
        store_ = std::make_shared<alias::CountingStore>(failing_);
        alias::Party b;
        b.id = "b1";
        b.address = "bob@gmail.example";
        alias::Party s;
        s.id = "s1";
        s.role = alias::Role::seller;
        s.address = "shop@acme.example";
        ASSERT_TRUE(store_->add_party(b).ok());
        ASSERT_TRUE(store_->add_party(s).ok());
        auto pair = store_->add_pair("b1", "s1");
        ASSERT_TRUE(pair) << pair.error().message;
        buyer_alias_ = pair->buyer_alias;
        directory_ = std::make_unique<alias::AliasDirectory>(store_, 60000ms);
        metrics_.watch(gate_, *store_, *directory_);
        metrics_.loaded(1764975600);
    }

    mm::testing::TempDir dir_;
    std::shared_ptr<FailingStore> failing_;
    std::shared_ptr<alias::CountingStore> store_;
    std::unique_ptr<alias::AliasDirectory> directory_;
    EvaluationGate gate_{2};
    MilterMetrics metrics_;
    std::string buyer_alias_;
};

// The whole exposition of a daemon that has decided nothing yet, after the
// provisioning's three writes: every metric with its HELP and TYPE.
TEST_F(WatchedDaemon, ExactExpositionOfAFreshDaemon) {
    EXPECT_EQ(metrics_.render(),
              "# HELP marketplace_milter_decisions_total Decisions on messages, one per audit "
              "line (a recipient refused at RCPT is one), by decision as the audit log names "
              "it.\n"
              "# TYPE marketplace_milter_decisions_total counter\n"
              "marketplace_milter_decisions_total{decision=\"accept\"} 0\n"
              "marketplace_milter_decisions_total{decision=\"modify\"} 0\n"
              "marketplace_milter_decisions_total{decision=\"quarantine\"} 0\n"
              "marketplace_milter_decisions_total{decision=\"reject\"} 0\n"
              "marketplace_milter_decisions_total{decision=\"tempfail\"} 0\n"
              "# HELP marketplace_milter_rule_hits_total Rule hits in the decisions' audit "
              "lines, by rule id (each hit of a line counted).\n"
              "# TYPE marketplace_milter_rule_hits_total counter\n"
              "# HELP marketplace_milter_milter_seconds Time spent inside this filter's "
              "callbacks per decision (the audit line's milter_us), in seconds.\n"
              "# TYPE marketplace_milter_milter_seconds histogram\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.0005\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.001\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.0025\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.005\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.01\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.025\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.05\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.1\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.25\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"0.5\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"1\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"2.5\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"5\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"10\"} 0\n"
              "marketplace_milter_milter_seconds_bucket{le=\"+Inf\"} 0\n"
              "marketplace_milter_milter_seconds_sum 0\n"
              "marketplace_milter_milter_seconds_count 0\n"
              "# HELP marketplace_milter_audit_write_failures_total Audit lines the audit log "
              "did not take (the message was tempfailed, or delivered as committed with its "
              "line in syslog); not in the decision counts.\n"
              "# TYPE marketplace_milter_audit_write_failures_total counter\n"
              "marketplace_milter_audit_write_failures_total 0\n"
              "# HELP marketplace_milter_reloads_total Reloads of config and policy (SIGUSR1), "
              "by result.\n"
              "# TYPE marketplace_milter_reloads_total counter\n"
              "marketplace_milter_reloads_total{result=\"failed\"} 0\n"
              "marketplace_milter_reloads_total{result=\"ok\"} 0\n"
              "# HELP marketplace_milter_last_reload_success_timestamp_seconds Unix time of the "
              "last successful load of config and policy (start or reload).\n"
              "# TYPE marketplace_milter_last_reload_success_timestamp_seconds gauge\n"
              "marketplace_milter_last_reload_success_timestamp_seconds 1764975600\n"
              "# HELP marketplace_milter_evaluations_in_flight Messages being evaluated now "
              "(max_parallel_evaluations bounds it).\n"
              "# TYPE marketplace_milter_evaluations_in_flight gauge\n"
              "marketplace_milter_evaluations_in_flight 0\n"
              "# HELP marketplace_milter_evaluations_queued Messages waiting at end of message "
              "for an evaluation slot.\n"
              "# TYPE marketplace_milter_evaluations_queued gauge\n"
              "marketplace_milter_evaluations_queued 0\n"
              "# HELP marketplace_milter_realtime_budget_overruns_total Ends of message that "
              "used up realtime_budget_ms under SCHED_FIFO and finished at the normal "
              "priority.\n"
              "# TYPE marketplace_milter_realtime_budget_overruns_total counter\n"
              "marketplace_milter_realtime_budget_overruns_total 0\n"
              "# HELP marketplace_milter_store_lookups_total Reads that reached the store (the "
              "caches' misses among them).\n"
              "# TYPE marketplace_milter_store_lookups_total counter\n"
              "marketplace_milter_store_lookups_total 0\n"
              "# HELP marketplace_milter_store_writes_total Writes to the store (Message-ID "
              "mappings, thread state, deliveries).\n"
              "# TYPE marketplace_milter_store_writes_total counter\n"
              "marketplace_milter_store_writes_total 3\n"
              "# HELP marketplace_milter_store_errors_total Store calls that failed because the "
              "backend could not answer (unavailable or internal); on the message path each is "
              "a 451 4.3.0.\n"
              "# TYPE marketplace_milter_store_errors_total counter\n"
              "marketplace_milter_store_errors_total 0\n"
              "# HELP marketplace_milter_cache_hits_total Lookups answered by the daemon's "
              "caches, by cache.\n"
              "# TYPE marketplace_milter_cache_hits_total counter\n"
              "marketplace_milter_cache_hits_total{cache=\"alias\"} 0\n"
              "marketplace_milter_cache_hits_total{cache=\"order\"} 0\n"
              "# HELP marketplace_milter_cache_misses_total Lookups the daemon's caches could "
              "not answer (they went to the store), by cache.\n"
              "# TYPE marketplace_milter_cache_misses_total counter\n"
              "marketplace_milter_cache_misses_total{cache=\"alias\"} 0\n"
              "marketplace_milter_cache_misses_total{cache=\"order\"} 0\n");
}

TEST_F(WatchedDaemon, StoreLookupsAndCacheHitsAreReadWhenScraped) {
    // A miss: the pair and both parties from the store.  Then a hit.
    ASSERT_TRUE(directory_->resolve(buyer_alias_));
    ASSERT_TRUE(directory_->resolve(buyer_alias_));
    // Not an alias at all: neither the cache nor the store is asked.
    ASSERT_TRUE(directory_->resolve("postmaster"));
    ASSERT_TRUE(directory_->find_order("o-1"));  // a miss, cached as "none"
    ASSERT_TRUE(directory_->find_order("o-1"));
    ASSERT_TRUE(directory_->find_order("o-1"));
    const auto s = samples(metrics_.render());
    EXPECT_EQ(s.at("marketplace_milter_cache_hits_total{cache=\"alias\"}"), 1);
    EXPECT_EQ(s.at("marketplace_milter_cache_misses_total{cache=\"alias\"}"), 1);
    EXPECT_EQ(s.at("marketplace_milter_cache_hits_total{cache=\"order\"}"), 2);
    EXPECT_EQ(s.at("marketplace_milter_cache_misses_total{cache=\"order\"}"), 1);
    EXPECT_EQ(s.at("marketplace_milter_store_lookups_total"), 4);
    EXPECT_EQ(s.at("marketplace_milter_store_errors_total"), 0);
}

TEST_F(WatchedDaemon, StoreErrorsCountBackendFailuresOnly) {
    failing_->down = true;
    EXPECT_FALSE(directory_->resolve(buyer_alias_));  // unavailable: an error, never cached
    EXPECT_FALSE(directory_->resolve(buyer_alias_));
    alias::MessageIdRecord r;
    EXPECT_EQ(store_->record_message_id(r).error().code, Errc::conflict);  // an answer
    const auto s = samples(metrics_.render());
    EXPECT_EQ(s.at("marketplace_milter_store_errors_total"), 2);
    EXPECT_EQ(s.at("marketplace_milter_store_lookups_total"), 2);
    EXPECT_EQ(s.at("marketplace_milter_store_writes_total"), 4);
    EXPECT_EQ(s.at("marketplace_milter_cache_misses_total{cache=\"alias\"}"), 2);
}

TEST_F(WatchedDaemon, GateInFlightAndQueued) {
    auto first = gate_.acquire(1s);
    auto second = gate_.acquire(1s);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(sample(metrics_, "marketplace_milter_evaluations_in_flight"), 2);
    EXPECT_EQ(sample(metrics_, "marketplace_milter_evaluations_queued"), 0);
    std::thread waiter([this] { auto third = gate_.acquire(10s); });
    // The waiter is queued until a slot comes free.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (gate_.load().queued == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(sample(metrics_, "marketplace_milter_evaluations_queued"), 1);
    first.reset();
    waiter.join();
    EXPECT_EQ(sample(metrics_, "marketplace_milter_evaluations_queued"), 0);
    EXPECT_EQ(sample(metrics_, "marketplace_milter_evaluations_in_flight"), 1);
}

}  // namespace
}  // namespace mm::milter
