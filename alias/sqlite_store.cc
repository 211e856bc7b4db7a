// SqliteStore: the embedded Store backend (see sqlite_store.h for the
// contract).
//
// Ownership: every sqlite3* and sqlite3_stmt* lives in a std::unique_ptr with
// a deleter; prepared statements are cached per connection and destroyed
// before it.  A connection is used by one thread at a time: calls lease it
// from the pool through an RAII Lease that gives it back (or closes it, if it
// was left inside a transaction) when the call returns.  Writes that touch
// several rows run in one BEGIN IMMEDIATE transaction, rolled back by an RAII
// guard on any early return, so nothing is ever half-written.
//
// Only bound parameters carry data into SQL.  The one statement built from a
// number is PRAGMA user_version, which takes no parameters; its value is the
// migration index, never input.
#include "alias/sqlite_store.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <exception>
#include <initializer_list>
#include <iterator>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alias/alias_generator.h"
#include "util/address.h"

namespace mm::alias {

namespace {

// --- Schema --------------------------------------------------------------------------------------

// Migration i (0-based) takes the schema from user_version i to i + 1.  Append
// new migrations at the end; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    // 1: parties, their approved senders, and pairs with their two aliases.
    R"sql(
CREATE TABLE party (
    id           TEXT    PRIMARY KEY NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('buyer', 'seller')),
    address      TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    attributes   TEXT    NOT NULL DEFAULT '{}',
    created      INTEGER NOT NULL
);
CREATE TABLE party_sender (
    party_id TEXT NOT NULL REFERENCES party (id) ON DELETE CASCADE,
    address  TEXT NOT NULL,
    PRIMARY KEY (party_id, address)
);
CREATE TABLE pair (
    id           INTEGER PRIMARY KEY,
    buyer_id     TEXT    NOT NULL REFERENCES party (id),
    seller_id    TEXT    NOT NULL REFERENCES party (id),
    buyer_alias  TEXT    NOT NULL UNIQUE,
    seller_alias TEXT    NOT NULL UNIQUE,
    created      INTEGER NOT NULL,
    UNIQUE (buyer_id, seller_id)
);
CREATE INDEX pair_seller ON pair (seller_id);
)sql",
    // 2: the marketplace Message-IDs given to delivered messages and the
    // original ids they replace (see message_id.h).
    R"sql(
CREATE TABLE message_id (
    marketplace_id TEXT    PRIMARY KEY NOT NULL,
    original_id    TEXT    NOT NULL DEFAULT '',
    pair_id        INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    sender_role    TEXT    NOT NULL CHECK (sender_role IN ('buyer', 'seller')),
    created        INTEGER NOT NULL
);
CREATE INDEX message_id_original ON message_id (pair_id, original_id);
)sql",
    // 3: marketplace rules (thread_state.h): orders, threads (pair + order),
    // per-seller [Important] uses per UTC day, recent message fingerprints
    // for the repeat rule, and the response-time log (at most one open entry
    // per pair).
    R"sql(
CREATE TABLE orders (
    id         TEXT    PRIMARY KEY NOT NULL,
    pair_id    INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL
               CHECK (kind IN ('standard', 'handmade', 'custom', 'wine', 'gift-return')),
    fulfilment TEXT    NOT NULL CHECK (fulfilment IN ('fba', 'fbm')),
    created    INTEGER NOT NULL
);
CREATE INDEX orders_pair ON orders (pair_id);
CREATE TABLE threads (
    pair_id                 INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    order_id                TEXT    NOT NULL DEFAULT '',
    started_by              TEXT    NOT NULL CHECK (started_by IN ('buyer', 'seller')),
    created                 INTEGER NOT NULL,
    last_buyer_at           INTEGER NOT NULL DEFAULT 0,
    last_seller_at          INTEGER NOT NULL DEFAULT 0,
    unsolicited_since_buyer INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pair_id, order_id)
) WITHOUT ROWID;
CREATE TABLE important_uses (
    seller_id TEXT    NOT NULL,
    day       TEXT    NOT NULL,
    count     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (seller_id, day)
) WITHOUT ROWID;
CREATE TABLE fingerprints (
    seller_id TEXT    NOT NULL,
    buyer_id  TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX fingerprints_parties ON fingerprints (seller_id, buyer_id, at);
CREATE INDEX fingerprints_at ON fingerprints (at);
CREATE TABLE response_log (
    id               INTEGER PRIMARY KEY,
    pair_id          INTEGER NOT NULL REFERENCES pair (id) ON DELETE CASCADE,
    seller_id        TEXT    NOT NULL,
    buyer_message_at INTEGER NOT NULL,
    first_reply_at   INTEGER
);
CREATE UNIQUE INDEX response_log_open ON response_log (pair_id) WHERE first_reply_at IS NULL;
CREATE INDEX response_log_seller ON response_log (seller_id, buyer_message_at);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr std::size_t kPoolSize = 8;
constexpr int kAliasAttempts = 16;

// --- RAII for the SQLite handles -----------------------------------------------------------------

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// One pooled connection and its cache of prepared statements.  `db` is
// declared first so that the statements are finalized before it is closed.
struct Connection {
    DbPtr db;
    std::unordered_map<std::string_view, StmtPtr> stmts;  // keyed by the SQL literal
};

// A cached statement in use: binds parameters, steps, reads columns, and is
// reset (bindings cleared) when it goes out of scope.  The first binding
// error is kept and returned by step(), so callers check one code.
class Stmt {
public:
    explicit Stmt(sqlite3_stmt* s) : s_(s) {}
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }

    Stmt& text(int index, std::string_view v) {
        if (v.size() > static_cast<std::size_t>(INT_MAX)) return keep(SQLITE_TOOBIG);
        return keep(
            sqlite3_bind_text(s_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    Stmt& int64(int index, std::int64_t v) { return keep(sqlite3_bind_int64(s_, index, v)); }

    int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(s_); }

    std::string column_text(int col) const {
        const auto* p = sqlite3_column_text(s_, col);
        if (p == nullptr) return {};
        return std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
    }
    std::int64_t column_int64(int col) const { return sqlite3_column_int64(s_, col); }

private:
    Stmt& keep(int rc) {
        if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
        return *this;
    }
    sqlite3_stmt* s_;
    int bind_rc_ = SQLITE_OK;
};

// Runs constant SQL without parameters (possibly several statements),
// stepping each to completion.  Used for PRAGMAs and migrations.
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

// Runs a constant single-row query (a PRAGMA) and returns its first column.
int query_text(sqlite3* db, const char* sql, std::string& out) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    const auto* p = sqlite3_column_text(stmt.get(), 0);
    out = p == nullptr ? std::string() : reinterpret_cast<const char*>(p);
    return SQLITE_OK;
}

int query_int(sqlite3* db, const char* sql, std::int64_t& out) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(stmt.get());
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    out = sqlite3_column_int64(stmt.get(), 0);
    return SQLITE_OK;
}

