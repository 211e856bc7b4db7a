// Service: what the daemon shares between connections.
//
// Runtime is the immutable snapshot (config + policy) a message works with
// from MAIL FROM to end of message; reload() builds a new one and swaps it in
// under a mutex, so a message in flight never sees half a reload.  The alias
// directory and audit log live as long as the daemon.  Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "alias/alias_directory.h"
#include "audit/audit.h"
#include "milter/config.h"
#include "milter/eval_gate.h"
#include "milter/metrics.h"
#include "policy/policy.h"
#include "policy/rules/attachment_rule.h"

namespace mm::milter {

struct Runtime {
    Config config;
    std::shared_ptr<const policy::Policy> policy;
};

// Loads the config and the policy it names; errors carry file:line:col.
Result<std::shared_ptr<const Runtime>> load_runtime(const std::string& config_path,
                                                    KeyFile key = KeyFile::read);

class Service {
public:
    static Result<std::unique_ptr<Service>> open(const std::string& config_path);

    std::shared_ptr<const Runtime> runtime() const;
    alias::AliasDirectory& directory() { return *directory_; }
    const policy::AttachmentClassifier& classifier() const { return *classifier_; }
    AuditLog& audit() { return *audit_; }
    // Bounds concurrent evaluations (max_parallel_evaluations, read at start).
    EvaluationGate& evaluation_gate() { return *gate_; }
    // Counts every audit line, the store's calls, the gate and reloads
    // (milter/metrics.h), whether or not an endpoint serves them.
    MilterMetrics& metrics() { return *metrics_; }

    // Re-reads config and policy; on any error the running snapshot stays and
    // the error is returned.  Always reopens the audit log.  Store settings,
    // the socket and the metrics endpoint are read at start only.  Counted
    // in the metrics by its result.
    Result<void> reload();
    // Reopens the audit log only (logrotate's SIGUSR2); config and policy stay.
    Result<void> reopen_logs() { return audit_->reopen(); }

    // Starts the store's change feed (alias/store_changes.h), if the backend
    // has one (postgres): any change a host makes empties the directory's
    // caches.  Called once logging is set up, since the feed logs from its
    // own thread.  Fails with invalid if the feed's settings are wrong.
    Result<void> start_change_feed();

private:
    Service() = default;
    Result<void> reload_files();
    std::string config_path_;
    mutable std::mutex mu_;
    std::shared_ptr<const Runtime> runtime_;
    std::unique_ptr<alias::AliasDirectory> directory_;
    std::shared_ptr<const policy::AttachmentClassifier> classifier_;
    std::unique_ptr<AuditLog> audit_;
    std::unique_ptr<EvaluationGate> gate_;
    std::shared_ptr<alias::CountingStore> store_;
    std::unique_ptr<MilterMetrics> metrics_;
    // After directory_: stopped before the directory it empties goes.
    std::unique_ptr<alias::ChangeFeed> changes_;
};

}  // namespace mm::milter
