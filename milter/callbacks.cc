#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "milter/edit_sink.h"
#include "milter/log.h"
#include "milter/message_flow.h"
#include "milter/mta_socket.h"
#include "milter/realtime.h"
#include "policy/authorize.h"
#include "util/address.h"

namespace mm::milter {
namespace {

using Clock = std::chrono::steady_clock;
using policy::Decision;

Service* g_service = nullptr;  // set once before smfi_main; never changes

constexpr unsigned long kActions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT |
                                   SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_QUARANTINE |
                                   SMFIF_SETSYMLIST;

// Steps this filter never answers: the MTA sends the next command without
// waiting for a reply, one round trip (and two context switches) less per
// step, per header and per body chunk.  RCPT and end of message answer, which
// is where a refusal can come from, and DATA (see on_negotiate).  libmilter
// offers these bits even to an MTA without them and then answers "continue"
// itself, so the set negotiated is always this one.  A failure in such a step
// cannot refuse there: it marks the message and the next answering step
// tempfails it.
constexpr unsigned long kNoReply =
    SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY;

std::chrono::nanoseconds thread_cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

struct MessageState {
    std::shared_ptr<const Runtime> runtime;
    std::string audit_id;
    Clock::time_point started;
    // Time inside this filter's callbacks: what the filter itself costs a
    // message, apart from the client's and the MTA's time (elapsed_us).
    Clock::duration busy{};
    Clock::time_point callback_started;
    // The same in CPU time of the threads that ran the callbacks: what the
    // filter's work costs, without the waits for a core or a lock.
    std::chrono::nanoseconds cpu{};
    std::chrono::nanoseconds callback_cpu_started{};
    policy::Envelope envelope;
    std::optional<policy::RcptStage> rcpt_stage;
    policy::Message message;
    // The header fields counted as they arrive, against the snapshot's
    // limits (set at MAIL FROM).
    policy::HeaderTally header_tally{policy::MessageLimits{}};
    // Set by a step that does not answer (kNoReply) when it could not do its
    // part; the next answering step tempfails the message with it.
    std::optional<policy::RuleHit> failed;
};

struct Connection {
    std::string client;
    std::optional<MessageState> msg;
};

Connection* connection(SMFICTX* ctx) {
    auto* c = static_cast<Connection*>(smfi_getpriv(ctx));
    if (c == nullptr) {
        c = new Connection();
        if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
            delete c;
            return nullptr;
        }
    }
    return c;
}

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
    return v ? v : "";
}

void set_smtp_reply(SMFICTX* ctx, const std::string& code, const std::string& xcode,
                    const std::string& text) {
    std::string safe = reply_safe(text);
    smfi_setreply(ctx, const_cast<char*>(code.c_str()), const_cast<char*>(xcode.c_str()),
                  const_cast<char*>(safe.c_str()));
}

// The audit record's times, up to now (the callback in progress included).
void stamp_times(const MessageState& m, AuditRecord& r) {
    const Clock::time_point now = Clock::now();
    auto us = [](Clock::duration d) {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    };
    r.elapsed_us = us(now - m.started);
    r.milter_us = us(m.busy + (now - m.callback_started));
    r.milter_cpu_us = us(m.cpu + (thread_cpu_now() - m.callback_cpu_started));
}

// Writes one decision's audit line; false if the log did not take it (the
// log reports that, once per spell).
bool audit(const MessageState& m, const std::string& queue_id, const std::string& client,
           Decision decision, const std::string& reply, const std::vector<policy::RuleHit>& rules,
           const std::string& sender_party, const std::string& recipient_party,
           std::uint64_t size) {
    AuditRecord r;
    r.audit_id = m.audit_id;
    r.queue_id = queue_id;
    r.client_addr = client;
    r.decision = decision;
    r.smtp_reply = reply;
    r.rules = rules;
    r.sender_party = sender_party;
    r.recipient_party = recipient_party;
    r.policy_version = m.runtime->policy->version;
    r.size = size;
    stamp_times(m, r);
    return g_service->audit().write(r).ok();
}

void callback_starts(MessageState& m) {
    m.callback_started = Clock::now();
    m.callback_cpu_started = thread_cpu_now();
}