// --- Validation and encoding ---------------------------------------------------------------------

bool valid_party_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

// The party as it is stored (addresses normalised, senders de-duplicated in
// their order), or invalid.
Result<Party> validated(const Party& in) {
    if (!valid_party_id(in.id))
        return fail(Errc::invalid,
                    "party id '" + in.id + "' is malformed (expected [A-Za-z0-9._-]{1,64})");
    Party p = in;
    p.address = mm::normalize_address(in.address);
    if (!mm::is_valid_address(p.address))
        return fail(Errc::invalid,
                    "party '" + in.id + "': address '" + in.address + "' is malformed");
    if (in.display_name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
        return fail(Errc::invalid, "party '" + in.id + "': display name contains CR, LF or NUL");
    p.senders.clear();
    for (const auto& raw : in.senders) {
        std::string s = mm::normalize_address(raw);
        if (!mm::is_valid_address(s))
            return fail(Errc::invalid,
                        "party '" + in.id + "': sender address '" + raw + "' is malformed");
        if (std::find(p.senders.begin(), p.senders.end(), s) == p.senders.end())
            p.senders.push_back(std::move(s));
    }
    return p;
}

// attributes as a JSON object of strings; SQLite's json_each reads it back.
// Invalid UTF-8 from an operator is replaced, never an exception.
std::string attributes_json(const std::map<std::string, std::string>& attributes) {
    return nlohmann::json(attributes)
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// --- SQL -----------------------------------------------------------------------------------------

constexpr std::string_view kBeginRead = "BEGIN";
constexpr std::string_view kBeginWrite = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";

constexpr std::string_view kInsertParty =
    "INSERT INTO party (id, role, address, display_name, attributes, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr std::string_view kUpdateParty =
    "UPDATE party SET address = ?2, display_name = ?3, attributes = ?4 WHERE id = ?1";
constexpr std::string_view kInsertSender =
    "INSERT INTO party_sender (party_id, address) VALUES (?1, ?2)";
constexpr std::string_view kDeleteSenders = "DELETE FROM party_sender WHERE party_id = ?1";
constexpr std::string_view kSelectParty =
    "SELECT role, address, display_name FROM party WHERE id = ?1";
constexpr std::string_view kSelectSenders =
    "SELECT address FROM party_sender WHERE party_id = ?1 ORDER BY rowid";
constexpr std::string_view kSelectAttributes =
    "SELECT j.key, j.value FROM party, json_each(party.attributes) AS j WHERE party.id = ?1";
constexpr std::string_view kSelectRole = "SELECT role FROM party WHERE id = ?1";
constexpr std::string_view kSelectPair =
    "SELECT id, buyer_id, seller_id, buyer_alias, seller_alias, created FROM pair "
    "WHERE buyer_id = ?1 AND seller_id = ?2";
constexpr std::string_view kSelectPairByAlias =
    "SELECT id, buyer_id, seller_id, buyer_alias, seller_alias, created FROM pair "
    "WHERE buyer_alias = ?1 OR seller_alias = ?1";
constexpr std::string_view kAliasTaken =
    "SELECT 1 FROM pair WHERE buyer_alias IN (?1, ?2) OR seller_alias IN (?1, ?2) LIMIT 1";
constexpr std::string_view kInsertPair =
    "INSERT INTO pair (buyer_id, seller_id, buyer_alias, seller_alias, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

constexpr std::string_view kInsertMessageId =
    "INSERT INTO message_id (marketplace_id, original_id, pair_id, sender_role, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kSelectMessageId =
    "SELECT marketplace_id, original_id, pair_id, sender_role, created FROM message_id "
    "WHERE marketplace_id = ?1";
constexpr std::string_view kSelectMessageIdByOriginal =
    "SELECT marketplace_id, original_id, pair_id, sender_role, created FROM message_id "
    "WHERE pair_id = ?1 AND original_id = ?2 AND sender_role = ?3 "
    "ORDER BY created DESC, rowid DESC LIMIT 1";

constexpr std::string_view kInsertOrder =
    "INSERT INTO orders (id, pair_id, kind, fulfilment, created) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kSelectOrder =
    "SELECT id, pair_id, kind, fulfilment, created FROM orders WHERE id = ?1";
constexpr std::string_view kSelectPairExists = "SELECT 1 FROM pair WHERE id = ?1";

constexpr std::string_view kSelectThread =
    "SELECT started_by, created, last_buyer_at, last_seller_at, unsolicited_since_buyer "
    "FROM threads WHERE pair_id = ?1 AND order_id = ?2";
// ?3 writer role (started_by of a new thread), ?4 now, ?5 last_buyer_at or 0
// (unchanged), ?6 last_seller_at or 0 (unchanged), ?7 1: reset the unsolicited
// count, ?8 what to add to it.
constexpr std::string_view kUpsertThread =
    "INSERT INTO threads (pair_id, order_id, started_by, created, last_buyer_at, "
    "last_seller_at, unsolicited_since_buyer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?8) "
    "ON CONFLICT (pair_id, order_id) DO UPDATE SET "
    "last_buyer_at = CASE WHEN ?5 != 0 THEN ?5 ELSE last_buyer_at END, "
    "last_seller_at = CASE WHEN ?6 != 0 THEN ?6 ELSE last_seller_at END, "
    "unsolicited_since_buyer = CASE WHEN ?7 != 0 THEN ?8 "
    "ELSE unsolicited_since_buyer + ?8 END";
constexpr std::string_view kSelectFingerprints =
    "SELECT hash, at FROM fingerprints WHERE seller_id = ?1 AND buyer_id = ?2 AND at > ?3 "
    "ORDER BY at, rowid";
constexpr std::string_view kInsertFingerprint =
    "INSERT INTO fingerprints (seller_id, buyer_id, hash, at) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kPruneFingerprints = "DELETE FROM fingerprints WHERE at <= ?1";
constexpr std::string_view kSelectImportant =
    "SELECT count FROM important_uses WHERE seller_id = ?1 AND day = ?2";
constexpr std::string_view kIncrementImportant =
    "INSERT INTO important_uses (seller_id, day, count) VALUES (?1, ?2, 1) "
    "ON CONFLICT (seller_id, day) DO UPDATE SET count = count + 1";
constexpr std::string_view kOpenResponse =
    "INSERT INTO response_log (pair_id, seller_id, buyer_message_at) "
    "SELECT ?1, ?2, ?3 WHERE NOT EXISTS "
    "(SELECT 1 FROM response_log WHERE pair_id = ?1 AND first_reply_at IS NULL)";
constexpr std::string_view kCloseResponse =
    "UPDATE response_log SET first_reply_at = ?2 WHERE pair_id = ?1 AND first_reply_at IS NULL";
constexpr std::string_view kSelectResponseTimes =
    "SELECT seller_id, buyer_message_at, coalesce(first_reply_at, 0) FROM response_log "
    "WHERE (?1 = '' OR seller_id = ?1) AND buyer_message_at >= ?2 "
    "ORDER BY seller_id, buyer_message_at, id";

bool valid_order_kind(const std::string& k) {
    return k == "standard" || k == "handmade" || k == "custom" || k == "wine" || k == "gift-return";
}
bool valid_fulfilment(const std::string& f) {
    return f == "fba" || f == "fbm";
}

// The UTC day of `t` as YYYY-MM-DD (the [Important] counter's key).
std::string utc_day(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

Pair read_pair(const Stmt& s) {
    Pair p;
    p.id = s.column_int64(0);
    p.buyer_id = s.column_text(1);
    p.seller_id = s.column_text(2);
    p.buyer_alias = s.column_text(3);
    p.seller_alias = s.column_text(4);
    p.created = s.column_int64(5);
    return p;
}

// A Message-ID as the store keeps it: no angle brackets, white space,
// control characters, at most 998 characters (one header line).
bool valid_message_id(const std::string& id) {
    return id.size() <= 998 && std::none_of(id.begin(), id.end(), [](char c) {
               auto u = static_cast<unsigned char>(c);
               return u <= 0x20 || u == 0x7f || c == '<' || c == '>';
           });
}

// --- The store -----------------------------------------------------------------------------------

class SqliteStore final : public Store {
public:
    SqliteStore(std::string path, int busy_timeout_ms, SqliteSync sync,
                std::chrono::milliseconds checkpoint_interval)
        : path_(std::move(path)),
          busy_timeout_ms_(std::max(0, busy_timeout_ms)),
          sync_(sync),
          checkpoint_interval_(std::max(checkpoint_interval, std::chrono::milliseconds(1))) {}
    ~SqliteStore() override {
        {
            std::lock_guard lock(checkpoint_mu_);
            stopping_ = true;
        }
        checkpoint_cv_.notify_all();
        if (checkpointer_.joinable()) checkpointer_.join();
    }
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    // Switches the file to WAL, applies pending migrations and starts the
    // checkpointer: on every open, not only on the one that migrated, since
    // connections never checkpoint on their own.
    Result<void> initialise();

    Result<void> add_party(const Party& party) override;
    Result<void> update_party(const Party& party) override;
    Result<std::optional<Party>> find_party(const std::string& id) override;
    Result<Pair> add_pair(const std::string& buyer_id, const std::string& seller_id) override;
    Result<std::optional<Pair>> find_pair(const std::string& buyer_id,
                                          const std::string& seller_id) override;
    Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) override;
    Result<void> record_message_id(const MessageIdRecord& record) override;
    Result<std::optional<MessageIdRecord>> find_message_id(
        const std::string& marketplace_id) override;
    Result<std::optional<MessageIdRecord>> find_by_original(
        std::int64_t pair_id, Role sender_role, const std::string& original_id) override;
    Result<void> add_order(const Order& order) override;
    Result<std::optional<Order>> find_order(const std::string& id) override;
    Result<ThreadUpdate> apply_thread_event(const ThreadEvent& event,
                                            const ThreadDecide& decide) override;
    Result<std::vector<ResponseTime>> response_times(const std::string& seller_id,
                                                     std::int64_t since) override;

private:
    // A connection leased from the pool for the duration of one call.
    class Lease {
    public:
        Lease(SqliteStore* store, std::unique_ptr<Connection> conn)
            : store_(store), conn_(std::move(conn)) {}
        Lease(Lease&& other) noexcept
            : store_(std::exchange(other.store_, nullptr)), conn_(std::move(other.conn_)) {}
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() {
            if (store_ != nullptr) store_->release(std::move(conn_));
        }

        sqlite3* db() const { return conn_->db.get(); }
        // The cached prepared statement for `sql`; prepares it on first use.
        Result<sqlite3_stmt*> prepare(std::string_view sql);

    private:
        SqliteStore* store_;
        std::unique_ptr<Connection> conn_;
    };

    // Rolls back on scope exit unless committed.
    class Transaction {
    public:
        explicit Transaction(SqliteStore& store, Lease& lease) : store_(store), lease_(lease) {}
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        ~Transaction() {
            if (open_) (void)store_.run(lease_, kRollback, "rollback");
        }
        Result<void> begin(bool write) {
            if (write) {
                auto locked = store_.lock_writer();
                if (!locked) return locked.error();
                writer_ = std::move(locked).value();
            }
            auto r = store_.run(lease_, write ? kBeginWrite : kBeginRead, "begin transaction");
            open_ = r.ok();
            return r;
        }
        Result<void> commit() {
            auto r = store_.run(lease_, kCommit, "commit");
            if (r.ok()) open_ = false;
            return r;
        }

    private:
        SqliteStore& store_;
        Lease& lease_;
        std::unique_lock<std::timed_mutex> writer_;  // released after COMMIT/ROLLBACK
        bool open_ = false;
    };

    // SQLite has one writer at a time.  Writers of this process queue here
    // instead of in SQLite's busy handler, which polls with sleeps of 1, 2,
    // 5, ... ms: with 20 sessions writing at once that added milliseconds to
    // a message.  The busy handler still arbitrates with other processes.
    Result<std::unique_lock<std::timed_mutex>> lock_writer() {
        std::unique_lock lock(writer_mu_, std::defer_lock);
        if (!lock.try_lock_for(std::chrono::milliseconds(busy_timeout_ms_)))
            return fail(Errc::unavailable, "sqlite database '" + path_ +
                                               "': no write turn within " +
                                               std::to_string(busy_timeout_ms_) + " ms");
        return lock;
    }

    Result<Lease> acquire();
    void release(std::unique_ptr<Connection> conn);
    Result<std::unique_ptr<Connection>> connect();

    // Runs a parameterless cached statement to completion.
    Result<void> run(Lease& lease, std::string_view sql, const char* what);
    Result<void> insert_senders(Lease& lease, const Party& p);
    // Runs a pair query whose parameters are `params`, in order.
    Result<std::optional<Pair>> select_pair(Lease& lease, std::string_view sql,
                                            std::initializer_list<std::string_view> params);
    // Runs a message_id query whose parameters are bound by `bind`.
    template <class Bind>
    Result<std::optional<MessageIdRecord>> select_message_id(std::string_view sql, Bind bind,
                                                             const std::string& what);
    // The role of party `id`, nullopt if there is none.
    Result<std::optional<Role>> role_of(Lease& lease, const std::string& id);

    Failure error(sqlite3* db, int rc, const std::string& what) const;

    // The INSERT of record_message_id, on a leased connection (inside a
    // transaction or in autocommit).
    Result<void> insert_message_id(Lease& lease, const MessageIdRecord& record);
    // apply_thread_event's two halves, inside its transaction.
    Result<ThreadState> load_thread(Lease& lease, std::int64_t pair_id, const std::string& order_id,
                                    const std::string& buyer_id, const std::string& seller_id,
                                    std::int64_t now, std::int64_t repeat_window_s);
    Result<void> write_thread(Lease& lease, const ThreadState& state, const ThreadUpdate& update,
                              const std::string& buyer_id, const std::string& seller_id,
                              std::int64_t now, std::int64_t repeat_window_s);
    // Runs a write statement bound by `bind` to completion.
    template <class Bind>
    Result<void> exec(Lease& lease, std::string_view sql, Bind bind, const std::string& what);

    const std::string path_;
    const int busy_timeout_ms_;
    const SqliteSync sync_;
    std::timed_mutex writer_mu_;

    // Checkpoints copy the WAL into the database file and, at any sync
    // level, fsync it.  SQLite's automatic checkpoint runs in the commit
    // that crosses 1000 pages, while that writer holds the write lock: every
    // other message waited for the fsync (the p99 of the milter's time per
    // message was ~25 ms).  Connections here never checkpoint on commit; this
    // thread does, PASSIVE (writers go on appending meanwhile), every
    // checkpoint_interval_.
    const std::chrono::milliseconds checkpoint_interval_;
    Result<void> migrate(Lease& lease);
    void start_checkpointer();
    void checkpoint_loop();
    std::mutex checkpoint_mu_;
    std::condition_variable checkpoint_cv_;
    bool stopping_ = false;  // guarded by checkpoint_mu_
    std::thread checkpointer_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
    std::size_t open_count_ = 0;                     // leased + idle, guarded by mu_
};

Failure SqliteStore::error(sqlite3* db, int rc, const std::string& what) const {
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

Result<sqlite3_stmt*> SqliteStore::Lease::prepare(std::string_view sql) {
    auto it = conn_->stmts.find(sql);
    if (it != conn_->stmts.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK || !stmt)
        return store_->error(db(), rc == SQLITE_OK ? SQLITE_ERROR : rc, "prepare statement");
    auto* p = stmt.get();
    conn_->stmts.emplace(sql, std::move(stmt));
    return p;
}

Result<std::unique_ptr<Connection>> SqliteStore::connect() {
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
    rc = exec_script(raw, "PRAGMA wal_autocheckpoint = 0");  // checkpoint_loop does it
    if (rc != SQLITE_OK) return error(raw, rc, "disable automatic checkpoints");
    auto conn = std::make_unique<Connection>();
    conn->db = std::move(db);
    return conn;
}

Result<SqliteStore::Lease> SqliteStore::acquire() {
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

void SqliteStore::release(std::unique_ptr<Connection> conn) {
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

Result<void> SqliteStore::run(Lease& lease, std::string_view sql, const char* what) {
    auto prepared = lease.prepare(sql);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return error(lease.db(), rc, what);
    return {};
}

Result<void> SqliteStore::initialise() {
    if (sqlite3_threadsafe() == 0)
        return fail(Errc::internal, "the SQLite library was built without thread support");
    auto lease = acquire();
    if (!lease) return lease.error();
    sqlite3* db = lease->db();

    std::string mode;
    int rc = query_text(db, "PRAGMA journal_mode = WAL", mode);
    if (rc != SQLITE_OK) return error(db, rc, "switch to WAL mode");
    if (!mm::iequals(mode, "wal"))
        return fail(Errc::unavailable, "sqlite database '" + path_ +
                                           "': cannot use WAL mode (journal mode is '" + mode +
                                           "'; the store needs a database file)");

    if (auto r = migrate(*lease); !r) return r;
    start_checkpointer();
    return {};
}

Result<void> SqliteStore::migrate(Lease& lease) {
    sqlite3* db = lease.db();
    std::int64_t version = 0;
    int rc = query_int(db, "PRAGMA user_version", version);
    if (rc != SQLITE_OK) return error(db, rc, "read schema version");
    if (version == kSchemaVersion) return {};

    // Re-read the version inside the write transaction: another process may
    // have migrated the file meanwhile.
    Transaction tx(*this, lease);
    if (auto r = tx.begin(true); !r) return r;
    rc = query_int(db, "PRAGMA user_version", version);
    if (rc != SQLITE_OK) return error(db, rc, "read schema version");
    if (version > kSchemaVersion || version < 0)
        return fail(Errc::unavailable, "sqlite database '" + path_ + "': schema version " +
                                           std::to_string(version) +
                                           " is not one this program knows (" +
                                           std::to_string(kSchemaVersion) + " or older)");
    for (auto v = static_cast<int>(version); v < kSchemaVersion; ++v) {
        rc = exec_script(db, kMigrations[v]);
        if (rc != SQLITE_OK)
            return error(db, rc, "migrate schema to version " + std::to_string(v + 1));
        const std::string set_version = "PRAGMA user_version = " + std::to_string(v + 1);
        rc = exec_script(db, set_version.c_str());
        if (rc != SQLITE_OK) return error(db, rc, "set schema version");
    }
    return tx.commit();
}

void SqliteStore::start_checkpointer() {
    // The thread takes no signals: the daemon waits for SIGUSR1 (reload) on
    // its own thread and blocks it only after the store is open.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

void SqliteStore::checkpoint_loop() {
    std::unique_lock lock(checkpoint_mu_);
    while (!checkpoint_cv_.wait_for(lock, checkpoint_interval_, [this] { return stopping_; })) {
        lock.unlock();
        // A failed or busy checkpoint is retried at the next turn; the WAL
        // only grows meanwhile, nothing is lost.
        if (auto lease = acquire())
            sqlite3_wal_checkpoint_v2(lease->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
        lock.lock();
    }
}

Result<void> SqliteStore::insert_senders(Lease& lease, const Party& p) {
    auto prepared = lease.prepare(kInsertSender);
    if (!prepared) return prepared.error();
    for (const auto& sender : p.senders) {
        Stmt s(*prepared);
        int rc = s.text(1, p.id).text(2, sender).step();
        if (rc != SQLITE_DONE) return error(lease.db(), rc, "add sender of party '" + p.id + "'");
    }
    return {};
}

Result<void> SqliteStore::add_party(const Party& party) {
    auto valid = validated(party);
    if (!valid) return valid.error();
    const Party& p = *valid;

    auto lease = acquire();
    if (!lease) return lease.error();
    Transaction tx(*this, *lease);
    if (auto r = tx.begin(true); !r) return r;
    {
        auto prepared = lease->prepare(kInsertParty);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, p.id)
                     .text(2, to_string(p.role))
                     .text(3, p.address)
                     .text(4, p.display_name)
                     .text(5, attributes_json(p.attributes))
                     .int64(6, unix_now())
                     .step();
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
            return fail(Errc::conflict, "party '" + p.id + "' exists already");
        if (rc != SQLITE_DONE) return error(lease->db(), rc, "add party '" + p.id + "'");
    }
    if (auto r = insert_senders(*lease, p); !r) return r;
    return tx.commit();
}

Result<void> SqliteStore::update_party(const Party& party) {
    auto valid = validated(party);
    if (!valid) return valid.error();
    const Party& p = *valid;

    auto lease = acquire();
    if (!lease) return lease.error();
    Transaction tx(*this, *lease);
    if (auto r = tx.begin(true); !r) return r;
    {
        auto prepared = lease->prepare(kUpdateParty);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, p.id)
                     .text(2, p.address)
                     .text(3, p.display_name)
                     .text(4, attributes_json(p.attributes))
                     .step();
        if (rc != SQLITE_DONE) return error(lease->db(), rc, "update party '" + p.id + "'");
        if (sqlite3_changes(lease->db()) == 0)
            return fail(Errc::not_found, "party '" + p.id + "' not found");
    }
    {
        auto prepared = lease->prepare(kDeleteSenders);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, p.id).step();
        if (rc != SQLITE_DONE)
            return error(lease->db(), rc, "replace senders of party '" + p.id + "'");
    }
    if (auto r = insert_senders(*lease, p); !r) return r;
    return tx.commit();
}

Result<std::optional<Party>> SqliteStore::find_party(const std::string& id) {
    auto lease = acquire();
    if (!lease) return lease.error();
    // One read transaction: party, senders and attributes from one snapshot.
    Transaction tx(*this, *lease);
    if (auto r = tx.begin(false); !r) return r.error();
    auto what = [&id] { return "find party '" + id + "'"; };

    Party p;
    p.id = id;
    {
        auto prepared = lease->prepare(kSelectParty);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, id).step();
        if (rc == SQLITE_DONE) return std::optional<Party>();
        if (rc != SQLITE_ROW) return error(lease->db(), rc, what());
        const std::string role = s.column_text(0);
        auto parsed = parse_role(role);
        if (!parsed)
            return fail(Errc::internal, "sqlite database '" + path_ + "': party '" + id +
                                            "' has role '" + role + "'");
        p.role = *parsed;
        p.address = s.column_text(1);
        p.display_name = s.column_text(2);
    }
    {
        auto prepared = lease->prepare(kSelectSenders);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        s.text(1, id);
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) p.senders.push_back(s.column_text(0));
        if (rc != SQLITE_DONE) return error(lease->db(), rc, what());
    }
    {
        auto prepared = lease->prepare(kSelectAttributes);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        s.text(1, id);
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) p.attributes[s.column_text(0)] = s.column_text(1);
        if (rc != SQLITE_DONE) return error(lease->db(), rc, what());
    }
    if (auto r = tx.commit(); !r) return r.error();
    return std::optional<Party>(std::move(p));
}

Result<std::optional<Role>> SqliteStore::role_of(Lease& lease, const std::string& id) {
    auto prepared = lease.prepare(kSelectRole);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc = s.text(1, id).step();
    if (rc == SQLITE_DONE) return std::optional<Role>();
    if (rc != SQLITE_ROW) return error(lease.db(), rc, "find party '" + id + "'");
    auto role = parse_role(s.column_text(0));
    if (!role)
        return fail(Errc::internal,
                    "sqlite database '" + path_ + "': party '" + id + "' has an unknown role");
    return std::optional<Role>(*role);
}

Result<std::optional<Pair>> SqliteStore::select_pair(
    Lease& lease, std::string_view sql, std::initializer_list<std::string_view> params) {
    auto prepared = lease.prepare(sql);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int index = 0;
    for (auto param : params) s.text(++index, param);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<Pair>();
    if (rc != SQLITE_ROW) return error(lease.db(), rc, "find pair");
    return std::optional<Pair>(read_pair(s));
}

Result<Pair> SqliteStore::add_pair(const std::string& buyer_id, const std::string& seller_id) {
    auto lease = acquire();
    if (!lease) return lease.error();
    Transaction tx(*this, *lease);
    if (auto r = tx.begin(true); !r) return r.error();

    const struct {
        const std::string& id;
        Role expected;
    } parties[] = {{buyer_id, Role::buyer}, {seller_id, Role::seller}};
    for (const auto& party : parties) {
        auto role = role_of(*lease, party.id);
        if (!role) return role.error();
        if (!*role) return fail(Errc::not_found, "party '" + party.id + "' not found");
        if (**role != party.expected)
            return fail(Errc::invalid, "party '" + party.id + "' is a " + to_string(**role) +
                                           ", not a " + to_string(party.expected));
    }
    auto existing = select_pair(*lease, kSelectPair, {buyer_id, seller_id});
    if (!existing) return existing.error();
    if (*existing)
        return fail(Errc::conflict, "pair of buyer '" + buyer_id + "' and seller '" + seller_id +
                                        "' exists already (pair " +
                                        std::to_string((*existing)->id) + ")");

    Pair pair;
    pair.buyer_id = buyer_id;
    pair.seller_id = seller_id;
    pair.created = unix_now();
    for (int attempt = 0; attempt < kAliasAttempts; ++attempt) {
        try {
            pair.buyer_alias = generate_alias();
            pair.seller_alias = generate_alias();
        } catch (const std::exception& e) {
            return fail(Errc::internal, std::string("cannot generate an alias: ") + e.what());
        }
        if (pair.buyer_alias == pair.seller_alias) continue;
        {
            // Both columns share one alias space: an alias must not appear in
            // either column of any pair.
            auto prepared = lease->prepare(kAliasTaken);
            if (!prepared) return prepared.error();
            Stmt s(*prepared);
            int rc = s.text(1, pair.buyer_alias).text(2, pair.seller_alias).step();
            if (rc == SQLITE_ROW) continue;
            if (rc != SQLITE_DONE) return error(lease->db(), rc, "check alias");
        }
        auto prepared = lease->prepare(kInsertPair);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, buyer_id)
                     .text(2, seller_id)
                     .text(3, pair.buyer_alias)
                     .text(4, pair.seller_alias)
                     .int64(5, pair.created)
                     .step();
        if (rc == SQLITE_CONSTRAINT_UNIQUE) continue;  // an alias collision after all
        if (rc != SQLITE_DONE) return error(lease->db(), rc, "add pair");
        pair.id = sqlite3_last_insert_rowid(lease->db());
        if (auto r = tx.commit(); !r) return r.error();
        return pair;
    }
    return fail(Errc::internal, "no unique alias pair after " + std::to_string(kAliasAttempts) +
                                    " attempts: is the CSPRNG broken?");
}

