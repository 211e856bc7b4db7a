// The audit trail: the X-Marketplace-Audit header value (with its HMAC) and
// the JSON line written for every message.
//
// AuditLog is thread-safe: one mutex around the write, one line per call, and
// reopen() (on SIGUSR1) for logrotate.  Real addresses never go in here: the
// record carries party ids only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy/verdict.h"
#include "util/result.h"

namespace mm::milter {

struct AuditRecord {
    std::string audit_id;
    std::string queue_id;
    std::string client_addr;
    policy::Decision decision = policy::Decision::tempfail;
    std::string smtp_reply;  // full reply text sent, empty for accept/modify
    std::vector<policy::RuleHit> rules;
    std::string sender_party;
    std::string recipient_party;
    std::string policy_version;
    std::uint64_t size = 0;
    std::uint64_t elapsed_us = 0;     // MAIL FROM to the decision, wall clock (includes the MTA)
    std::uint64_t milter_us = 0;      // of that, time spent inside this filter's callbacks
    std::uint64_t milter_cpu_us = 0;  // CPU time of those callbacks
};

// A new audit id: 16 random hex characters.
std::string new_audit_id();

// "id=…; decision=…; rules=a,b; policy=…; hmac=<hex>": the HMAC-SHA256 with
// `key` covers everything before "; hmac=".
std::string audit_header_value(const std::string& audit_id, policy::Decision decision,
                               const std::vector<policy::RuleHit>& rules,
                               const std::string& policy_version, const std::string& key);
// Recomputes the HMAC of a header value; true if it matches.
bool verify_audit_header(const std::string& value, const std::string& key);

// One JSON object per line: time (RFC 3339 UTC), audit_id, queue_id, client,
// decision, reply, rules [{id, detail}], sender_party, recipient_party,
// policy, size, elapsed_us, milter_us, milter_cpu_us.
std::string audit_json_line(const AuditRecord& record);

class AuditLog {
public:
    // "-" writes to stdout.  Fails with unavailable if the file cannot be opened.
    static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
    ~AuditLog();
    void write(const AuditRecord& record);
    Result<void> reopen();

private:
    explicit AuditLog(std::string path) : path_(std::move(path)) {}
    std::string path_;
    std::mutex mu_;
    std::FILE* file_ = nullptr;
};

}  // namespace mm::milter
