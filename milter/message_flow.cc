#include "milter/message_flow.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include "milter/delivery_key.h"
#include "milter/log.h"
#include "policy/evaluate.h"
#include "policy/limits.h"
#include "policy/marketplace/marketplace_step.h"
#include "policy/rewrite/message_ids.h"

namespace mm::milter {
namespace {

using policy::Decision;

constexpr const char* kFilterBusy = "Temporary failure in the marketplace filter, try again later";
constexpr const char* kStoreBusy =
    "Temporary failure in the marketplace message store, try again later";

class Flow {
public:
    Flow(const FlowServices& services, const FlowMessage& message, EditSink& sink,
         const FlowOptions& options)
        : s_(services), m_(message), sink_(sink), o_(options), rt_(message.runtime) {}

    FlowOutcome run();

private:
    bool evaluate();
    bool send();
    bool audit_ready();
    void commit();
    void commit_marketplace();
    void quarantine_late(const policy::Verdict& now);
    void refuse(Decision decision, const std::string& code, const std::string& xcode,
                const std::string& text);
    void tempfail(policy::RuleHit why, const char* text);
    void internal_failure(const std::string& why);
    void over_limit(const policy::LimitRefusal& refusal, bool tempfail);
    void write_audit();
    AuditRecord audit_record() const;
    std::string audit_header() const;
    const char* qid() const { return log_qid(m_.queue_id); }