Result<std::optional<Pair>> SqliteStore::find_pair(const std::string& buyer_id,
                                                   const std::string& seller_id) {
    auto lease = acquire();
    if (!lease) return lease.error();
    return select_pair(*lease, kSelectPair, {buyer_id, seller_id});
}

Result<std::optional<Pair>> SqliteStore::find_pair_by_alias(const std::string& local) {
    auto lease = acquire();
    if (!lease) return lease.error();
    return select_pair(*lease, kSelectPairByAlias, {local});
}

Result<void> SqliteStore::record_message_id(const MessageIdRecord& record) {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto writer = lock_writer();
    if (!writer) return writer.error();
    return insert_message_id(*lease, record);
}

Result<void> SqliteStore::insert_message_id(Lease& lease, const MessageIdRecord& record) {
    if (record.marketplace_id.empty() || !valid_message_id(record.marketplace_id))
        return fail(Errc::invalid, "message id '" + record.marketplace_id + "' is malformed");
    if (!valid_message_id(record.original_id))
        return fail(Errc::invalid,
                    "original message id of '" + record.marketplace_id + "' is malformed");
    auto prepared = lease.prepare(kInsertMessageId);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc = s.text(1, record.marketplace_id)
                 .text(2, record.original_id)
                 .int64(3, record.pair_id)
                 .text(4, to_string(record.sender_role))
                 .int64(5, record.created != 0 ? record.created : unix_now())
                 .step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return fail(Errc::conflict, "message id '" + record.marketplace_id + "' exists already");
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(Errc::not_found, "pair " + std::to_string(record.pair_id) + " not found");
    if (rc != SQLITE_DONE)
        return error(lease.db(), rc, "record message id '" + record.marketplace_id + "'");
    return {};
}