// Adds the time a callback takes to the message's busy and CPU time.  The
// thread CPU clock is a system call, not a vDSO read: callbacks that only
// copy a few bytes (one per header) take the wall clock alone, as their CPU
// time would cost more to measure than it is.
class BusyTimer {
public:
    enum class Cpu { measure, skip };
    explicit BusyTimer(MessageState& m, Cpu cpu = Cpu::measure) : m_(m), cpu_(cpu) {
        m_.callback_started = Clock::now();
        if (cpu_ == Cpu::measure) m_.callback_cpu_started = thread_cpu_now();
    }
    ~BusyTimer() {
        m_.busy += Clock::now() - m_.callback_started;
        if (cpu_ == Cpu::measure) m_.cpu += thread_cpu_now() - m_.callback_cpu_started;
    }
    BusyTimer(const BusyTimer&) = delete;
    BusyTimer& operator=(const BusyTimer&) = delete;

private:
    MessageState& m_;
    const Cpu cpu_;
};

constexpr const char* kFilterBusy = "Temporary failure in the marketplace filter, try again later";

// Tempfails the message in progress (451 4.3.0 with its audit id) and writes
// its audit line; a message that failed before it had an audit id or a
// policy snapshot gets them here.
sfsistat tempfail_message(SMFICTX* ctx, Connection& c, const std::string& qid,
                          const policy::RuleHit& why, std::uint64_t size) {
    MessageState& m = *c.msg;
    if (m.audit_id.empty()) m.audit_id = new_audit_id();
    if (!m.runtime) m.runtime = g_service->runtime();
    const std::string reply = with_audit_id(kFilterBusy, m.audit_id);
    set_smtp_reply(ctx, "451", "4.3.0", reply);
    // A tempfail already: a line the log does not take changes nothing.
    (void)audit(m, qid, c.client, Decision::tempfail, "451 4.3.0 " + reply, {why}, "", "", size);
    return SMFIS_TEMPFAIL;
}

// tempfail_message, and the message's state dropped at once, a spool file
// with it, rather than at the connection's end.
sfsistat defer_message(SMFICTX* ctx, Connection& c, const std::string& qid,
                       const policy::RuleHit& why, std::uint64_t size) {
    const sfsistat rc = tempfail_message(ctx, c, qid, why, size);
    c.msg.reset();
    return rc;
}

// An answering step found no message (MAIL FROM could not make one): the
// step is tempfailed with an audit line of its own.
sfsistat defer_without_message(SMFICTX* ctx, const Connection* c, const char* where) {
    Connection local;
    if (c != nullptr) local.client = c->client;
    local.msg.emplace();
    local.msg->started = Clock::now();
    callback_starts(*local.msg);
    return tempfail_message(ctx, local, macro(ctx, "i"),
                            {"milter.internal", std::string(where) + ": no message in progress"},
                            0);
}

// Tempfails a message that a step without an answer marked failed (its log
// line was written then).
sfsistat defer_failed(SMFICTX* ctx, Connection& c) {
    const policy::RuleHit why = *c.msg->failed;
    return defer_message(ctx, c, macro(ctx, "i"), why, c.msg->message.size());
}

// Runs a callback body; anything it throws becomes a tempfail so the MTA
// keeps the message and retries, with an audit line when there is a message.
// In a step that does not answer (`step` in kNoReply) the message is marked
// instead and tempfailed at the next step that answers.
template <class F>
sfsistat guarded(SMFICTX* ctx, const char* where, unsigned long step, F&& body) {
    std::string why = "internal error";
    try {
        return body();
    } catch (const std::exception& e) {
        log_msg(LOG_ERR, "%s: internal error in %s: %s", log_qid(macro(ctx, "i")), where, e.what());
        why = e.what();
    } catch (...) {
        log_msg(LOG_ERR, "%s: internal error in %s", log_qid(macro(ctx, "i")), where);
    }
    auto* c = static_cast<Connection*>(smfi_getpriv(ctx));
    if (step & kNoReply) {
        // Without a message the next answering step tempfails anyway.
        if (c != nullptr && c->msg && !c->msg->failed)
            c->msg->failed = policy::RuleHit{"milter.internal", std::string(where) + ": " + why};
        return SMFIS_NOREPLY;
    }
    if (c != nullptr && c->msg) {
        try {
            return tempfail_message(ctx, *c, macro(ctx, "i"),
                                    {"milter.internal", std::string(where) + ": " + why},
                                    c->msg->message.size());
        } catch (...) {
            // Not even that: the plain 451 below.
        }
    }
    set_smtp_reply(ctx, "451", "4.3.0", "Temporary internal error in the marketplace filter");
    return SMFIS_TEMPFAIL;
}

