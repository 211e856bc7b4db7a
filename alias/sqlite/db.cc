// SQLite plumbing (see db.h).
#include "alias/sqlite/db.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <utility>

namespace mm::alias::sqlite {

namespace {

constexpr std::size_t kPoolSize = 8;

constexpr std::string_view kBeginRead = "BEGIN";
constexpr std::string_view kBeginWrite = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";

}  // namespace

int exec_script(sqlite3* db, const char* sql) {
    while (sql != nullptr && *sql != '\0') {
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        int rc = sqlite3_prepare_v2(db, sql, -1, &raw, &tail);
        StmtPtr stmt(raw);
        if (rc != SQLITE_OK) return rc;
        sql = tail;
        if (!stmt) continue;  // white space or a comment
        while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        }
        if (rc != SQLITE_DONE) return rc;
    }
    return SQLITE_OK;
}

namespace {

// Runs a constant single-row query and hands its row to `read`.
template <class Read>
int query_first(sqlite3* db, const char* sql, Read read) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    read(stmt.get());
    return SQLITE_OK;
}

}  // namespace

int query_text(sqlite3* db, const char* sql, std::string& out) {
    return query_first(db, sql, [&](sqlite3_stmt* s) {
        const auto* p = sqlite3_column_text(s, 0);
        out = p == nullptr ? std::string() : reinterpret_cast<const char*>(p);
    });
}

int query_int(sqlite3* db, const char* sql, std::int64_t& out) {
    return query_first(db, sql, [&](sqlite3_stmt* s) { out = sqlite3_column_int64(s, 0); });
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// --- Lease ---------------------------------------------------------------------------------------

Lease::Lease(Lease&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), conn_(std::move(other.conn_)) {}

Lease::~Lease() {
    if (owner_ != nullptr) owner_->release(std::move(conn_));
}

Result<sqlite3_stmt*> Lease::prepare(std::string_view sql) {
    auto it = conn_->stmts.find(sql);
    if (it != conn_->stmts.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK || !stmt)
        return error(rc == SQLITE_OK ? SQLITE_ERROR : rc, "prepare statement");
    auto* p = stmt.get();
    conn_->stmts.emplace(sql, std::move(stmt));
    return p;
}

Failure Lease::error(int rc, const std::string& what) const {
    return owner_->error(db(), rc, what);
}

Result<void> Lease::run(std::string_view sql, const char* what) {
    auto rows = query(
        sql, [](Stmt&) {}, [](const Stmt&) {}, what);
    if (!rows) return rows.error();
    return {};
}

// --- Database ------------------------------------------------------------------------------------

Database::Database(std::string path, int busy_timeout_ms, SqliteSync sync)
    : path_(std::move(path)), busy_timeout_ms_(std::max(0, busy_timeout_ms)), sync_(sync) {}

Failure Database::error(sqlite3* db, int rc, const std::string& what) const {
    const char* text = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string message = "sqlite database '" + path_ + "': " + what + ": " + text;
    switch (rc & 0xff) {
        case SQLITE_MISUSE:
        case SQLITE_RANGE:
        case SQLITE_MISMATCH:
        case SQLITE_CONSTRAINT:  // the expected constraint errors are mapped by the callers
            return fail(Errc::internal, std::move(message));
        default:
            // BUSY, LOCKED, IOERR, CANTOPEN, CORRUPT, NOTADB, FULL, READONLY, NOMEM,
            // PROTOCOL, SCHEMA, PERM, ERROR, ...: the database cannot answer now.
            return fail(Errc::unavailable, std::move(message));
    }
}

Failure Database::bad_row(const std::string& what) const {
    return fail(Errc::internal, "sqlite database '" + path_ + "': " + what);
}

Result<std::unique_lock<std::timed_mutex>> Database::lock_writer() {
    std::unique_lock lock(writer_mu_, std::defer_lock);
    if (!lock.try_lock_for(std::chrono::milliseconds(busy_timeout_ms_)))
        return fail(Errc::unavailable, "sqlite database '" + path_ + "': no write turn within " +
                                           std::to_string(busy_timeout_ms_) + " ms");
    return lock;
}

Result<std::unique_ptr<Connection>> Database::connect() {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path_.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    DbPtr db(raw);  // owned even when the open failed
    if (rc != SQLITE_OK) return error(raw, rc, "open");
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, busy_timeout_ms_);
    rc = exec_script(raw, "PRAGMA foreign_keys = ON");
    if (rc != SQLITE_OK) return error(raw, rc, "enable foreign keys");
    rc = exec_script(raw, sync_ == SqliteSync::full ? "PRAGMA synchronous = FULL"
                                                    : "PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK) return error(raw, rc, "set synchronous");
    rc = exec_script(raw, "PRAGMA wal_autocheckpoint = 0");  // the Checkpointer does it
    if (rc != SQLITE_OK) return error(raw, rc, "disable automatic checkpoints");
    auto conn = std::make_unique<Connection>();
    conn->db = std::move(db);
    return conn;
}

Result<Lease> Database::acquire() {
    std::unique_lock lock(mu_);
    bool ready = cv_.wait_for(lock, std::chrono::milliseconds(busy_timeout_ms_),
                              [this] { return !idle_.empty() || open_count_ < kPoolSize; });
    if (!ready)
        return fail(Errc::unavailable, "sqlite database '" + path_ + "': all " +
                                           std::to_string(kPoolSize) + " connections busy for " +
                                           std::to_string(busy_timeout_ms_) + " ms");
    if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(conn));
    }
    ++open_count_;  // reserve the slot, then open outside the lock
    lock.unlock();
    auto conn = connect();
    if (!conn) {
        lock.lock();
        --open_count_;
        cv_.notify_one();
        return conn.error();
    }
    return Lease(this, std::move(conn).value());
}