template <class Bind>
Result<std::optional<MessageIdRecord>> SqliteStore::select_message_id(std::string_view sql,
                                                                      Bind bind,
                                                                      const std::string& what) {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto prepared = lease->prepare(sql);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    bind(s);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<MessageIdRecord>();
    if (rc != SQLITE_ROW) return error(lease->db(), rc, what);
    MessageIdRecord r;
    r.marketplace_id = s.column_text(0);
    r.original_id = s.column_text(1);
    r.pair_id = s.column_int64(2);
    const std::string role = s.column_text(3);
    auto parsed = parse_role(role);
    if (!parsed)
        return fail(Errc::internal, "sqlite database '" + path_ + "': message id '" +
                                        r.marketplace_id + "' has sender role '" + role + "'");
    r.sender_role = *parsed;
    r.created = s.column_int64(4);
    return std::optional<MessageIdRecord>(std::move(r));
}

Result<std::optional<MessageIdRecord>> SqliteStore::find_message_id(
    const std::string& marketplace_id) {
    return select_message_id(
        kSelectMessageId, [&](Stmt& s) { s.text(1, marketplace_id); },
        "find message id '" + marketplace_id + "'");
}

Result<std::optional<MessageIdRecord>> SqliteStore::find_by_original(
    std::int64_t pair_id, Role sender_role, const std::string& original_id) {
    return select_message_id(
        kSelectMessageIdByOriginal,
        [&](Stmt& s) { s.int64(1, pair_id).text(2, original_id).text(3, to_string(sender_role)); },
        "find original message id of pair " + std::to_string(pair_id));
}