template <class F>
sfsistat guarded(SMFICTX* ctx, const char* where, F&& body) {
    return guarded(ctx, where, 0, std::forward<F>(body));
}

// What a step in kNoReply answers when it has nothing to say.
constexpr sfsistat no_reply = SMFIS_NOREPLY;

// See mta_socket.h: enough that the edits and a rewritten body of the size
// kept in memory go into the kernel without waiting for the MTA to read.
constexpr int kMtaSendBuffer = 1 << 20;

void widen_mta_send_buffer(SMFICTX* ctx) {
    static std::once_flag logged;
    const int fd = mta_socket(ctx);
    const int granted = fd >= 0 ? widen_send_buffer(fd, kMtaSendBuffer) : -1;
    const int err = errno;
    std::call_once(logged, [&] {
        if (granted > 0)
            log_msg(LOG_INFO, "MTA connections: send buffer %d bytes", granted);
        else
            log_msg(LOG_WARNING,
                    "cannot size the MTA connection's send buffer (%s): rewritten bodies "
                    "wait for the MTA to read them",
                    fd < 0 ? "no socket in libmilter's context" : std::strerror(err));
    });
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long,
                      unsigned long, unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
    return guarded(ctx, "negotiate", [&] {
        Connection* c = connection(ctx);
        if (c == nullptr) return SMFIS_TEMPFAIL;
        if ((f0 & kActions) != kActions) {
            log_msg(LOG_ERR, "MTA does not offer the actions this filter needs (0x%lx)", f0);
            return SMFIS_REJECT;
        }
        widen_mta_send_buffer(ctx);
        *pf0 = kActions;
        // DATA is answered, neither skipped nor left unanswered: Postfix sends
        // the DATA-stage macros even for a skipped step, as a packet of their
        // own, and over TCP the first header packet then waits (Nagle) for
        // our delayed ACK, ~40 ms per message.  An answer acknowledges at once.
        *pf1 = (SMFIP_NOHELO | SMFIP_NOUNKNOWN | kNoReply) & f1;
        *pf2 = 0;
        *pf3 = 0;
        // Postfix sends the queue id from DATA on; ask for it where we log.
        // {auth_authen}: trusted seller tooling may be recognised by its login.
        smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen}"));
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, const_cast<char*>("i"));
        smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));

        return SMFIS_CONTINUE;
    });
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR* addr) {
    return guarded(ctx, "connect", SMFIP_NR_CONN, [&] {
        Connection* c = connection(ctx);
        if (c == nullptr) return no_reply;  // RCPT tempfails: no message
        char buf[INET6_ADDRSTRLEN] = "";
        if (addr != nullptr && addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(addr)->sin_addr, buf, sizeof buf);
        else if (addr != nullptr && addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(addr)->sin6_addr, buf, sizeof buf);
        c->client = buf[0] ? buf : "local";
        return no_reply;
    });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
    return guarded(ctx, "envfrom", SMFIP_NR_MAIL, [&] {
        Connection* c = connection(ctx);
        if (c == nullptr) return no_reply;  // RCPT tempfails: no message
        c->msg.emplace();
        MessageState& m = *c->msg;
        m.started = Clock::now();
        BusyTimer busy(m);
        m.runtime = g_service->runtime();
        m.audit_id = new_audit_id();
        m.header_tally = policy::HeaderTally(m.runtime->config.limits);
        m.envelope.client_addr = c->client;
        m.envelope.sender_raw = argv[0] ? argv[0] : "<>";
        m.envelope.sender = normalize_address(m.envelope.sender_raw);
        m.envelope.auth_sender = macro(ctx, "{auth_authen}");
        m.rcpt_stage.emplace(g_service->directory(), m.runtime->config.domain,
                             m.runtime->policy->mixed_recipients);
        return no_reply;
    });
}

sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    return guarded(ctx, "envrcpt", [&] {
        Connection* c = connection(ctx);
        if (c == nullptr || !c->msg) return defer_without_message(ctx, c, "envrcpt");
        MessageState& m = *c->msg;
        if (m.failed) return defer_failed(ctx, *c);
        BusyTimer busy(m);
        const std::string raw = argv[0] ? argv[0] : "";
        auto out = m.rcpt_stage->add(m.envelope, raw);
        using Kind = policy::RcptOutcome::Kind;
        if (out.kind == Kind::not_ours || out.kind == Kind::accepted) return SMFIS_CONTINUE;
        const std::string reply = with_audit_id(out.reply_text, m.audit_id);
        set_smtp_reply(ctx, out.smtp_code, out.enhanced_code, reply);
        const bool temporary = out.smtp_code[0] == '4';
        const std::string qid = macro(ctx, "i");
        log_msg(temporary ? LOG_WARNING : LOG_NOTICE, "%s: %s: %s %s %s: %s", log_qid(qid),
                temporary ? "defer" : "reject", out.smtp_code.c_str(), out.enhanced_code.c_str(),
                out.rule.id.c_str(), out.rule.detail.c_str());
        const bool audited =
            audit(m, qid, c->client, temporary ? Decision::tempfail : Decision::reject,
                  out.smtp_code + " " + out.enhanced_code + " " + reply, {out.rule},
                  out.sender_party, out.recipient_party, 0);
        // No refusal without its audit line: the client tries again later.
        if (!audited && !temporary)
            return tempfail_message(ctx, *c, qid, {"audit.unavailable", out.rule.id}, 0);
        return temporary ? SMFIS_TEMPFAIL : SMFIS_REJECT;
    });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return guarded(ctx, "header", SMFIP_NR_HDR, [&] {
        Connection* c = connection(ctx);
        if (c == nullptr || !c->msg || c->msg->failed) return no_reply;
        MessageState& m = *c->msg;
        if (m.message.over_limit) return no_reply;
        BusyTimer busy(m, BusyTimer::Cpu::skip);
        const std::string_view n = name ? name : "";
        const std::string_view v = value ? value : "";
        // Past a bound nothing more is kept: the end of message refuses it
        // (message_flow.h), and memory stays within the bound.
        if (!m.header_tally.add(policy::HeaderTally::field_bytes(n, v))) {
            m.message.over_limit = m.header_tally.exceeded();
            return no_reply;
        }
        m.message.headers.push_back({std::string(n), std::string(v)});
        return no_reply;
    });
}

// End of headers: nothing to do, but registered so that libmilter does not
// answer it (and log a protocol complaint for each message).
sfsistat on_eoh(SMFICTX*) {
    return no_reply;
}

sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
    return guarded(ctx, "body", SMFIP_NR_BODY, [&] {
        Connection* c = connection(ctx);
        if (c == nullptr || !c->msg || c->msg->failed) return no_reply;
        MessageState& m = *c->msg;
        policy::MessageBody& body = m.message.body;
        // The first chunk brings the spool settings of this message's
        // runtime snapshot: small bodies stay in memory, large ones go to an
        // unlinked file in spool_dir.
        Result<void> appended;
        {
            BusyTimer busy(m);
            if (body.empty() && !body.spilled())
                body = policy::MessageBody(m.runtime->config.spool);
            appended = body.append(std::string_view(reinterpret_cast<const char*>(chunk), len));
            if (appended) return no_reply;
        }
        // Never accept what could not be kept whole: end of message tempfails
        // it (the MTA retries later).  The rest of the body is not kept.
        const std::string qid = macro(ctx, "i");
        log_msg(LOG_ERR, "%s: defer: cannot spool the message body (%zu bytes received): %s",
                log_qid(qid), body.size() + len, appended.error().message.c_str());
        m.failed = policy::RuleHit{"spool.unavailable", appended.error().message};
        body = policy::MessageBody();
        return no_reply;
    });
}

// A libmilter call that edits the message: a failure throws, so the message
// is tempfailed rather than half-rewritten and accepted.
void require(int rc, const char* what) {
    if (rc != MI_SUCCESS) throw std::runtime_error(std::string(what) + " failed");
}

char* c_str(const std::string& s) {
    return const_cast<char*>(s.c_str());
}

// The end of message's edits, through libmilter.
class LibmilterSink final : public EditSink {
public:
    explicit LibmilterSink(SMFICTX* ctx) : ctx_(ctx) {}

