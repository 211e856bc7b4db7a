// The daemon's metrics (README.md, "Metrics"): what it decided, by decision
// and by rule, the time each decision cost inside the filter, the evaluation
// gate's load, realtime budget overruns, the store and its caches, and
// reloads.  Rendered in the Prometheus text format for the endpoint
// (metrics_server.h).
//
// Decisions, rules and times are counted where the audit line is written
// (AuditLog's observer): the counters agree with the audit log line for
// line, and a line the log did not take is counted apart
// (audit_write_failures_total).  What other modules count themselves (the
// gate, the caches, the store, the realtime sections) is read when scraped.
//
// Thread-safe once watch() has run (before the daemon's threads start).
#pragma once

#include <cstdint>
#include <string>

#include "alias/alias_directory.h"
#include "alias/counting_store.h"
#include "audit/audit.h"
#include "milter/eval_gate.h"
#include "util/metrics.h"

namespace mm::milter {

class MilterMetrics {
public:
    static constexpr const char* kPrefix = "marketplace_milter_";

    MilterMetrics();
    MilterMetrics(const MilterMetrics&) = delete;
    MilterMetrics& operator=(const MilterMetrics&) = delete;

    // Registers the metrics read from the daemon's parts; they must outlive
    // this.  Call once.
    void watch(EvaluationGate& gate, const alias::CountingStore& store,
               const alias::AliasDirectory& directory);

    // One audit line, written or not (AuditLog::Observer).
    void audited(const AuditRecord& record, bool written);
    // A reload (SIGUSR1) at `unix_time`; the start's load sets the time too
    // (ok and not counted: loaded()).
    void reloaded(bool ok, double unix_time);
    void loaded(double unix_time);

    std::string render() const { return registry_.render(); }

private:
    metrics::Registry registry_;
    metrics::LabelledCounter& decisions_;
    metrics::LabelledCounter& rules_;
    metrics::Histogram& milter_seconds_;
    metrics::Counter& audit_failures_;
    metrics::LabelledCounter& reloads_;
    metrics::Gauge& last_reload_;
};

}  // namespace mm::milter