// --- Marketplace state ---------------------------------------------------------------------------

template <class Bind>
Result<void> SqliteStore::exec(Lease& lease, std::string_view sql, Bind bind,
                               const std::string& what) {
    auto prepared = lease.prepare(sql);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    bind(s);
    int rc = s.step();
    if (rc != SQLITE_DONE) return error(lease.db(), rc, what);
    return {};
}

Result<void> SqliteStore::add_order(const Order& order) {
    if (!valid_party_id(order.id))
        return fail(Errc::invalid,
                    "order id '" + order.id + "' is malformed (expected [A-Za-z0-9._-]{1,64})");
    if (!valid_order_kind(order.kind))
        return fail(Errc::invalid,
                    "order '" + order.id + "': kind '" + order.kind +
                        "' is not one of standard, handmade, custom, wine, gift-return");
    if (!valid_fulfilment(order.fulfilment))
        return fail(Errc::invalid, "order '" + order.id + "': fulfilment '" + order.fulfilment +
                                       "' is not fba or fbm");
    auto lease = acquire();
    if (!lease) return lease.error();
    Transaction tx(*this, *lease);
    if (auto r = tx.begin(true); !r) return r;
    {
        auto prepared = lease->prepare(kSelectPairExists);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.int64(1, order.pair_id).step();
        if (rc == SQLITE_DONE)
            return fail(Errc::not_found, "pair " + std::to_string(order.pair_id) + " not found");
        if (rc != SQLITE_ROW) return error(lease->db(), rc, "find pair");
    }
    {
        auto prepared = lease->prepare(kInsertOrder);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, order.id)
                     .int64(2, order.pair_id)
                     .text(3, order.kind)
                     .text(4, order.fulfilment)
                     .int64(5, order.created != 0 ? order.created : unix_now())
                     .step();
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
            return fail(Errc::conflict, "order '" + order.id + "' exists already");
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return fail(Errc::not_found, "pair " + std::to_string(order.pair_id) + " not found");
        if (rc != SQLITE_DONE) return error(lease->db(), rc, "add order '" + order.id + "'");
    }
    return tx.commit();
}

