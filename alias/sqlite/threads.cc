// Orders, threads and the response-time log in SQLite (see threads.h).
#include "alias/sqlite/threads.h"

#include <algorithm>
#include <exception>
#include <string_view>

#include "alias/sqlite/deliveries.h"
#include "alias/sqlite/message_ids.h"
#include "alias/thread_keys.h"
#include "alias/validation.h"
#include "util/utc_time.h"

namespace mm::alias::sqlite {

namespace {

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

// The thread row into `st` (st.exists stays false if there is none).
Result<void> read_thread_row(Lease& lease, const ThreadEvent& e, ThreadState& st,
                             const std::string& what) {
    auto rows = lease.query(
        kSelectThread, [&](Stmt& s) { s.int64(1, e.pair_id).text(2, e.order_id); },
        [&](const Stmt& s) -> Result<void> {
            const std::string role = s.column_text(0);
            auto parsed = parse_role(role);
            if (!parsed)
                return lease.database().bad_row("thread of pair " + std::to_string(e.pair_id) +
                                                " started by '" + role + "'");
            st.exists = true;
            st.started_by = *parsed;
            st.created = s.column_int64(1);
            st.last_buyer_at = s.column_int64(2);
            st.last_seller_at = s.column_int64(3);
            st.unsolicited_since_buyer = static_cast<int>(s.column_int64(4));
            return {};
        },
        what, Lease::Rows::first);
    if (!rows) return rows.error();
    return {};
}

// apply_thread_event's first half, inside its transaction.
Result<ThreadState> load_thread(Lease& lease, const ThreadEvent& e) {
    const std::string what = "load " + thread_name(e.pair_id, e.order_id);
    ThreadState st;
    st.pair_id = e.pair_id;
    st.order_id = e.order_id;
    if (auto r = read_thread_row(lease, e, st, what); !r) return r.error();
    if (auto r = lease.query(
            kSelectFingerprints,
            [&](Stmt& s) { s.text(1, e.seller_id).text(2, e.buyer_id).int64(3, window_start(e)); },
            [&](const Stmt& s) {
                st.recent_fingerprints.emplace_back(s.column_text(0), s.column_int64(1));
            },
            what);
        !r)
        return r.error();
    if (auto r = lease.query(
            kSelectImportant, [&](Stmt& s) { s.text(1, e.seller_id).text(2, utc_day(e.now)); },
            [&](const Stmt& s) { st.important_today = static_cast<int>(s.column_int64(0)); }, what,
            Lease::Rows::first);
        !r)
        return r.error();
    return st;
}

Result<void> count_important(Lease& lease, const ThreadEvent& e, const std::string& what) {
    return lease.exec(
        kIncrementImportant, [&](Stmt& s) { s.text(1, e.seller_id).text(2, utc_day(e.now)); },
        what);
}

Result<void> upsert_thread(Lease& lease, const ThreadEvent& e, const ThreadUpdate& u,
                           const std::string& what) {
    const bool buyer = u.writer == Role::buyer;
    const bool buyer_message = buyer && u.counts_as_buyer_message;
    auto rc = lease.step(kUpsertThread, [&](Stmt& s) {
        s.int64(1, e.pair_id)
            .text(2, e.order_id)
            .text(3, to_string(u.writer))
            .int64(4, e.now)
            .int64(5, buyer_message ? e.now : 0)
            .int64(6, buyer ? 0 : e.now)
            .int64(7, buyer_message ? 1 : 0)
            .int64(8, !buyer && u.unsolicited ? 1 : 0);
    });
    if (!rc) return rc.error();
    if (*rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(Errc::not_found, "pair " + std::to_string(e.pair_id) + " not found");
    if (*rc != SQLITE_DONE) return lease.error(*rc, what);
    return {};
}

// apply_thread_event's second half, inside its transaction.
Result<void> write_thread(Lease& lease, const ThreadEvent& e, const ThreadUpdate& u) {
    const std::string what = "update " + thread_name(e.pair_id, e.order_id);
    const bool buyer = u.writer == Role::buyer;
    const bool buyer_message = buyer && u.counts_as_buyer_message;
    if (auto r = upsert_thread(lease, e, u, what); !r) return r;
    if (!u.fingerprint.empty()) {
        if (auto r = lease.exec(
                kPruneFingerprints, [&](Stmt& s) { s.int64(1, window_start(e)); }, what);
            !r)
            return r;
        if (auto r = lease.exec(
                kInsertFingerprint,
                [&](Stmt& s) {
                    s.text(1, e.seller_id)
                        .text(2, e.buyer_id)
                        .text(3, u.fingerprint)
                        .int64(4, e.now);
                },
                what);
            !r)
            return r;
    }
    if (u.important_used)
        if (auto r = count_important(lease, e, what); !r) return r;
    if (buyer_message)
        return lease.exec(
            kOpenResponse,
            [&](Stmt& s) { s.int64(1, e.pair_id).text(2, e.seller_id).int64(3, e.now); }, what);
    if (!buyer && u.counts_as_reply)
        return lease.exec(
            kCloseResponse, [&](Stmt& s) { s.int64(1, e.pair_id).int64(2, e.now); }, what);
    return {};
}

Result<void> check_pair_exists(Lease& lease, std::int64_t pair_id) {
    auto found = lease.exists(
        kSelectPairExists, [&](Stmt& s) { s.int64(1, pair_id); }, "find pair");
    if (!found) return found.error();
    if (!*found) return fail(Errc::not_found, "pair " + std::to_string(pair_id) + " not found");
    return {};
}

}  // namespace

Result<void> add_order(Database& db, const Order& order) {
    if (auto r = validate_order(order); !r) return r;
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(true); !r) return r;
    if (auto r = check_pair_exists(*lease, order.pair_id); !r) return r;
    auto rc = lease->step(kInsertOrder, [&](Stmt& s) {
        s.text(1, order.id)
            .int64(2, order.pair_id)
            .text(3, order.kind)
            .text(4, order.fulfilment)
            .int64(5, order.created != 0 ? order.created : unix_now());
    });
    if (!rc) return rc.error();
    if (*rc == SQLITE_CONSTRAINT_PRIMARYKEY || *rc == SQLITE_CONSTRAINT_UNIQUE)
        return fail(Errc::conflict, "order '" + order.id + "' exists already");
    if (*rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(Errc::not_found, "pair " + std::to_string(order.pair_id) + " not found");
    if (*rc != SQLITE_DONE) return lease->error(*rc, "add order '" + order.id + "'");
    return tx.commit();
}

Result<std::optional<Order>> find_order(Database& db, const std::string& id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return lease->query_one<Order>(
        kSelectOrder, [&](Stmt& s) { s.text(1, id); },
        [](const Stmt& s) {
            Order o;
            o.id = s.column_text(0);
            o.pair_id = s.column_int64(1);
            o.kind = s.column_text(2);
            o.fulfilment = s.column_text(3);
            o.created = s.column_int64(4);
            return o;
        },
        "find order '" + id + "'");
}

Result<ThreadUpdate> apply_thread_event(Database& db, const ThreadEvent& event,
                                        const ThreadDecide& decide) {
    if (!decide) return fail(Errc::internal, "apply_thread_event: no decide function");
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(event.commit); !r) return r.error();
    Delivery* delivery = event.commit ? event.delivery : nullptr;
    if (delivery != nullptr) {
        auto recorded = delivery_recorded(*lease, delivery->key, event.now);
        if (!recorded) return recorded.error();
        if (*recorded)
            return fail(Errc::conflict,
                        "delivery " + delivery->key.substr(0, 12) + " was committed before");
    }
    auto state = load_thread(*lease, event);
    if (!state) return state.error();
    ThreadUpdate update;
    try {
        update = decide(*state);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("marketplace rules failed: ") + e.what());
    }
    if (event.commit && update.allowed) {
        if (auto r = write_thread(*lease, event, update); !r) return r.error();
        if (event.message_id != nullptr)
            if (auto r = insert_message_id(*lease, *event.message_id); !r) return r.error();
    } else if (event.commit && update.important_used) {
        // A refused [Important] still counts: misuse must reach the daily
        // threshold even when every misuse is refused.
        if (auto r = count_important(*lease, event, "count [Important] use"); !r) return r.error();
    }
    if (delivery != nullptr && (update.allowed || update.important_used))
        if (auto r = insert_delivery(*lease, *delivery, event.now); !r) return r.error();
    if (auto r = tx.commit(); !r) return r.error();
    return update;
}

Result<std::vector<ResponseTime>> response_times(Database& db, const std::string& seller_id,
                                                 std::int64_t since) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    std::vector<ResponseTime> out;
    auto rows = lease->query(
        kSelectResponseTimes, [&](Stmt& s) { s.text(1, seller_id).int64(2, since); },
        [&](const Stmt& s) {
            ResponseTime t;
            t.seller_id = s.column_text(0);
            t.buyer_message_at = s.column_int64(1);
            t.first_reply_at = s.column_int64(2);
            out.push_back(std::move(t));
        },
        "read response times");
    if (!rows) return rows.error();
    return out;
}

}  // namespace mm::alias::sqlite
