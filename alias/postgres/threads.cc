// Orders, threads and the response-time log in PostgreSQL (see queries.h;
// tables orders, threads, important_uses, fingerprints, response_log).
#include <algorithm>
#include <exception>
#include <string_view>

#include "alias/postgres/queries.h"
#include "alias/thread_keys.h"
#include "alias/validation.h"
#include "util/utc_time.h"

namespace mm::alias::postgres {

namespace {

constexpr std::string_view kInsertOrder =
    "INSERT INTO orders (id, pair_id, kind, fulfilment, created) "
    "VALUES ($1, $2::bigint, $3, $4, $5::bigint)";
constexpr std::string_view kSelectOrder =
    "SELECT id, pair_id, kind, fulfilment, created FROM orders WHERE id = $1";

// Every rule apply_thread_event runs reads state of one seller or finer (the
// thread, the pair's fingerprints, the seller's [Important] count): holding
// the pair's seller row from here to the commit serialises the events that
// could decide on the same state, on every host.  NO KEY UPDATE leaves the
// row free for the key-share locks of foreign-key checks.  No row: the pair
// does not exist, and any write fails its foreign key.
constexpr std::string_view kLockSeller =
    "SELECT 1 FROM pair p JOIN party s ON s.id = p.seller_id WHERE p.id = $1::bigint "
    "FOR NO KEY UPDATE OF s";
constexpr std::string_view kSelectThread =
    "SELECT started_by, created, last_buyer_at, last_seller_at, unsolicited_since_buyer "
    "FROM threads WHERE pair_id = $1::bigint AND order_id = $2";
// $3 writer role (started_by of a new thread), $4 now, $5 last_buyer_at or 0
// (unchanged), $6 last_seller_at or 0 (unchanged), $7 1: reset the unsolicited
// count, $8 what to add to it.
constexpr std::string_view kUpsertThread =
    "INSERT INTO threads (pair_id, order_id, started_by, created, last_buyer_at, "
    "last_seller_at, unsolicited_since_buyer) "
    "VALUES ($1::bigint, $2, $3, $4::bigint, $5::bigint, $6::bigint, $8::integer) "
    "ON CONFLICT (pair_id, order_id) DO UPDATE SET "
    "last_buyer_at = CASE WHEN $5::bigint <> 0 THEN $5::bigint ELSE threads.last_buyer_at END, "
    "last_seller_at = CASE WHEN $6::bigint <> 0 THEN $6::bigint ELSE threads.last_seller_at END, "
    "unsolicited_since_buyer = CASE WHEN $7::integer <> 0 THEN $8::integer "
    "ELSE threads.unsolicited_since_buyer + $8::integer END";
constexpr std::string_view kSelectFingerprints =
    "SELECT hash, at FROM fingerprints WHERE seller_id = $1 AND buyer_id = $2 AND at > $3::bigint "
    "ORDER BY at, seq";
constexpr std::string_view kInsertFingerprint =
    "INSERT INTO fingerprints (seller_id, buyer_id, hash, at) VALUES ($1, $2, $3, $4::bigint)";
constexpr std::string_view kPruneFingerprints = "DELETE FROM fingerprints WHERE at <= $1::bigint";
constexpr std::string_view kSelectImportant =
    "SELECT count FROM important_uses WHERE seller_id = $1 AND day = $2";
constexpr std::string_view kIncrementImportant =
    "INSERT INTO important_uses (seller_id, day, count) VALUES ($1, $2, 1) "
    "ON CONFLICT (seller_id, day) DO UPDATE SET count = important_uses.count + 1";
// The partial unique index allows one open entry per pair: a second host
// opening one at once does nothing.
constexpr std::string_view kOpenResponse =
    "INSERT INTO response_log (pair_id, seller_id, buyer_message_at) "
    "VALUES ($1::bigint, $2, $3::bigint) "
    "ON CONFLICT (pair_id) WHERE first_reply_at IS NULL DO NOTHING";
constexpr std::string_view kCloseResponse =
    "UPDATE response_log SET first_reply_at = $2::bigint "
    "WHERE pair_id = $1::bigint AND first_reply_at IS NULL";
constexpr std::string_view kSelectResponseTimes =
    "SELECT seller_id, buyer_message_at, coalesce(first_reply_at, 0) FROM response_log "
    "WHERE ($1 = '' OR seller_id = $1) AND buyer_message_at >= $2::bigint "
    "ORDER BY seller_id COLLATE \"C\", buyer_message_at, id";

// apply_thread_event's first half, inside its transaction.
Result<ThreadState> load_thread(Lease& lease, const ThreadEvent& e) {
    const std::string what = "load " + thread_name(e.pair_id, e.order_id);
    ThreadState st;
    st.pair_id = e.pair_id;
    st.order_id = e.order_id;
    auto thread = lease.exec(kSelectThread, Params().int64(e.pair_id).text(e.order_id), what);
    if (!thread) return thread.error();
    if (thread->size() > 0) {
        const std::string role = thread->text(0, 0);
        auto parsed = parse_role(role);
        if (!parsed)
            return lease.database().bad_row("thread of pair " + std::to_string(e.pair_id) +
                                            " started by '" + role + "'");
        st.exists = true;
        st.started_by = *parsed;
        st.created = thread->int64(0, 1);
        st.last_buyer_at = thread->int64(0, 2);
        st.last_seller_at = thread->int64(0, 3);
        st.unsolicited_since_buyer = static_cast<int>(thread->int64(0, 4));
    }
    auto prints =
        lease.exec(kSelectFingerprints,
                   Params().text(e.seller_id).text(e.buyer_id).int64(window_start(e)), what);
    if (!prints) return prints.error();
    for (int i = 0; i < prints->size(); ++i)
        st.recent_fingerprints.emplace_back(prints->text(i, 0), prints->int64(i, 1));
    auto important =
        lease.exec(kSelectImportant, Params().text(e.seller_id).text(utc_day(e.now)), what);
    if (!important) return important.error();
    if (important->size() > 0) st.important_today = static_cast<int>(important->int64(0, 0));
    return st;
}

Result<void> run(Lease& lease, std::string_view sql, const Params& params,
                 const std::string& what) {
    auto r = lease.exec(sql, params, what);
    if (r) return {};
    if (lease.sqlstate() == kForeignKeyViolation)
        return fail(Errc::not_found, "pair not found: " + what);
    return r.error();
}

Result<void> count_important(Lease& lease, const ThreadEvent& e, const std::string& what) {
    return run(lease, kIncrementImportant, Params().text(e.seller_id).text(utc_day(e.now)), what);
}

// apply_thread_event's second half, inside its transaction.
Result<void> write_thread(Lease& lease, const ThreadEvent& e, const ThreadUpdate& u) {
    const std::string what = "update " + thread_name(e.pair_id, e.order_id);
    const bool buyer = u.writer == Role::buyer;
    const bool buyer_message = buyer && u.counts_as_buyer_message;
    auto upsert = lease.exec(kUpsertThread,
                             Params()
                                 .int64(e.pair_id)
                                 .text(e.order_id)
                                 .text(to_string(u.writer))
                                 .int64(e.now)
                                 .int64(buyer_message ? e.now : 0)
                                 .int64(buyer ? 0 : e.now)
                                 .int64(buyer_message ? 1 : 0)
                                 .int64(!buyer && u.unsolicited ? 1 : 0),
                             what);
    if (!upsert && lease.sqlstate() == kForeignKeyViolation)
        return fail(Errc::not_found, "pair " + std::to_string(e.pair_id) + " not found");
    if (!upsert) return upsert.error();
    if (!u.fingerprint.empty()) {
        if (auto r = run(lease, kPruneFingerprints, Params().int64(window_start(e)), what); !r)
            return r;
        if (auto r = run(
                lease, kInsertFingerprint,
                Params().text(e.seller_id).text(e.buyer_id).text(u.fingerprint).int64(e.now), what);
            !r)
            return r;
    }
    if (u.important_used)
        if (auto r = count_important(lease, e, what); !r) return r;
    if (buyer_message)
        return run(lease, kOpenResponse, Params().int64(e.pair_id).text(e.seller_id).int64(e.now),
                   what);
    if (!buyer && u.counts_as_reply)
        return run(lease, kCloseResponse, Params().int64(e.pair_id).int64(e.now), what);
    return {};
}

// The update decide makes of the state, after the lock; writes nothing.
Result<ThreadUpdate> decide_on(Lease& lease, const ThreadEvent& event, const ThreadDecide& decide) {
    auto state = load_thread(lease, event);
    if (!state) return state.error();
    try {
        return decide(*state);
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("marketplace rules failed: ") + e.what());
    }
}

}  // namespace

