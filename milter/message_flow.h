// The end of message, one sequence for the daemon (callbacks.cc, through
// libmilter) and the `test` subcommand (through a MemorySink):
//
//   wait for an evaluation slot (EvaluationGate), evaluate, send the edits
//   and the audit header (or the refusal's reply, or the quarantine), then,
//   when committing, the Message-ID mapping and the authoritative marketplace
//   run inside the store's write transaction (a lost race is refused there,
//   or quarantined with X-Marketplace-Audit changed to say so), and last the
//   audit line and the log line.
//
// The audit header is bound (audit/audit_binding.h) to the message as the
// MTA delivers it: Message-ID, Date and recipients after the edits, the body
// sent or kept, computed from the edits as Postfix makes them
// (delivered_fields); the changed header of a late quarantine keeps that
// binding.
//
// A message over a bound of the config's `limits:` (policy/limits.h) is
// refused with the bound named, and audited: at once when its header went
// over as it arrived, or when its evaluation, run under a LimitScope, meets
// one (MIME parts, depth, CPU budget).
//
// State is written only after every edit went through, so a tempfail at any
// point before leaves the store as it was and the MTA's retry is judged
// afresh.  Nothing here throws: what evaluate() throws, an edit the sink
// fails and a store failure become a 451 4.3.0 with its audit line.  An
// audit line the log does not take makes the decision a 451 too (rule
// audit.unavailable), and nothing is committed while the log is failing;
// only a message whose marketplace state went into the store just before
// the log failed is delivered as decided, its line in syslog (a retry would
// be refused by that state).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "alias/alias_directory.h"
#include "audit/audit.h"
#include "milter/edit_sink.h"
#include "milter/eval_gate.h"
#include "milter/realtime.h"
#include "milter/service.h"
#include "policy/envelope.h"
#include "policy/message.h"
#include "policy/rules/attachment_rule.h"
#include "policy/verdict.h"

namespace mm::milter {

// What the process lends the flow: the daemon's Service, or what `test`
// opened for itself.
struct FlowServices {
    alias::AliasDirectory& directory;
    const policy::AttachmentClassifier& classifier;
    EvaluationGate* gate = nullptr;  // null: evaluate at once
    AuditLog* audit = nullptr;       // null: no audit line
};

// One message at its end.
struct FlowMessage {
    const Runtime& runtime;  // the snapshot taken at MAIL FROM
    const policy::Envelope& envelope;
    const policy::Message& message;
    std::string audit_id;
    std::string queue_id;  // empty before the MTA named one
    std::string client;
};

struct FlowOptions {
    // The daemon: writes the Message-ID mapping and the marketplace state.
    // Off (a dry run), the read-only run's answer stands and the store is
    // left as it was.
    bool commit = false;
    // Syslog lines; `test` answers on stdout instead.
    bool log = false;
    // The daemon's realtime section: a spent budget is logged.
    const RealtimeSection* realtime = nullptr;
    // Fills the audit record's times (elapsed_us, milter_us, milter_cpu_us)
    // as it is written.
    std::function<void(AuditRecord&)> stamp = nullptr;
    // Unix seconds for the marketplace rules (tests); 0: the current time.
    std::int64_t now = 0;
};

struct FlowOutcome {
    policy::Decision decision = policy::Decision::tempfail;
    // Set when the message is refused (reject, tempfail), empty otherwise.
    std::string smtp_code;
    std::string enhanced_code;
    std::string reply;  // as sent and audited: "550 5.7.1 text (audit <id>)"
    std::vector<policy::RuleHit> rules;
    // evaluate()'s verdict as it came (findings, thread, parties, edits);
    // the default one when no evaluation slot came free.
    policy::Verdict verdict;
    // The audit line went to the log (false without one, as in `test`).
    bool audited = false;

    // Accepted, modified or quarantined: the MTA keeps the message.
    bool delivered() const;
};

// A refusal's text as sent: "<text> (audit <id>)", so the sender can quote it.
std::string with_audit_id(const std::string& text, const std::string& audit_id);

FlowOutcome run_message_flow(const FlowServices& services, const FlowMessage& message,
                             EditSink& sink, const FlowOptions& options);

}  // namespace mm::milter