void Database::release(std::unique_ptr<Connection> conn) {
    // A connection left inside a transaction (a failed rollback) is closed,
    // not reused: the next caller must start from a clean state.
    if (conn && sqlite3_get_autocommit(conn->db.get()) == 0) {
        (void)exec_script(conn->db.get(), "ROLLBACK");
        if (sqlite3_get_autocommit(conn->db.get()) == 0) conn.reset();
    }
    std::lock_guard lock(mu_);
    if (conn)
        idle_.push_back(std::move(conn));
    else
        --open_count_;
    cv_.notify_one();
}

// --- Transaction ---------------------------------------------------------------------------------

Transaction::~Transaction() {
    if (open_) (void)lease_.run(kRollback, "rollback");
}

Result<void> Transaction::begin(bool write) {
    if (write) {
        auto locked = lease_.database().lock_writer();
        if (!locked) return locked.error();
        writer_ = std::move(locked).value();
    }
    auto r = lease_.run(write ? kBeginWrite : kBeginRead, "begin transaction");
    open_ = r.ok();
    return r;
}

Result<void> Transaction::commit() {
    auto r = lease_.run(kCommit, "commit");
    if (r.ok()) open_ = false;
    return r;
}

// --- Checkpointer --------------------------------------------------------------------------------

Checkpointer::Checkpointer(Database& db, std::chrono::milliseconds interval)
    : db_(db), interval_(std::max(interval, std::chrono::milliseconds(1))) {
    // The thread takes no signals: the daemon waits for SIGUSR1 (reload) on
    // its own thread and blocks it only after the store is open.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    thread_ = std::thread([this] { loop(); });
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

Checkpointer::~Checkpointer() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Checkpointer::loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        // A failed or busy checkpoint is retried at the next turn; the WAL
        // only grows meanwhile, nothing is lost.
        if (auto lease = db_.acquire())
            sqlite3_wal_checkpoint_v2(lease->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
        lock.lock();
    }
}

}  // namespace mm::alias::sqlite