    void change_header(const std::string& name, int index, const std::string& value) override {
        require(smfi_chgheader(ctx_, c_str(name), index, c_str(value)), "smfi_chgheader");
    }
    void remove_header(const std::string& name, int index) override {
        require(smfi_chgheader(ctx_, c_str(name), index, nullptr), "smfi_chgheader");
    }
    void add_header(const std::string& name, const std::string& value) override {
        require(smfi_addheader(ctx_, c_str(name), c_str(value)), "smfi_addheader");
    }
    void insert_header(int index, const std::string& name, const std::string& value) override {
        require(smfi_insheader(ctx_, index, c_str(name), c_str(value)), "smfi_insheader");
    }
    void change_sender(const std::string& sender) override {
        require(smfi_chgfrom(ctx_, c_str(sender), nullptr), "smfi_chgfrom");
    }
    void delete_recipient(const std::string& raw) override {
        require(smfi_delrcpt(ctx_, c_str(raw)), "smfi_delrcpt");
    }
    void add_recipient(const std::string& raw) override {
        require(smfi_addrcpt(ctx_, c_str(raw)), "smfi_addrcpt");
    }
    // smfi_replacebody appends and blocks until the MTA can take the chunk.
    void replace_body(std::string_view chunk) override {
        const char* data = chunk.empty() ? "" : chunk.data();
        require(smfi_replacebody(ctx_, reinterpret_cast<unsigned char*>(const_cast<char*>(data)),
                                 static_cast<int>(chunk.size())),
                "smfi_replacebody");
    }
    void quarantine(const std::string& reason) override {
        require(smfi_quarantine(ctx_, c_str(reply_safe(reason))), "smfi_quarantine");
    }
    void set_reply(const std::string& code, const std::string& xcode,
                   const std::string& text) override {
        set_smtp_reply(ctx_, code, xcode, text);
    }

private:
    SMFICTX* ctx_;
};

sfsistat on_eom(SMFICTX* ctx) {
    return guarded(ctx, "eom", [&] {
        Connection* c = connection(ctx);
        if (c == nullptr || !c->msg) return defer_without_message(ctx, c, "eom");
        MessageState& m = *c->msg;
        // No BusyTimer: the state is gone when this returns; the audit
        // record's stamp adds the time since callback_started.
        callback_starts(m);
        // The one callback with real work (milter/realtime.h).  Raising the
        // short ones too (RCPT, body chunks) made the p99 worse: dropping back
        // to the normal priority inside them is itself a point where the
        // thread is preempted.
        RealtimeSection realtime(!m.message.body.spilled());
        if (m.failed) return defer_failed(ctx, *c);
        LibmilterSink sink(ctx);
        const FlowOutcome out = run_message_flow(
            {g_service->directory(), g_service->classifier(), &g_service->evaluation_gate(),
             &g_service->audit()},
            {*m.runtime, m.envelope, m.message, m.audit_id, macro(ctx, "i"), c->client}, sink,
            {.commit = true, .log = true, .realtime = &realtime, .stamp = [&m](AuditRecord& r) {
                 stamp_times(m, r);
             }});
        c->msg.reset();
        switch (out.decision) {
            case Decision::reject:
                return SMFIS_REJECT;
            case Decision::tempfail:
                return SMFIS_TEMPFAIL;
            case Decision::accept:
            case Decision::modify:
            case Decision::quarantine:
                break;
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat on_abort(SMFICTX* ctx) {
    if (auto* c = static_cast<Connection*>(smfi_getpriv(ctx))) c->msg.reset();
    return SMFIS_CONTINUE;
}

sfsistat on_close(SMFICTX* ctx) {
    // May be the only callback a connection ever gets: the context can be null.
    delete static_cast<Connection*>(smfi_getpriv(ctx));
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}

}  // namespace

smfiDesc make_filter(Service* service) {
    g_service = service;
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("marketplace-milter");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = kActions;
    d.xxfi_connect = on_connect;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_header = on_header;
    d.xxfi_eoh = on_eoh;
    d.xxfi_body = on_body;
    d.xxfi_eom = on_eom;
    d.xxfi_abort = on_abort;
    d.xxfi_close = on_close;
    d.xxfi_negotiate = on_negotiate;
    return d;
}

}  // namespace mm::milter