Result<std::optional<Order>> SqliteStore::find_order(const std::string& id) {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto prepared = lease->prepare(kSelectOrder);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc = s.text(1, id).step();
    if (rc == SQLITE_DONE) return std::optional<Order>();
    if (rc != SQLITE_ROW) return error(lease->db(), rc, "find order '" + id + "'");
    Order o;
    o.id = s.column_text(0);
    o.pair_id = s.column_int64(1);
    o.kind = s.column_text(2);
    o.fulfilment = s.column_text(3);
    o.created = s.column_int64(4);
    return std::optional<Order>(std::move(o));
}

Result<ThreadState> SqliteStore::load_thread(Lease& lease, std::int64_t pair_id,
                                             const std::string& order_id,
                                             const std::string& buyer_id,
                                             const std::string& seller_id, std::int64_t now,
                                             std::int64_t repeat_window_s) {
    const std::string what =
        "load thread of pair " + std::to_string(pair_id) + " order '" + order_id + "'";
    ThreadState st;
    st.pair_id = pair_id;
    st.order_id = order_id;
    {
        auto prepared = lease.prepare(kSelectThread);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.int64(1, pair_id).text(2, order_id).step();
        if (rc == SQLITE_ROW) {
            const std::string role = s.column_text(0);
            auto parsed = parse_role(role);
            if (!parsed)
                return fail(Errc::internal, "sqlite database '" + path_ + "': thread of pair " +
                                                std::to_string(pair_id) + " started by '" + role +
                                                "'");
            st.exists = true;
            st.started_by = *parsed;
            st.created = s.column_int64(1);
            st.last_buyer_at = s.column_int64(2);
            st.last_seller_at = s.column_int64(3);
            st.unsolicited_since_buyer = static_cast<int>(s.column_int64(4));
        } else if (rc != SQLITE_DONE) {
            return error(lease.db(), rc, what);
        }
    }
    {
        auto prepared = lease.prepare(kSelectFingerprints);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        s.text(1, seller_id)
            .text(2, buyer_id)
            .int64(3, now - std::max<std::int64_t>(0, repeat_window_s));
        int rc;
        while ((rc = s.step()) == SQLITE_ROW)
            st.recent_fingerprints.emplace_back(s.column_text(0), s.column_int64(1));
        if (rc != SQLITE_DONE) return error(lease.db(), rc, what);
    }
    {
        auto prepared = lease.prepare(kSelectImportant);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.text(1, seller_id).text(2, utc_day(now)).step();
        if (rc == SQLITE_ROW)
            st.important_today = static_cast<int>(s.column_int64(0));
        else if (rc != SQLITE_DONE)
            return error(lease.db(), rc, what);
    }
    return st;
}