Result<void> add_order(Database& db, const Order& order) {
    if (auto r = validate_order(order); !r) return r;
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto r = lease->exec(kInsertOrder,
                         Params()
                             .text(order.id)
                             .int64(order.pair_id)
                             .text(order.kind)
                             .text(order.fulfilment)
                             .int64(order.created != 0 ? order.created : unix_now()),
                         "add order '" + order.id + "'");
    if (r) return {};
    if (lease->sqlstate() == kUniqueViolation)
        return fail(Errc::conflict, "order '" + order.id + "' exists already");
    if (lease->sqlstate() == kForeignKeyViolation)
        return fail(Errc::not_found, "pair " + std::to_string(order.pair_id) + " not found");
    return r.error();
}

Result<std::optional<Order>> find_order(Database& db, const std::string& id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto rows = lease->exec(kSelectOrder, Params().text(id), "find order '" + id + "'");
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<Order>();
    Order o;
    o.id = rows->text(0, 0);
    o.pair_id = rows->int64(0, 1);
    o.kind = rows->text(0, 2);
    o.fulfilment = rows->text(0, 3);
    o.created = rows->int64(0, 4);
    return std::optional<Order>(std::move(o));
}

Result<ThreadUpdate> apply_thread_event(Database& db, const ThreadEvent& event,
                                        const ThreadDecide& decide) {
    if (!decide) return fail(Errc::internal, "apply_thread_event: no decide function");
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (!event.commit) {
        if (auto r = tx.begin(kBeginSnapshot); !r) return r.error();
        auto update = decide_on(*lease, event, decide);
        if (!update) return update.error();
        if (auto r = tx.commit(); !r) return r.error();
        return update;
    }
    if (auto r = tx.begin(); !r) return r.error();
    if (auto r = lease->exec(kLockSeller, Params().int64(event.pair_id),
                             "lock " + thread_name(event.pair_id, event.order_id));
        !r)
        return r.error();
    Delivery* delivery = event.delivery;
    if (delivery != nullptr) {
        auto recorded = delivery_recorded(*lease, delivery->key, event.now);
        if (!recorded) return recorded.error();
        if (*recorded)
            return fail(Errc::conflict,
                        "delivery " + delivery->key.substr(0, 12) + " was committed before");
    }
    auto update = decide_on(*lease, event, decide);
    if (!update) return update.error();
    if (update->allowed) {
        if (auto r = write_thread(*lease, event, *update); !r) return r.error();
        if (event.message_id != nullptr)
            if (auto r = insert_message_id(*lease, *event.message_id); !r) return r.error();
    } else if (update->important_used) {
        // A refused [Important] still counts: misuse must reach the daily
        // threshold even when every misuse is refused.
        if (auto r = count_important(*lease, event, "count [Important] use"); !r) return r.error();
    }
    if (delivery != nullptr && (update->allowed || update->important_used))
        if (auto r = insert_delivery(*lease, *delivery, event.now); !r) return r.error();
    if (auto r = tx.commit(); !r) return r.error();
    return update;
}

Result<std::vector<ResponseTime>> response_times(Database& db, const std::string& seller_id,
                                                 std::int64_t since) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto rows = lease->exec(kSelectResponseTimes, Params().text(seller_id).int64(since),
                            "read response times");
    if (!rows) return rows.error();
    std::vector<ResponseTime> out;
    for (int i = 0; i < rows->size(); ++i)
        out.push_back(ResponseTime{rows->text(i, 0), rows->int64(i, 1), rows->int64(i, 2)});
    return out;
}

}  // namespace mm::alias::postgres
