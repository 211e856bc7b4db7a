// Reading back one line of the JSON audit log (the form audit_json_line in
// audit.h writes): the report and `report audit-id` read the log through
// this, so the writer and the reader live side by side and a test holds one
// against the other.
//
// Pure and thread-safe.  A line that is not JSON, is cut short, or lacks a
// field the writer always writes is an error that says which, never a throw:
// the log may hold a line a full disk or a crash cut.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/verdict.h"
#include "util/result.h"

namespace mm::milter {

struct AuditLine {
    std::int64_t time_ms = 0;  // the "time" field as unix milliseconds (UTC)
    std::string day;           // its calendar day, YYYY-MM-DD (UTC)
    std::string audit_id;
    std::string queue_id;
    std::string client;
    policy::Decision decision = policy::Decision::tempfail;
    std::string reply;
    std::vector<policy::RuleHit> rules;
    std::string sender_party;
    std::string recipient_party;
    std::string policy_version;
    std::uint64_t size = 0;
    std::uint64_t elapsed_us = 0;
    std::uint64_t milter_us = 0;
    std::uint64_t milter_cpu_us = 0;
};

// One line (without its newline).  Fails with invalid: "not JSON", "no
// field 'decision'", "unknown decision 'x'", "time '...': not RFC 3339".
Result<AuditLine> parse_audit_line(std::string_view line);

// "2026-11-23T12:00:00.123Z" (fraction optional, 'Z' or a numeric offset) as
// unix milliseconds; false if it is not such a time.
bool parse_rfc3339_ms(std::string_view s, std::int64_t& out_ms);

}  // namespace mm::milter
