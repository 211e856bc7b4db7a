// The Message-ID mapping and committed deliveries in PostgreSQL (see
// queries.h; tables message_id, deliveries).
#include <string_view>

#include "alias/postgres/queries.h"
#include "alias/validation.h"

namespace mm::alias::postgres {

namespace {

constexpr std::string_view kInsertMessageId =
    "INSERT INTO message_id (marketplace_id, original_id, pair_id, sender_role, created) "
    "VALUES ($1, $2, $3::bigint, $4, $5::bigint)";
constexpr std::string_view kSelectMessageId =
    "SELECT marketplace_id, original_id, pair_id, sender_role, created FROM message_id "
    "WHERE marketplace_id = $1";
constexpr std::string_view kSelectMessageIdByOriginal =
    "SELECT marketplace_id, original_id, pair_id, sender_role, created FROM message_id "
    "WHERE pair_id = $1::bigint AND original_id = $2 AND sender_role = $3 "
    "ORDER BY created DESC, seq DESC LIMIT 1";

constexpr std::string_view kSelectDelivery =
    "SELECT key, pair_id, marketplace_id, outcome, created, expires FROM deliveries "
    "WHERE key = $1 AND expires > $2::bigint";
constexpr std::string_view kInsertDelivery =
    "INSERT INTO deliveries (key, pair_id, marketplace_id, outcome, created, expires) "
    "VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6::bigint)";
// An expired record with the key of a new one goes here too: its message is
// judged afresh once its window is over.
constexpr std::string_view kPruneDeliveries = "DELETE FROM deliveries WHERE expires <= $1::bigint";

// Errors name a delivery by the start of its key, as git names a commit.
std::string short_key(const std::string& key) {
    return key.substr(0, 12);
}

Result<std::optional<MessageIdRecord>> select_message_id(Database& db, std::string_view sql,
                                                         const Params& params,
                                                         const std::string& what) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto rows = lease->exec(sql, params, what);
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<MessageIdRecord>();
    MessageIdRecord r;
    r.marketplace_id = rows->text(0, 0);
    r.original_id = rows->text(0, 1);
    r.pair_id = rows->int64(0, 2);
    const std::string role = rows->text(0, 3);
    auto parsed = parse_role(role);
    if (!parsed)
        return db.bad_row("message id '" + r.marketplace_id + "' has sender role '" + role + "'");
    r.sender_role = *parsed;
    r.created = rows->int64(0, 4);
    return std::optional<MessageIdRecord>(std::move(r));
}

}  // namespace

Result<void> insert_message_id(Lease& lease, const MessageIdRecord& record) {
    if (auto r = validate_message_id_record(record); !r) return r;
    auto r = lease.exec(kInsertMessageId,
                        Params()
                            .text(record.marketplace_id)
                            .text(record.original_id)
                            .int64(record.pair_id)
                            .text(to_string(record.sender_role))
                            .int64(record.created != 0 ? record.created : unix_now()),
                        "record message id '" + record.marketplace_id + "'");
    if (r) return {};
    if (lease.sqlstate() == kUniqueViolation)
        return fail(Errc::conflict, "message id '" + record.marketplace_id + "' exists already");
    if (lease.sqlstate() == kForeignKeyViolation)
        return fail(Errc::not_found, "pair " + std::to_string(record.pair_id) + " not found");
    return r.error();
}

Result<void> record_message_id(Database& db, const MessageIdRecord& record) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return insert_message_id(*lease, record);
}

Result<std::optional<MessageIdRecord>> find_message_id(Database& db,
                                                       const std::string& marketplace_id) {
    return select_message_id(db, kSelectMessageId, Params().text(marketplace_id),
                             "find message id '" + marketplace_id + "'");
}

Result<std::optional<MessageIdRecord>> find_by_original(Database& db, std::int64_t pair_id,
                                                        Role sender_role,
                                                        const std::string& original_id) {
    return select_message_id(db, kSelectMessageIdByOriginal,
                             Params().int64(pair_id).text(original_id).text(to_string(sender_role)),
                             "find original message id of pair " + std::to_string(pair_id));
}

Result<std::optional<Delivery>> find_delivery(Database& db, const std::string& key,
                                              std::int64_t now) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto rows = lease->exec(kSelectDelivery, Params().text(key).int64(now),
                            "find delivery " + short_key(key));
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<Delivery>();
    Delivery d;
    d.key = rows->text(0, 0);
    d.pair_id = rows->int64(0, 1);
    d.marketplace_id = rows->text(0, 2);
    d.outcome = rows->text(0, 3);
    d.created = rows->int64(0, 4);
    d.expires = rows->int64(0, 5);
    return std::optional<Delivery>(std::move(d));
}

Result<bool> delivery_recorded(Lease& lease, const std::string& key, std::int64_t now) {
    auto rows = lease.exec(kSelectDelivery, Params().text(key).int64(now),
                           "find delivery " + short_key(key));
    if (!rows) return rows.error();
    return rows->size() > 0;
}

Result<void> insert_delivery(Lease& lease, const Delivery& delivery, std::int64_t now) {
    Delivery d = delivery;
    if (d.created == 0) d.created = now;
    if (auto r = validate_delivery(d); !r) return r;
    const std::string what = "record delivery " + short_key(d.key);
    if (auto r = lease.exec(kPruneDeliveries, Params().int64(now), what); !r) return r.error();
    auto r = lease.exec(kInsertDelivery,
                        Params()
                            .text(d.key)
                            .int64(d.pair_id)
                            .text(d.marketplace_id)
                            .text(d.outcome)
                            .int64(d.created)
                            .int64(d.expires),
                        what);
    if (r) return {};
    if (lease.sqlstate() == kUniqueViolation)
        return fail(Errc::conflict, "delivery " + short_key(d.key) + " is recorded already");
    if (lease.sqlstate() == kForeignKeyViolation)
        return fail(Errc::not_found, "pair " + std::to_string(d.pair_id) + " not found");
    return r.error();
}

Result<void> record_delivery(Database& db, const Delivery& delivery,
                             const MessageIdRecord* message_id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(); !r) return r;
    if (auto r = insert_delivery(*lease, delivery, unix_now()); !r) return r;
    if (message_id != nullptr)
        if (auto r = insert_message_id(*lease, *message_id); !r) return r;
    return tx.commit();
}

}  // namespace mm::alias::postgres
