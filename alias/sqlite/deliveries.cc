// Committed messages in SQLite (see deliveries.h).
#include "alias/sqlite/deliveries.h"

#include <string_view>

#include "alias/sqlite/message_ids.h"
#include "alias/validation.h"

namespace mm::alias::sqlite {

namespace {

// Errors name a delivery by the start of its key, as git names a commit.
std::string short_key(const std::string& key) {
    return key.substr(0, 12);
}

constexpr std::string_view kSelectDelivery =
    "SELECT key, pair_id, marketplace_id, outcome, created, expires FROM deliveries "
    "WHERE key = ?1 AND expires > ?2";
constexpr std::string_view kInsertDelivery =
    "INSERT INTO deliveries (key, pair_id, marketplace_id, outcome, created, expires) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// An expired record with the key of a new one goes here too: its message is
// judged afresh once its window is over.
constexpr std::string_view kPruneDeliveries = "DELETE FROM deliveries WHERE expires <= ?1";
// Whether the prune has anything to do: a DELETE that finds nothing still
// builds SQLite's in-memory list of keys to delete (a WITHOUT ROWID table),
// which cost more than the insert; this is one step down the index.
constexpr std::string_view kAnyExpiredDelivery =
    "SELECT 1 FROM deliveries WHERE expires <= ?1 LIMIT 1";

}  // namespace

Result<std::optional<Delivery>> find_delivery(Database& db, const std::string& key,
                                              std::int64_t now) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto prepared = lease->prepare(kSelectDelivery);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc = s.text(1, key).int64(2, now).step();
    if (rc == SQLITE_DONE) return std::optional<Delivery>();
    if (rc != SQLITE_ROW) return lease->error(rc, "find delivery " + short_key(key));
    Delivery d;
    d.key = s.column_text(0);
    d.pair_id = s.column_int64(1);
    d.marketplace_id = s.column_text(2);
    d.outcome = s.column_text(3);
    d.created = s.column_int64(4);
    d.expires = s.column_int64(5);
    return std::optional<Delivery>(std::move(d));
}

Result<bool> delivery_recorded(Lease& lease, const std::string& key, std::int64_t now) {
    auto prepared = lease.prepare(kSelectDelivery);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc = s.text(1, key).int64(2, now).step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return lease.error(rc, "find delivery " + short_key(key));
}

Result<void> insert_delivery(Lease& lease, const Delivery& delivery, std::int64_t now) {
    Delivery d = delivery;
    if (d.created == 0) d.created = now;
    if (auto r = validate_delivery(d); !r) return r;
    const std::string what = "record delivery " + short_key(d.key);
    auto expired = lease.exists(
        kAnyExpiredDelivery, [&](Stmt& s) { s.int64(1, now); }, what);
    if (!expired) return expired.error();
    if (*expired)
        if (auto r = lease.exec(
                kPruneDeliveries, [&](Stmt& s) { s.int64(1, now); }, what);
            !r)
            return r;
    auto prepared = lease.prepare(kInsertDelivery);
    if (!prepared) return prepared.error();
    Stmt s(*prepared);
    int rc = s.text(1, d.key)
                 .int64(2, d.pair_id)
                 .text(3, d.marketplace_id)
                 .text(4, d.outcome)
                 .int64(5, d.created)
                 .int64(6, d.expires)
                 .step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return fail(Errc::conflict, "delivery " + short_key(d.key) + " is recorded already");
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(Errc::not_found, "pair " + std::to_string(d.pair_id) + " not found");
    if (rc != SQLITE_DONE) return lease.error(rc, what);
    return {};
}

Result<void> record_delivery(Database& db, const Delivery& delivery,
                             const MessageIdRecord* message_id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(true); !r) return r;
    if (auto r = insert_delivery(*lease, delivery, unix_now()); !r) return r;
    if (message_id != nullptr)
        if (auto r = insert_message_id(*lease, *message_id); !r) return r;
    return tx.commit();
}

}  // namespace mm::alias::sqlite
