// libpq plumbing (see pg.h).
#include "alias/postgres/pg.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace mm::alias::postgres {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// What a statement may take beyond the server's statement_timeout before
// the client stops waiting: the server cancels it first, unless it is
// unreachable.
constexpr milliseconds kClientGrace{1000};

// SQLSTATE classes that say the input or this program is wrong, not that
// the server cannot answer now: cardinality, data, integrity, invalid SQL
// statement name, syntax or access, with check, PL/pgSQL raise.
constexpr std::string_view kInternalClasses[] = {"21", "22", "23", "26", "42", "44", "P0"};

bool ok_status(ExecStatusType s) {
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

// libpq's messages end in a newline and may span lines; one line is kept.
std::string one_line(const char* text) {
    std::string s = text != nullptr ? text : "";
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s.empty() ? "no message from the server or libpq" : s;
}

// 1: the socket is ready, 0: the deadline passed, -1: no socket.
int wait_socket(PGconn* c, short events, steady_clock::time_point deadline) {
    const int fd = PQsocket(c);
    if (fd < 0) return -1;
    for (;;) {
        const auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now());
        if (left.count() <= 0) return 0;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

// Whether an idle connection is unusable: the server closed it or said
// something (a shutdown notice) since it was last used.
bool stale(Connection& c) {
    PGconn* conn = c.conn.get();
    if (c.broken || PQstatus(conn) != CONNECTION_OK) return true;
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) return true;
    const int fd = PQsocket(conn);
    if (fd < 0) return true;
    // A server going away sends an error, then closes: the first read takes
    // the message (parsed by PQisBusy, as a notice), a later one the end.
    for (int reads = 0; reads < 4; ++reads) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;
        if (PQconsumeInput(conn) == 0 || PQisBusy(conn) != 0) return true;
        // A notification (LISTEN is never used here) or a notice: drained.
        while (PGnotify* n = PQnotifies(conn)) PQfreemem(n);
        if (PQstatus(conn) != CONNECTION_OK) return true;
    }
    return false;
}

// Notices (CREATE TABLE IF NOT EXISTS skipping, a server's goodbye) are not
// errors; libpq's default prints them on stderr, which is the daemon's log.
void ignore_notice(void*, const char*) {}

}  // namespace

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// --- Params, Rows --------------------------------------------------------------------------------

std::vector<const char*> Params::pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(v.c_str());
    return out;
}

std::vector<int> Params::lengths() const {
    std::vector<int> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(static_cast<int>(v.size()));
    return out;
}

std::int64_t Rows::int64(int row, int col) const {
    const char* p = PQgetvalue(r_.get(), row, col);
    std::int64_t v = 0;
    std::from_chars(p, p + PQgetlength(r_.get(), row, col), v);
    return v;
}

std::int64_t Rows::affected() const {
    const char* p = PQcmdTuples(r_.get());
    std::int64_t v = 0;
    std::from_chars(p, p + std::strlen(p), v);
    return v;
}

// --- Lease ---------------------------------------------------------------------------------------

Lease::Lease(Lease&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), conn_(std::move(other.conn_)) {}

Lease::~Lease() {
    if (owner_ != nullptr) owner_->release(std::move(conn_));
}

Failure Lease::broke(const std::string& what) {
    conn_->broken = true;
    sqlstate_.clear();
    constraint_.clear();
    return owner_->error("", PQerrorMessage(conn_->conn.get()), what);
}

