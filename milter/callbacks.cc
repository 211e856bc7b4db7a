#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <string>

#include "milter/log.h"
#include "milter/mta_socket.h"
#include "milter/realtime.h"
#include "policy/authorize.h"
#include "policy/evaluate.h"
#include "policy/marketplace/marketplace_step.h"
#include "policy/rewrite/message_ids.h"
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

// smfi_setreply refuses CR/LF and texts over 980 characters, and treats '%'
// as a format character.
std::string reply_safe(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\r' || c == '\n') c = ' ';
        if (c == '%') out.push_back('%');
        out.push_back(c);
        if (out.size() > 900) break;
    }
    return out;
}

std::string full_reply(const std::string& text, const std::string& audit_id) {
    return text + " (audit " + audit_id + ")";
}

void set_reply(SMFICTX* ctx, const std::string& code, const std::string& xcode,
               const std::string& text) {
    std::string safe = reply_safe(text);
    smfi_setreply(ctx, const_cast<char*>(code.c_str()), const_cast<char*>(xcode.c_str()),
                  const_cast<char*>(safe.c_str()));
}

void audit(const MessageState& m, const std::string& queue_id, const std::string& client,
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
    const Clock::time_point now = Clock::now();
    auto us = [](Clock::duration d) {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    };
    r.elapsed_us = us(now - m.started);
    r.milter_us = us(m.busy + (now - m.callback_started));
    r.milter_cpu_us = us(m.cpu + (thread_cpu_now() - m.callback_cpu_started));
    g_service->audit().write(r);
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

// Runs a callback body; anything it throws becomes a tempfail so the MTA
// keeps the message and retries.  In a step that does not answer (`step`
// in kNoReply) the message is marked instead and tempfailed at the next step
// that answers.
template <class F>
sfsistat guarded(SMFICTX* ctx, const char* where, unsigned long step, F&& body) {
    std::string why = "internal error";
    try {
        return body();
    } catch (const std::exception& e) {
        log_msg(LOG_ERR, "%s: internal error in %s: %s", macro(ctx, "i").c_str(), where, e.what());
        why = e.what();
    } catch (...) {
        log_msg(LOG_ERR, "%s: internal error in %s", macro(ctx, "i").c_str(), where);
    }
    if (step & kNoReply) {
        auto* c = static_cast<Connection*>(smfi_getpriv(ctx));
        // Without a message the next answering step tempfails anyway.
        if (c != nullptr && c->msg && !c->msg->failed)
            c->msg->failed = policy::RuleHit{"milter.internal", std::string(where) + ": " + why};
        return SMFIS_NOREPLY;
    }
    set_reply(ctx, "451", "4.3.0", "Temporary internal error in the marketplace filter");
    return SMFIS_TEMPFAIL;
}

template <class F>
sfsistat guarded(SMFICTX* ctx, const char* where, F&& body) {
    return guarded(ctx, where, 0, std::forward<F>(body));
}

// What a step in kNoReply answers when it has nothing to say.
constexpr sfsistat no_reply = SMFIS_NOREPLY;

// Tempfails the message in progress (451 4.3.0, audit line) and drops its
// state at once, a spool file with it, rather than at the connection's end.
sfsistat defer_message(SMFICTX* ctx, Connection& c, const std::string& qid,
                       const policy::RuleHit& why, std::uint64_t size) {
    MessageState& m = *c.msg;
    const std::string reply =
        full_reply("Temporary failure in the marketplace filter, try again later", m.audit_id);
    set_reply(ctx, "451", "4.3.0", reply);
    audit(m, qid, c.client, Decision::tempfail, "451 4.3.0 " + reply, {why}, "", "", size);
    c.msg.reset();
    return SMFIS_TEMPFAIL;
}

// Tempfails a message that a step without an answer marked failed (its log
// line was written then).
sfsistat defer_failed(SMFICTX* ctx, Connection& c) {
    MessageState& m = *c.msg;
    if (!m.runtime) {  // failed before it had a policy snapshot to audit with
        set_reply(ctx, "451", "4.3.0", "Temporary internal error in the marketplace filter");
        c.msg.reset();
        return SMFIS_TEMPFAIL;
    }
    const policy::RuleHit why = *m.failed;
    return defer_message(ctx, c, macro(ctx, "i"), why, m.message.size());
}

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
        if (c == nullptr || !c->msg) return SMFIS_TEMPFAIL;
        MessageState& m = *c->msg;
        if (m.failed) return defer_failed(ctx, *c);
        BusyTimer busy(m);
        const std::string raw = argv[0] ? argv[0] : "";
        auto out = m.rcpt_stage->add(m.envelope, raw);
        using Kind = policy::RcptOutcome::Kind;
        if (out.kind == Kind::not_ours || out.kind == Kind::accepted) return SMFIS_CONTINUE;
        const std::string reply = full_reply(out.reply_text, m.audit_id);
        set_reply(ctx, out.smtp_code, out.enhanced_code, reply);
        const bool temporary = out.smtp_code[0] == '4';
        const std::string qid = macro(ctx, "i");
        log_msg(temporary ? LOG_WARNING : LOG_NOTICE, "%s: %s: %s %s %s: %s",
                qid.empty() ? "NOQUEUE" : qid.c_str(), temporary ? "defer" : "reject",
                out.smtp_code.c_str(), out.enhanced_code.c_str(), out.rule.id.c_str(),
                out.rule.detail.c_str());
        audit(m, qid, c->client, temporary ? Decision::tempfail : Decision::reject,
              out.smtp_code + " " + out.enhanced_code + " " + reply, {out.rule}, out.sender_party,
              out.recipient_party, 0);
        return temporary ? SMFIS_TEMPFAIL : SMFIS_REJECT;
    });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
    return guarded(ctx, "header", SMFIP_NR_HDR, [&] {
        Connection* c = connection(ctx);
        if (c == nullptr || !c->msg || c->msg->failed) return no_reply;
        BusyTimer busy(*c->msg, BusyTimer::Cpu::skip);
        c->msg->message.headers.push_back({name ? name : "", value ? value : ""});
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
                qid.empty() ? "NOQUEUE" : qid.c_str(), body.size() + len,
                appended.error().message.c_str());
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

void quarantine(SMFICTX* ctx, const std::string& reason) {
    require(smfi_quarantine(ctx, const_cast<char*>(reply_safe(reason).c_str())), "smfi_quarantine");
}

// Carries the edits out through libmilter, with the audit header; any
// failure throws so the message is tempfailed rather than half-rewritten and
// accepted.  The body goes last: libmilter waits for the socket to be
// writable before each packet, and after the body that may take until the
// MTA has read it (see mta_socket.h), which then happens once this callback
// has returned instead of before each remaining edit.
void apply(SMFICTX* ctx, const policy::Edits& edits, const std::string& audit_header) {
    for (const auto& e : edits.headers) {
        auto* name = const_cast<char*>(e.name.c_str());
        auto* value = const_cast<char*>(e.value.c_str());
        switch (e.op) {
            case policy::HeaderEdit::Op::remove:
                require(smfi_chgheader(ctx, name, e.index, nullptr), "smfi_chgheader");
                break;
            case policy::HeaderEdit::Op::change:
                require(smfi_chgheader(ctx, name, e.index, value), "smfi_chgheader");
                break;
            case policy::HeaderEdit::Op::add:
                require(smfi_addheader(ctx, name, value), "smfi_addheader");
                break;
        }
    }
    require(smfi_insheader(ctx, 0, const_cast<char*>("X-Marketplace-Audit"),
                           const_cast<char*>(audit_header.c_str())),
            "smfi_insheader");
    if (edits.envelope_from)
        require(smfi_chgfrom(ctx, const_cast<char*>(edits.envelope_from->c_str()), nullptr),
                "smfi_chgfrom");
    for (const auto& r : edits.remove_rcpts)
        require(smfi_delrcpt(ctx, const_cast<char*>(r.c_str())), "smfi_delrcpt");
    for (const auto& r : edits.add_rcpts)
        require(smfi_addrcpt(ctx, const_cast<char*>(r.c_str())), "smfi_addrcpt");
    if (edits.body) {
        // smfi_replacebody appends and blocks; large writes go in chunks the
        // MTA accepts (libmilter's MILTER_CHUNK_SIZE is 64 KiB).
        // A spooled body is read back one chunk at a time (a read error
        // throws: tempfail, never a half-replaced body accepted).
        constexpr std::size_t kChunk = 65535;
        const policy::MessageBody& body = *edits.body;
        if (body.empty())
            require(
                smfi_replacebody(ctx, reinterpret_cast<unsigned char*>(const_cast<char*>("")), 0),
                "smfi_replacebody");
        body.for_each_chunk(
            [&](std::string_view piece) {
                auto* data = reinterpret_cast<unsigned char*>(const_cast<char*>(piece.data()));
                require(smfi_replacebody(ctx, data, static_cast<int>(piece.size())),
                        "smfi_replacebody");
            },
            kChunk);
    }
}

sfsistat on_eom(SMFICTX* ctx) {
    return guarded(ctx, "eom", [&] {
        Connection* c = connection(ctx);
        if (c == nullptr || !c->msg) return SMFIS_TEMPFAIL;
        MessageState& m = *c->msg;
        // No BusyTimer: the state is gone when this returns; audit() adds
        // the time since callback_started.
        callback_starts(m);
        // The one callback with real work (milter/realtime.h).  Raising the
        // short ones too (RCPT, body chunks) made the p99 worse: dropping back
        // to the normal priority inside them is itself a point where the
        // thread is preempted.
        RealtimeSection realtime(!m.message.body.spilled());
        if (m.failed) return defer_failed(ctx, *c);
        const std::string qid = macro(ctx, "i");
        const Runtime& rt = *m.runtime;

        policy::EvalContext ectx{*rt.policy, rt.config.domain, g_service->classifier(),
                                 &g_service->directory().store(), &g_service->directory()};
        // At most max_parallel_evaluations parse trees at once; the rest
        // wait here with their bodies spooled.  The wait is bounded well
        // inside the MTA's milter timeout.
        auto permit = g_service->evaluation_gate().acquire(
            std::chrono::milliseconds(rt.config.milter_timeout * 1000LL / 2));
        if (!permit) {
            log_msg(LOG_ERR, "%s: defer: no evaluation slot came free within %d s",
                    qid.empty() ? "NOQUEUE" : qid.c_str(), rt.config.milter_timeout / 2);
            return defer_message(ctx, *c, qid, {"evaluation.busy", "no evaluation slot came free"},
                                 m.message.size());
        }
        policy::Verdict v = policy::evaluate(m.envelope, m.message, ectx);
        // The parse tree is gone; what the verdict holds is small (a large
        // rewritten body is in a spool file).
        permit.reset();
        if (realtime.budget_spent())
            log_msg(LOG_NOTICE,
                    "%s: evaluation used its realtime CPU budget (%lld ms), finished at normal "
                    "priority (%zu bytes)",
                    qid.empty() ? "NOQUEUE" : qid.c_str(),
                    static_cast<long long>(realtime_budget().count() / 1000), m.message.size());

        std::string reply;
        sfsistat status = SMFIS_CONTINUE;
        auto audit_header = [&] {
            return audit_header_value(m.audit_id, v.decision, v.rules, rt.policy->version,
                                      rt.config.hmac_key);
        };
        switch (v.decision) {
            case Decision::accept:
            case Decision::modify:
                apply(ctx, v.edits, audit_header());
                break;
            case Decision::quarantine:
                apply(ctx, v.edits, audit_header());
                quarantine(ctx, v.reply_text);
                break;
            case Decision::reject:
            case Decision::tempfail:
                reply = full_reply(v.reply_text, m.audit_id);
                set_reply(ctx, v.smtp_code, v.enhanced_code, reply);
                reply = v.smtp_code + " " + v.enhanced_code + " " + reply;
                status = v.decision == Decision::reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
                break;
        }
        // State is written only now that every edit went through: a message
        // the MTA will not deliver leaves no record.  The Message-ID mapping
        // and the marketplace state go in one transaction, so a retry after
        // any failure here finds both untouched.
        auto refuse_now = [&](Decision d, const char* code, const char* xcode,
                              const std::string& text) {
            v.decision = d;
            reply = full_reply(text, m.audit_id);
            set_reply(ctx, code, xcode, reply);
            reply = std::string(code) + " " + xcode + " " + reply;
            status = d == Decision::reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
        };
        const char* store_busy =
            "Temporary failure in the marketplace message store, try again later";
        // With a marketplace step the mapping goes into its transaction.
        if (status == SMFIS_CONTINUE && v.message_id_record && !v.marketplace) {
            auto committed =
                policy::commit_message_id(g_service->directory().store(), *v.message_id_record);
            if (!committed) {
                log_msg(LOG_ERR, "%s: cannot record the Message-ID mapping: %s",
                        qid.empty() ? "NOQUEUE" : qid.c_str(), committed.error().message.c_str());
                v.rules.push_back({"store.unavailable", committed.error().message});
                refuse_now(Decision::tempfail, "451", "4.3.0", store_busy);
            }
        }
        if (status == SMFIS_CONTINUE && v.marketplace) {
            // The authoritative run: inside the store's write transaction,
            // against the state as it is now (another connection may have
            // taken the order's one unsolicited message meanwhile).
            auto d = policy::run_marketplace(g_service->directory().store(), *v.marketplace,
                                             rt.policy->marketplace, true,
                                             v.message_id_record ? &*v.message_id_record : nullptr);
            if (!d) {
                log_msg(LOG_ERR, "%s: cannot record the marketplace state: %s",
                        qid.empty() ? "NOQUEUE" : qid.c_str(), d.error().message.c_str());
                v.rules.push_back({"store.unavailable", d.error().message});
                refuse_now(Decision::tempfail, "451", "4.3.0", store_busy);
            } else if (d->decision == Decision::reject || d->decision == Decision::tempfail) {
                policy::Verdict now;
                policy::apply_marketplace(*d, now);
                v.rules = std::move(now.rules);
                refuse_now(now.decision, now.smtp_code.c_str(), now.enhanced_code.c_str(),
                           now.reply_text);
            } else if (d->decision == Decision::quarantine && v.decision != Decision::quarantine) {
                quarantine(ctx, d->reply_text);
                v.decision = Decision::quarantine;
                for (const auto& hit : d->rules)
                    if (std::none_of(v.rules.begin(), v.rules.end(), [&](const auto& r) {
                            return r.id == hit.id && r.detail == hit.detail;
                        }))
                        v.rules.push_back(hit);
                // The audit header went out with the read-only run's decision;
                // ours is the first one (any from the sender were removed).
                require(smfi_chgheader(ctx, const_cast<char*>("X-Marketplace-Audit"), 1,
                                       const_cast<char*>(audit_header().c_str())),
                        "smfi_chgheader");
            }
        }
        log_msg(LOG_INFO, "%s: %s: audit=%s rules=%zu", qid.empty() ? "NOQUEUE" : qid.c_str(),
                policy::to_string(v.decision), m.audit_id.c_str(), v.rules.size());
        audit(m, qid, c->client, v.decision, reply, v.rules, v.sender_party, v.recipient_party,
              m.message.size());
        c->msg.reset();
        return status;
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