Result<void> SqliteStore::write_thread(Lease& lease, const ThreadState& state,
                                       const ThreadUpdate& u, const std::string& buyer_id,
                                       const std::string& seller_id, std::int64_t now,
                                       std::int64_t repeat_window_s) {
    const std::string what = "update thread of pair " + std::to_string(state.pair_id) + " order '" +
                             state.order_id + "'";
    const bool buyer = u.writer == Role::buyer;
    const bool buyer_message = buyer && u.counts_as_buyer_message;
    {
        auto prepared = lease.prepare(kUpsertThread);
        if (!prepared) return prepared.error();
        Stmt s(*prepared);
        int rc = s.int64(1, state.pair_id)
                     .text(2, state.order_id)
                     .text(3, to_string(u.writer))
                     .int64(4, now)
                     .int64(5, buyer_message ? now : 0)
                     .int64(6, buyer ? 0 : now)
                     .int64(7, buyer_message ? 1 : 0)
                     .int64(8, !buyer && u.unsolicited ? 1 : 0)
                     .step();
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return fail(Errc::not_found, "pair " + std::to_string(state.pair_id) + " not found");
        if (rc != SQLITE_DONE) return error(lease.db(), rc, what);
    }
    if (!u.fingerprint.empty()) {
        const std::int64_t cutoff = now - std::max<std::int64_t>(0, repeat_window_s);
        if (auto r = exec(
                lease, kPruneFingerprints, [&](Stmt& s) { s.int64(1, cutoff); }, what);
            !r)
            return r;
        if (auto r = exec(
                lease, kInsertFingerprint,
                [&](Stmt& s) {
                    s.text(1, seller_id).text(2, buyer_id).text(3, u.fingerprint).int64(4, now);
                },
                what);
            !r)
            return r;
    }
    if (u.important_used) {
        if (auto r = exec(
                lease, kIncrementImportant,
                [&](Stmt& s) { s.text(1, seller_id).text(2, utc_day(now)); }, what);
            !r)
            return r;
    }
    if (buyer_message) {
        if (auto r = exec(
                lease, kOpenResponse,
                [&](Stmt& s) { s.int64(1, state.pair_id).text(2, seller_id).int64(3, now); }, what);
            !r)
            return r;
    } else if (!buyer && u.counts_as_reply) {
        if (auto r = exec(
                lease, kCloseResponse, [&](Stmt& s) { s.int64(1, state.pair_id).int64(2, now); },
                what);
            !r)
            return r;
    }
    return {};
}