Result<Rows> Lease::finish(const std::string& what) {
    PGconn* c = conn_->conn.get();
    const auto deadline = steady_clock::now() + owner_->client_timeout();
    const auto timed_out = [&] {
        // The statement may still run: the connection cannot be reused.
        conn_->broken = true;
        sqlstate_.clear();
        return owner_->error(
            "", "no answer within " + std::to_string(owner_->client_timeout().count()) + " ms",
            what);
    };
    for (int pending; (pending = PQflush(c)) != 0;) {
        if (pending < 0) return broke(what);
        const int w = wait_socket(c, POLLIN | POLLOUT, deadline);
        if (w == 0) return timed_out();
        if (w < 0 || PQconsumeInput(c) == 0) return broke(what);
    }
    ResultPtr kept;
    for (;;) {
        while (PQisBusy(c) != 0) {
            const int w = wait_socket(c, POLLIN, deadline);
            if (w == 0) return timed_out();
            if (w < 0 || PQconsumeInput(c) == 0) return broke(what);
        }
        ResultPtr r(PQgetResult(c));
        if (!r) break;
        // The first error is the one to report; else the last result.
        if (!kept || ok_status(PQresultStatus(kept.get()))) kept = std::move(r);
    }
    if (!kept) return broke(what);
    if (ok_status(PQresultStatus(kept.get()))) {
        sqlstate_.clear();
        constraint_.clear();
        return Rows(std::move(kept));
    }
    const char* state = PQresultErrorField(kept.get(), PG_DIAG_SQLSTATE);
    const char* constraint = PQresultErrorField(kept.get(), PG_DIAG_CONSTRAINT_NAME);
    const char* primary = PQresultErrorField(kept.get(), PG_DIAG_MESSAGE_PRIMARY);
    sqlstate_ = state != nullptr ? state : "";
    constraint_ = constraint != nullptr ? constraint : "";
    // Class 08 (connection exception) and 57P0x (the server shutting down or
    // gone) leave a connection that cannot be used again.
    if (PQstatus(c) != CONNECTION_OK || sqlstate_.rfind("08", 0) == 0 ||
        sqlstate_.rfind("57P0", 0) == 0)
        conn_->broken = true;
    return owner_->error(sqlstate_, primary != nullptr ? primary : PQresultErrorMessage(kept.get()),
                         what);
}

Result<Rows> Lease::exec(std::string_view sql, const Params& params, const std::string& what) {
    if (conn_->broken) return broke(what);
    PGconn* c = conn_->conn.get();
    auto it = conn_->prepared.find(sql);
    if (it == conn_->prepared.end()) {
        std::string name = "mm" + std::to_string(conn_->prepared.size());
        const std::string text(sql);
        if (PQsendPrepare(c, name.c_str(), text.c_str(), params.size(), nullptr) == 0)
            return broke(what);
        if (auto r = finish(what + " (prepare)"); !r) return r.error();
        it = conn_->prepared.emplace(sql, std::move(name)).first;
    }
    const auto values = params.pointers();
    const auto lengths = params.lengths();
    if (PQsendQueryPrepared(c, it->second.c_str(), params.size(), values.data(), lengths.data(),
                            nullptr, 0) == 0)
        return broke(what);
    return finish(what);
}

Result<Rows> Lease::simple(const char* sql, const std::string& what) {
    if (conn_->broken) return broke(what);
    if (PQsendQuery(conn_->conn.get(), sql) == 0) return broke(what);
    return finish(what);
}

// --- Database ------------------------------------------------------------------------------------

Database::Database(PostgresConfig config)
    : config_(std::move(config)), label_(redact_dsn(config_.dsn)) {}

milliseconds Database::client_timeout() const {
    return milliseconds(std::max(0, config_.statement_timeout_ms)) + kClientGrace;
}

Failure Database::error(const std::string& sqlstate, const std::string& text,
                        const std::string& what) const {
    std::string message =
        "postgres store '" + label_ + "': " + what + ": " + one_line(text.c_str());
    if (!sqlstate.empty()) message += " (SQLSTATE " + sqlstate + ")";
    // Text that is not UTF-8 (a display name typed in another encoding):
    // an answer about the input, as the contract's other input rules.
    if (sqlstate == "22021") return fail(Errc::invalid, std::move(message));
    const std::string cls = sqlstate.substr(0, 2);
    for (auto internal : kInternalClasses)
        if (cls == internal) return fail(Errc::internal, std::move(message));
    // Connection, timeout (57014), locks, serialisation, resources, shutdown:
    // the database cannot answer now.
    return fail(Errc::unavailable, std::move(message));
}

Failure Database::bad_row(const std::string& what) const {
    return fail(Errc::internal, "postgres store '" + label_ + "': " + what);
}

