#include "milter/metrics.h"

#include "milter/realtime.h"
#include "policy/verdict.h"

namespace mm::milter {
namespace {

using policy::Decision;

std::string named(const char* name) {
    return std::string(MilterMetrics::kPrefix) + name;
}

// From a fraction of a millisecond (a small text message) to the seconds a
// message near the CPU budget takes; the MTA's milter timeouts are minutes.
std::vector<double> milter_time_buckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace

MilterMetrics::MilterMetrics()
    : decisions_(registry_.labelled_counter(
          named("decisions_total"),
          "Decisions on messages, one per audit line (a recipient refused at RCPT is one), by "
          "decision as the audit log names it.",
          "decision", 16)),
      rules_(registry_.labelled_counter(
          named("rule_hits_total"),
          "Rule hits in the decisions' audit lines, by rule id (each hit of a line counted).",
          "rule")),
      milter_seconds_(registry_.histogram(
          named("milter_seconds"),
          "Time spent inside this filter's callbacks per decision (the audit line's milter_us), "
          "in seconds.",
          milter_time_buckets())),
      audit_failures_(registry_.counter(
          named("audit_write_failures_total"),
          "Audit lines the audit log did not take (the message was tempfailed, or delivered as "
          "committed with its line in syslog); not in the decision counts.")),
      reloads_(registry_.labelled_counter(named("reloads_total"),
                                          "Reloads of config and policy (SIGUSR1), by result.",
                                          "result", 4)),
      last_reload_(registry_.gauge(
          named("last_reload_success_timestamp_seconds"),
          "Unix time of the last successful load of config and policy (start or reload).")) {
    for (const Decision d : {Decision::accept, Decision::modify, Decision::quarantine,
                             Decision::reject, Decision::tempfail})
        decisions_.inc(policy::to_string(d), 0);
    reloads_.inc("ok", 0);
    reloads_.inc("failed", 0);
}

void MilterMetrics::watch(EvaluationGate& gate, const alias::CountingStore& store,
                          const alias::AliasDirectory& directory) {
    registry_.gauge_fn(named("evaluations_in_flight"),
                       "Messages being evaluated now (max_parallel_evaluations bounds it).",
                       [&gate] { return gate.load().in_flight; });
    registry_.gauge_fn(named("evaluations_queued"),
                       "Messages waiting at end of message for an evaluation slot.",
                       [&gate] { return gate.load().queued; });
    registry_.counter_fn(named("realtime_budget_overruns_total"),
                         "Ends of message that used up realtime_budget_ms under SCHED_FIFO and "
                         "finished at the normal priority.",
                         [] { return static_cast<double>(realtime_budget_overruns()); });
    registry_.counter_fn(named("store_lookups_total"),
                         "Reads that reached the store (the caches' misses among them).",
                         [&store] { return static_cast<double>(store.stats().reads); });
    registry_.counter_fn(named("store_writes_total"),
                         "Writes to the store (Message-ID mappings, thread state, deliveries).",
                         [&store] { return static_cast<double>(store.stats().writes); });
    registry_.counter_fn(named("store_errors_total"),
                         "Store calls that failed because the backend could not answer "
                         "(unavailable or internal); on the message path each is a 451 4.3.0.",
                         [&store] { return static_cast<double>(store.stats().errors); });
    registry_.labelled_counter_fn(named("cache_hits_total"),
                                  "Lookups answered by the daemon's caches, by cache.", "cache",
                                  [&directory] {
                                      const auto s = directory.cache_stats();
                                      return std::vector<std::pair<std::string, double>>{
                                          {"alias", static_cast<double>(s.aliases.hits)},
                                          {"order", static_cast<double>(s.orders.hits)}};
                                  });
    registry_.labelled_counter_fn(
        named("cache_misses_total"),
        "Lookups the daemon's caches could not answer (they went to the store), by cache.", "cache",
        [&directory] {
            const auto s = directory.cache_stats();
            return std::vector<std::pair<std::string, double>>{
                {"alias", static_cast<double>(s.aliases.misses)},
                {"order", static_cast<double>(s.orders.misses)}};
        });
}

void MilterMetrics::audited(const AuditRecord& record, bool written) {
    if (!written) {
        audit_failures_.inc();
        return;
    }
    decisions_.inc(policy::to_string(record.decision));
    for (const auto& hit : record.rules) rules_.inc(hit.id);
    milter_seconds_.observe(static_cast<double>(record.milter_us) / 1e6);
}

void MilterMetrics::reloaded(bool ok, double unix_time) {
    reloads_.inc(ok ? "ok" : "failed");
    if (ok) last_reload_.set(unix_time);
}

void MilterMetrics::loaded(double unix_time) {
    last_reload_.set(unix_time);
}

}  // namespace mm::milter
