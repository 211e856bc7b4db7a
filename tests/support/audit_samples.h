// An audit record with every field set, for the tests of the audit line and
// the audit log.
#pragma once

#include "audit/audit.h"

namespace mm::milter::audit_testing {

inline AuditRecord sample_record() {
    AuditRecord r;
    r.audit_id = "0123456789abcdef";
    r.queue_id = "4XbQ1";
    r.client_addr = "192.0.2.7";
    r.decision = policy::Decision::reject;
    r.smtp_reply = "550 5.7.1 links are not allowed (audit 0123456789abcdef)";
    r.rules = {{"links.disallowed", "example.net not allow-listed"}, {"alias.rewrite", "buyer"}};
    r.sender_party = "acme";
    r.recipient_party = "bob";
    r.policy_version = "2026-11-23.1";
    r.size = 12345;
    r.elapsed_us = 678;
    r.milter_us = 91;
    r.milter_cpu_us = 57;
    return r;
}

}  // namespace mm::milter::audit_testing