Result<std::unique_ptr<Connection>> Database::connect() {
    const int timeout_ms = std::max(0, config_.statement_timeout_ms);
    // Entries before dbname (the DSN, expanded) are defaults the DSN may
    // override; the passfile of the config comes after and wins.
    std::vector<const char*> keys = {"application_name", "dbname"};
    std::vector<const char*> values = {"marketplace-milter", config_.dsn.c_str()};
    if (!config_.passfile.empty()) {
        keys.push_back("passfile");
        values.push_back(config_.passfile.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    // Asynchronous, so that a server that accepts and then says nothing
    // holds the caller no longer than the timeout (libpq's connect_timeout
    // counts whole seconds, at least 2, and only when connecting blocks).
    const auto deadline = steady_clock::now() + milliseconds(std::max(timeout_ms, 1));
    ConnPtr conn(PQconnectStartParams(keys.data(), values.data(), 1));
    if (!conn) return fail(Errc::unavailable, "postgres store '" + label_ + "': out of memory");
    for (auto polled = PGRES_POLLING_WRITING; polled != PGRES_POLLING_OK;) {
        if (polled == PGRES_POLLING_FAILED || PQstatus(conn.get()) == CONNECTION_BAD)
            return error("", PQerrorMessage(conn.get()), "connect");
        const int w =
            wait_socket(conn.get(), polled == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w == 0)
            return error("", "no answer within " + std::to_string(timeout_ms) + " ms", "connect");
        if (w < 0) return error("", PQerrorMessage(conn.get()), "connect");
        polled = PQconnectPoll(conn.get());
    }
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    // The server cancels what runs longer (SQLSTATE 57014): the caller gets
    // unavailable and the message is tempfailed.  SET takes no parameters;
    // the value is a number from the config.
    const std::string set = "SET statement_timeout = " + std::to_string(timeout_ms);
    if (PQsendQuery(conn.get(), set.c_str()) == 0)
        return error("", PQerrorMessage(conn.get()), "set statement_timeout");
    ResultPtr last;
    for (;;) {
        while (PQisBusy(conn.get()) != 0) {
            if (wait_socket(conn.get(), POLLIN, deadline + kClientGrace) <= 0 ||
                PQconsumeInput(conn.get()) == 0)
                return error("", "no answer", "set statement_timeout");
        }
        ResultPtr r(PQgetResult(conn.get()));
        if (!r) break;
        last = std::move(r);
    }
    if (!last || PQresultStatus(last.get()) != PGRES_COMMAND_OK)
        return error("", last ? PQresultErrorMessage(last.get()) : PQerrorMessage(conn.get()),
                     "set statement_timeout");
    auto c = std::make_unique<Connection>();
    c->conn = std::move(conn);
    return c;
}

Result<Lease> Database::acquire() {
    const auto deadline =
        steady_clock::now() + milliseconds(std::max(0, config_.statement_timeout_ms));
    const auto pool = static_cast<std::size_t>(std::max(1, config_.pool));
    std::unique_lock lock(mu_);
    for (;;) {
        while (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            lock.unlock();
            if (!stale(*conn)) return Lease(this, std::move(conn));
            conn.reset();  // closed outside the lock
            lock.lock();
            --open_count_;
        }
        if (open_count_ < pool) {
            ++open_count_;  // reserve the slot, then connect outside the lock
            lock.unlock();
            auto conn = connect();
            if (conn) return Lease(this, std::move(conn).value());
            lock.lock();
            --open_count_;
            cv_.notify_one();
            return conn.error();
        }
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            open_count_ >= pool)
            return fail(Errc::unavailable, "postgres store '" + label_ + "': all " +
                                               std::to_string(pool) + " connections busy for " +
                                               std::to_string(config_.statement_timeout_ms) +
                                               " ms");
    }
}

void Database::release(std::unique_ptr<Connection> conn) {
    // A broken connection, or one left inside a transaction (a failed
    // rollback), is closed, not reused: the next caller starts clean.
    if (conn && (conn->broken || PQstatus(conn->conn.get()) != CONNECTION_OK ||
                 PQtransactionStatus(conn->conn.get()) != PQTRANS_IDLE))
        conn.reset();
    std::lock_guard lock(mu_);
    if (conn)
        idle_.push_back(std::move(conn));
    else
        --open_count_;
    cv_.notify_one();
}

// --- Transaction ---------------------------------------------------------------------------------

Transaction::~Transaction() {
    if (open_) (void)lease_.simple("ROLLBACK", "rollback");
}

Result<void> Transaction::begin(const char* begin) {
    auto r = lease_.simple(begin, "begin transaction");
    if (!r) return r.error();
    open_ = true;
    return {};
}

Result<void> Transaction::commit() {
    auto r = lease_.simple("COMMIT", "commit");
    if (!r) return r.error();
    open_ = false;
    // COMMIT of a transaction the server has aborted answers ROLLBACK.
    if (r->command() != "COMMIT")
        return lease_.database().error("", "the transaction was rolled back", "commit");
    return {};
}

}  // namespace mm::alias::postgres
