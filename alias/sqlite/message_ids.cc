// The Message-ID mapping in SQLite (see message_ids.h).
#include "alias/sqlite/message_ids.h"

#include <string_view>

#include "alias/validation.h"

namespace mm::alias::sqlite {

namespace {

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

// Runs a message_id query whose parameters are bound by `bind`.
template <class Bind>
Result<std::optional<MessageIdRecord>> select_message_id(Database& db, std::string_view sql,
                                                         Bind bind, const std::string& what) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return lease->query_one<MessageIdRecord>(
        sql, bind,
        [&](const Stmt& s) -> Result<MessageIdRecord> {
            MessageIdRecord r;
            r.marketplace_id = s.column_text(0);
            r.original_id = s.column_text(1);
            r.pair_id = s.column_int64(2);
            const std::string role = s.column_text(3);
            auto parsed = parse_role(role);
            if (!parsed)
                return db.bad_row("message id '" + r.marketplace_id + "' has sender role '" + role +
                                  "'");
            r.sender_role = *parsed;
            r.created = s.column_int64(4);
            return r;
        },
        what);
}

}  // namespace

Result<void> insert_message_id(Lease& lease, const MessageIdRecord& record) {
    if (auto r = validate_message_id_record(record); !r) return r;
    auto rc = lease.step(kInsertMessageId, [&](Stmt& s) {
        s.text(1, record.marketplace_id)
            .text(2, record.original_id)
            .int64(3, record.pair_id)
            .text(4, to_string(record.sender_role))
            .int64(5, record.created != 0 ? record.created : unix_now());
    });
    if (!rc) return rc.error();
    if (*rc == SQLITE_CONSTRAINT_PRIMARYKEY || *rc == SQLITE_CONSTRAINT_UNIQUE)
        return fail(Errc::conflict, "message id '" + record.marketplace_id + "' exists already");
    if (*rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return fail(Errc::not_found, "pair " + std::to_string(record.pair_id) + " not found");
    if (*rc != SQLITE_DONE)
        return lease.error(*rc, "record message id '" + record.marketplace_id + "'");
    return {};
}

Result<void> record_message_id(Database& db, const MessageIdRecord& record) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto writer = db.lock_writer();
    if (!writer) return writer.error();
    return insert_message_id(*lease, record);
}

Result<std::optional<MessageIdRecord>> find_message_id(Database& db,
                                                       const std::string& marketplace_id) {
    return select_message_id(
        db, kSelectMessageId, [&](Stmt& s) { s.text(1, marketplace_id); },
        "find message id '" + marketplace_id + "'");
}

Result<std::optional<MessageIdRecord>> find_by_original(Database& db, std::int64_t pair_id,
                                                        Role sender_role,
                                                        const std::string& original_id) {
    return select_message_id(
        db, kSelectMessageIdByOriginal,
        [&](Stmt& s) { s.int64(1, pair_id).text(2, original_id).text(3, to_string(sender_role)); },
        "find original message id of pair " + std::to_string(pair_id));
}

}  // namespace mm::alias::sqlite