Result<ThreadUpdate> SqliteStore::apply_thread_event(const ThreadEvent& event,
                                                     const ThreadDecide& decide) {
    const std::int64_t pair_id = event.pair_id;
    const std::string& order_id = event.order_id;
    const std::string& buyer_id = event.buyer_id;
    const std::string& seller_id = event.seller_id;
    const std::int64_t now = event.now;
    const std::int64_t repeat_window_s = event.repeat_window_s;
    const bool commit = event.commit;
    const MessageIdRecord* message_id = event.message_id;
    if (!decide) return fail(Errc::internal, "apply_thread_event: no decide function");
    auto lease = acquire();
    if (!lease) return lease.error();
    // A dry run only reads (a snapshot); a real one holds the write lock from
    // the first read to the commit, so concurrent events on one thread are
    // serialised and each decides on the state the previous one left.
    Transaction tx(*this, *lease);
    if (auto r = tx.begin(commit); !r) return r.error();
    auto state = load_thread(*lease, pair_id, order_id, buyer_id, seller_id, now, repeat_window_s);
    if (!state) return state.error();
    ThreadUpdate update;
    try {
        update = decide(*state);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("marketplace rules failed: ") + e.what());
    }
    if (commit && update.allowed) {
        if (auto r =
                write_thread(*lease, *state, update, buyer_id, seller_id, now, repeat_window_s);
            !r)
            return r.error();
        if (message_id != nullptr)
            if (auto r = insert_message_id(*lease, *message_id); !r) return r.error();
    } else if (commit && update.important_used) {
        // A refused [Important] still counts: misuse must reach the daily
        // threshold even when every misuse is refused.
        if (auto r = exec(
                *lease, kIncrementImportant,
                [&](Stmt& st) { st.text(1, seller_id).text(2, utc_day(now)); },
                "count [Important] use");
            !r)
            return r.error();
    }
    if (auto r = tx.commit(); !r) return r.error();
    return update;
}

Result<std::vector<ResponseTime>> SqliteStore::response_times(const std::string& seller_id,
                                                              std::int64_t since) {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto prepared = lease->prepare(kSelectResponseTimes);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    s.text(1, seller_id).int64(2, since);
    std::vector<ResponseTime> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        ResponseTime t;
        t.seller_id = s.column_text(0);
        t.buyer_message_at = s.column_int64(1);
        t.first_reply_at = s.column_int64(2);
        out.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) return error(lease->db(), rc, "read response times");
    return out;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, int busy_timeout_ms,
                                                 SqliteSync sync,
                                                 std::chrono::milliseconds checkpoint_interval) {
    if (path.empty()) return fail(Errc::invalid, "sqlite store: no database path");
    if (path == ":memory:" || path.rfind("file:", 0) == 0)
        return fail(Errc::invalid, "sqlite store: '" + path + "' is not a database file path");
    auto store = std::make_unique<SqliteStore>(path, busy_timeout_ms, sync, checkpoint_interval);
    if (auto r = store->initialise(); !r) return r.error();
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace mm::alias
