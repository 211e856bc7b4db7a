// The audit trail: the X-Marketplace-Audit header value (with its HMAC, bound
// to the message it is delivered with: audit_binding.h), its verification,
// and the JSON line written for every decision.
//
// AuditLog is thread-safe: one mutex around the write, one line per call, and
// reopen() (on SIGUSR1) for logrotate.  A line that cannot be written whole
// is an error the caller acts on (the milter tempfails the message); the log
// reports the first failure of a spell and the first success after it, not
// every failed line.  Real addresses never go in the log: the record carries
// party ids only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "audit/audit_binding.h"
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

// "id=…; decision=…; rules=a,b; bind=msgid:…,rcpt:…,date:…,body:…; policy=…;
// hmac=<hex>": bind= holds the tags of `bound` (audit_binding.h); the
// HMAC-SHA256 with `key` covers everything before "; hmac=".  A header copied
// onto another message still has a valid HMAC but tags that do not match
// that message.
std::string audit_header_value(const std::string& audit_id, policy::Decision decision,
                               const std::vector<policy::RuleHit>& rules,
                               const std::string& policy_version, const BoundFields& bound,
                               const std::string& key);
// True if the value is an audit header of this form and its HMAC matches;
// says nothing about the message it came with (check_audit_header does).
bool verify_audit_header(const std::string& value, const std::string& key);

// What check_audit_header found, field by field.
struct AuditCheck {
    struct Field {
        std::string name;   // msgid, rcpt, date, body (kBoundFieldNames)
        std::string value;  // the delivered message's canonical value
        bool ok = false;    // its tag is the header's
    };
    bool well_formed = false;  // the form above, bind= included
    bool hmac_ok = false;
    std::vector<Field> fields;  // in kBoundFieldNames order; empty if not well formed
    std::string audit_id, decision, rules, policy;  // as the header says

    bool valid() const;  // well formed, HMAC and every field ok
};
// The header against the message it was delivered with.
AuditCheck check_audit_header(const std::string& value, const std::string& key,
                              const BoundFields& delivered);

// One JSON object per line: time (RFC 3339 UTC), audit_id, queue_id, client,
// decision, reply, rules [{id, detail}], sender_party, recipient_party,
// policy, size, elapsed_us, milter_us, milter_cpu_us.
std::string audit_json_line(const AuditRecord& record);
// The same with `time` for the time.
std::string audit_json_line(const AuditRecord& record, const std::string& time);
// The line as nlohmann::json writes it (invalid UTF-8 as U+FFFD):
// audit_json_line writes text that is not ASCII through it, and writes the
// same bytes by hand for the rest, which the tests hold it to.
std::string audit_json_line_by_library(const AuditRecord& record, const std::string& time);

class AuditLog {
public:
    // A failure spell begins (the detail says why) or ends.  Called with the
    // log's lock held: it must not write to this log.
    enum class Health { failing, recovered };
    using Reporter = std::function<void(Health, const std::string& detail)>;

    // "-" writes to stdout.  Fails with unavailable if the file cannot be
    // opened.  Without a reporter, spells go to stderr.
    static Result<std::unique_ptr<AuditLog>> open(const std::string& path,
                                                  Reporter reporter = nullptr);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // One line, written with one write(2) (O_APPEND: lines of several
    // threads or processes never interleave).  Fails with unavailable if the
    // line did not go in whole; after a partial line the next one starts on
    // a line of its own.
    Result<void> write(const AuditRecord& record);
    // Called after every write with the record and whether the line went in
    // (the daemon's metrics count decisions there, so they agree with the
    // log).  Outside the log's lock, on the writer's thread: it must be
    // thread-safe.  Set before the first write, never changed after.
    using Observer = std::function<void(const AuditRecord&, bool written)>;
    void set_observer(Observer observer) { observer_ = std::move(observer); }
    // The last write failed: a caller about to commit state it cannot take
    // back asks first.
    bool failing() const { return failing_.load(std::memory_order_relaxed); }
    Result<void> reopen();

private:
    AuditLog(std::string path, Reporter reporter)
        : path_(std::move(path)), reporter_(std::move(reporter)) {}
    void report(Health health, const std::string& detail);
    Result<void> write_line(const AuditRecord& record);

    std::string path_;
    Reporter reporter_;
    Observer observer_;
    std::mutex mu_;
    int fd_ = -1;
    bool torn_ = false;  // a failed write left part of a line; guarded by mu_
    std::atomic<bool> failing_{false};
};

}  // namespace mm::milter