    const FlowServices& s_;
    const FlowMessage& m_;
    EditSink& sink_;
    const FlowOptions& o_;
    const Runtime& rt_;
    FlowOutcome out_;
    // What the MTA delivers, as the audit header binds it (set by send()).
    BoundFields bound_;
    // The marketplace state of this message is in the store: a retry would
    // be judged against it.
    bool state_committed_ = false;
    // body_sha256 of the received body, computed for the delivery key.
    std::string received_digest_;
};

FlowOutcome Flow::run() {
    // Its header went over a bound as it arrived: nothing of it is judged.
    if (m_.message.over_limit) {
        over_limit(*m_.message.over_limit, false);
        write_audit();
        return std::move(out_);
    }
    bool evaluated = false;
    try {
        evaluated = evaluate();
        if (evaluated && send() && o_.commit && out_.delivered() && audit_ready()) commit();
    } catch (const std::exception& e) {
        internal_failure(e.what());
    } catch (...) {
        internal_failure("unknown exception");
    }
    write_audit();
    if (o_.log && evaluated)
        log_msg(LOG_INFO, "%s: %s: audit=%s rules=%zu", qid(), policy::to_string(out_.decision),
                m_.audit_id.c_str(), out_.rules.size());
    return std::move(out_);
}

// What evaluate() or the commit threw (out of memory, a bug): the message
// still gets its 451 and its audit line.
void Flow::internal_failure(const std::string& why) {
    if (o_.log)
        log_msg(LOG_ERR, "%s: defer: internal error at end of message: %s", qid(), why.c_str());
    tempfail({"milter.internal", "eom: " + why}, kFilterBusy);
}

// False when no evaluation slot came free, or the message went over a
// bound while evaluated: it is refused or tempfailed.
bool Flow::evaluate() {
    // At most max_parallel_evaluations parse trees at once; the rest wait
    // here with their bodies spooled, well inside the MTA's milter timeout.
    auto permit =
        s_.gate != nullptr
            ? s_.gate->acquire(std::chrono::milliseconds(rt_.config.milter_timeout * 1000LL / 2))
            : std::nullopt;
    if (s_.gate != nullptr && !permit) {
        if (o_.log)
            log_msg(LOG_ERR, "%s: defer: no evaluation slot came free within %d s", qid(),
                    rt_.config.milter_timeout / 2);
        tempfail({"evaluation.busy", "no evaluation slot came free"}, kFilterBusy);
        return false;
    }
    policy::EvalContext ctx{
        *rt_.policy,
        rt_.config.domain,
        s_.classifier,
        &s_.directory.store(),
        &s_.directory,
        o_.now,
        delivery_key(m_.envelope, m_.message, rt_.config.hmac_key, &received_digest_)};
    try {
        const policy::LimitScope limits(rt_.config.limits);
        out_.verdict = policy::evaluate(m_.envelope, m_.message, ctx);
    } catch (const policy::BudgetExceeded& e) {
        over_limit(e.refusal(), rt_.config.over_budget_tempfail);
        return false;
    } catch (const policy::LimitExceeded& e) {
        over_limit(e.refusal(), false);
        return false;
    }
    // The parse tree is gone; what the verdict holds is small (a large
    // rewritten body is in a spool file).
    permit.reset();
    if (o_.log && o_.realtime != nullptr && o_.realtime->budget_spent())
        log_msg(LOG_NOTICE,
                "%s: evaluation used its realtime CPU budget (%lld ms), finished at normal "
                "priority (%zu bytes)",
                qid(), static_cast<long long>(realtime_budget().count() / 1000), m_.message.size());
    out_.decision = out_.verdict.decision;
    out_.rules = out_.verdict.rules;
    // The store failed while the message was judged (down, locked, a corrupt
    // file): the 451 alone would not say why.
    if (o_.log && out_.decision == Decision::tempfail)
        for (const auto& hit : out_.rules)
            if (hit.id == "store.unavailable")
                log_msg(LOG_ERR, "%s: defer: cannot read the store: %s", qid(), hit.detail.c_str());
    return true;
}

// The edits, the quarantine or the refusal.  False when the sink failed: the
// message is tempfailed, half-edited as it may be, and nothing is committed.
bool Flow::send() {
    const policy::Verdict& v = out_.verdict;
    try {
        switch (v.decision) {
            case Decision::accept:
            case Decision::modify:
                bound_ = delivered_fields(m_.message, m_.envelope, v.edits, received_digest_);
                send_edits(sink_, v.edits, audit_header());
                break;
            case Decision::quarantine:
                bound_ = delivered_fields(m_.message, m_.envelope, v.edits, received_digest_);
                send_edits(sink_, v.edits, audit_header());
                sink_.quarantine(v.reply_text);
                break;
            case Decision::reject:
            case Decision::tempfail:
                refuse(v.decision, v.smtp_code, v.enhanced_code, v.reply_text);
                break;
        }
        return true;
    } catch (const std::exception& e) {
        if (o_.log) log_msg(LOG_ERR, "%s: defer: cannot apply the edits: %s", qid(), e.what());
        tempfail({"milter.internal", std::string("eom: ") + e.what()}, kFilterBusy);
        return false;
    }
}

// State goes into the store only while the audit log takes lines: a line
// that fails after the commit cannot take the commit back.
bool Flow::audit_ready() {
    if (s_.audit == nullptr || !s_.audit->failing()) return true;
    tempfail({"audit.unavailable", "the audit log cannot be written"}, kFilterBusy);
    return false;
}

// The Message-ID mapping, the marketplace state and the delivery go in one
// transaction, so a retry after any failure here finds all untouched, and
// one after the commit (the reply lost) finds the delivery and is judged as
// this message was.
void Flow::commit() {
    const policy::Verdict& v = out_.verdict;
    if (v.marketplace) return commit_marketplace();
    // A retry's mapping went in with its first attempt.
    if (!v.message_id_record || v.retry) return;
    alias::Store& store = s_.directory.store();
    auto committed = v.delivery ? store.record_delivery(*v.delivery, &*v.message_id_record)
                                : policy::commit_message_id(store, *v.message_id_record);
    if (committed) return;
    if (o_.log)
        log_msg(LOG_ERR, "%s: cannot record the Message-ID mapping: %s", qid(),
                committed.error().message.c_str());
    tempfail({"store.unavailable", committed.error().message}, kStoreBusy);
}

// The authoritative run: inside the store's write transaction, against the
// state as it is now (another connection may have taken the order's one
// unsolicited message since the read-only run).
void Flow::commit_marketplace() {
    const policy::Verdict& v = out_.verdict;
    // A retry replays what its first attempt committed; one whose first
    // attempt committed only the mapping (judged otherwise then) is judged
    // afresh and recorded no second time.
    std::optional<alias::Delivery> delivery = v.delivery;
    if (v.retry && delivery && delivery->outcome.empty()) delivery.reset();
    auto d =
        policy::run_marketplace(s_.directory.store(), *v.marketplace, rt_.policy->marketplace, true,
                                v.message_id_record && !v.retry ? &*v.message_id_record : nullptr,
                                delivery ? &*delivery : nullptr);
    if (!d) {
        if (o_.log)
            log_msg(LOG_ERR, "%s: cannot record the marketplace state: %s", qid(),
                    d.error().message.c_str());
        return tempfail({"store.unavailable", d.error().message}, kStoreBusy);
    }
    state_committed_ = d->update.allowed;
    // What the answer makes of a verdict that had let the message through.
    policy::Verdict now;
    now.decision = Decision::accept;
    policy::apply_marketplace(*d, now);
    switch (now.decision) {
        case Decision::reject:
        case Decision::tempfail:
            out_.rules = std::move(now.rules);
            refuse(now.decision, now.smtp_code, now.enhanced_code, now.reply_text);
            break;
        case Decision::quarantine:
            if (out_.decision != Decision::quarantine) quarantine_late(now);
            break;
        case Decision::accept:
        case Decision::modify:
            break;
    }
}

// The edits went out with the read-only run's decision: quarantine now, and
// change the audit header to say so.  The state is committed already.
void Flow::quarantine_late(const policy::Verdict& now) {
    try {
        sink_.quarantine(now.reply_text);
        out_.decision = Decision::quarantine;
        for (const auto& hit : now.rules)
            if (std::none_of(out_.rules.begin(), out_.rules.end(), [&](const auto& r) {
                    return r.id == hit.id && r.detail == hit.detail;
                }))
                out_.rules.push_back(hit);
        // Ours is the first one: any the sender wrote were removed.
        sink_.change_header("X-Marketplace-Audit", 1, audit_header());
    } catch (const std::exception& e) {
        if (o_.log) log_msg(LOG_ERR, "%s: defer: cannot quarantine: %s", qid(), e.what());
        tempfail({"milter.internal", std::string("eom: ") + e.what()}, kFilterBusy);
    }
}

void Flow::refuse(Decision decision, const std::string& code, const std::string& xcode,
                  const std::string& text) {
    const std::string reply = with_audit_id(text, m_.audit_id);
    sink_.set_reply(code, xcode, reply);
    out_.decision = decision;
    out_.smtp_code = code;
    out_.enhanced_code = xcode;
    out_.reply = code + " " + xcode + " " + reply;
}

void Flow::tempfail(policy::RuleHit why, const char* text) {
    out_.rules.push_back(std::move(why));
    refuse(Decision::tempfail, "451", "4.3.0", text);
}

void Flow::over_limit(const policy::LimitRefusal& refusal, bool tempfail) {
    if (o_.log)
        log_msg(LOG_NOTICE, "%s: %s: %s: %s", qid(), tempfail ? "defer" : "reject",
                refusal.rule.id.c_str(), refusal.rule.detail.c_str());
    out_.rules.push_back(refusal.rule);
    if (tempfail)
        refuse(Decision::tempfail, "451", "4.3.0", refusal.text);
    else
        refuse(Decision::reject, refusal.smtp_code, refusal.enhanced_code, refusal.text);
}

// One line for every decision.  A line the log does not take turns the
// decision into a 451 (the edits sent are void with it), unless the
// message's marketplace state is committed: its retry would be refused by
// that state (the repeat rule, the order's unsolicited message taken by
// itself), so it is delivered as decided and its line goes to syslog whole.
// audit_ready() keeps that to the messages in flight when the log fails.
void Flow::write_audit() {
    if (s_.audit == nullptr) return;
    const AuditRecord record = audit_record();
    auto written = s_.audit->write(record);
    out_.audited = written.ok();
    if (written) return;
    if (state_committed_) {
        if (o_.log)
            log_msg(LOG_ERR, "%s: audit line not written, delivered as committed: %s", qid(),
                    audit_json_line(record).c_str());
        return;
    }
    if (out_.decision == Decision::tempfail) return;
    tempfail({"audit.unavailable", written.error().message}, kFilterBusy);
    // Should the log take lines again already, the 451 has its own.
    out_.audited = s_.audit->write(audit_record()).ok();
}

AuditRecord Flow::audit_record() const {
    AuditRecord r;
    r.audit_id = m_.audit_id;
    r.queue_id = m_.queue_id;
    r.client_addr = m_.client;
    r.decision = out_.decision;
    r.smtp_reply = out_.reply;
    r.rules = out_.rules;
    r.sender_party = out_.verdict.sender_party;
    r.recipient_party = out_.verdict.recipient_party;
    r.policy_version = rt_.policy->version;
    r.size = m_.message.size();
    if (o_.stamp) o_.stamp(r);
    return r;
}

std::string Flow::audit_header() const {
    return audit_header_value(m_.audit_id, out_.decision, out_.rules, rt_.policy->version, bound_,
                              rt_.config.hmac_key);
}

}  // namespace

std::string with_audit_id(const std::string& text, const std::string& audit_id) {
    return text + " (audit " + audit_id + ")";
}

bool FlowOutcome::delivered() const {
    return decision == Decision::accept || decision == Decision::modify ||
           decision == Decision::quarantine;
}

FlowOutcome run_message_flow(const FlowServices& services, const FlowMessage& message,
                             EditSink& sink, const FlowOptions& options) {
    return Flow(services, message, sink, options).run();
}

}  // namespace mm::milter
