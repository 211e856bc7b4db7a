// SqliteStore: the Store interfaces on one SQLite Database (see
// sqlite_store.h for the contract).  Each method is one call into the query
// module of its concern under alias/sqlite/.
#include "alias/sqlite_store.h"

#include <sqlite3.h>

#include <optional>
#include <utility>

#include "alias/sqlite/db.h"
#include "alias/sqlite/deliveries.h"
#include "alias/sqlite/message_ids.h"
#include "alias/sqlite/parties.h"
#include "alias/sqlite/schema.h"
#include "alias/sqlite/threads.h"

namespace mm::alias {

namespace {

class SqliteStore final : public Store {
public:
    SqliteStore(std::string path, int busy_timeout_ms, SqliteSync sync)
        : db_(std::move(path), busy_timeout_ms, sync) {}

    // Migrates the schema, then starts the checkpointer: on every open, not
    // only on the one that migrated, since connections never checkpoint on
    // their own.
    Result<void> open(std::chrono::milliseconds checkpoint_interval) {
        if (auto r = sqlite::migrate(db_); !r) return r;
        checkpointer_.emplace(db_, checkpoint_interval);
        return {};
    }

    Result<void> add_party(const Party& party) override { return sqlite::add_party(db_, party); }
    Result<void> update_party(const Party& party) override {
        return sqlite::update_party(db_, party);
    }
    Result<std::optional<Party>> find_party(const std::string& id) override {
        return sqlite::find_party(db_, id);
    }
    Result<Pair> add_pair(const std::string& buyer_id, const std::string& seller_id) override {
        return sqlite::add_pair(db_, buyer_id, seller_id);
    }
    Result<std::optional<Pair>> find_pair(const std::string& buyer_id,
                                          const std::string& seller_id) override {
        return sqlite::find_pair(db_, buyer_id, seller_id);
    }
    Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) override {
        return sqlite::find_pair_by_alias(db_, local);
    }

    Result<void> record_message_id(const MessageIdRecord& record) override {
        return sqlite::record_message_id(db_, record);
    }
    Result<std::optional<MessageIdRecord>> find_message_id(
        const std::string& marketplace_id) override {
        return sqlite::find_message_id(db_, marketplace_id);
    }
    Result<std::optional<MessageIdRecord>> find_by_original(
        std::int64_t pair_id, Role sender_role, const std::string& original_id) override {
        return sqlite::find_by_original(db_, pair_id, sender_role, original_id);
    }

    Result<std::optional<Delivery>> find_delivery(const std::string& key,
                                                  std::int64_t now) override {
        return sqlite::find_delivery(db_, key, now);
    }
    Result<void> record_delivery(const Delivery& delivery,
                                 const MessageIdRecord* message_id) override {
        return sqlite::record_delivery(db_, delivery, message_id);
    }

    Result<void> add_order(const Order& order) override { return sqlite::add_order(db_, order); }
    Result<std::optional<Order>> find_order(const std::string& id) override {
        return sqlite::find_order(db_, id);
    }

    Result<ThreadUpdate> apply_thread_event(const ThreadEvent& event,
                                            const ThreadDecide& decide) override {
        return sqlite::apply_thread_event(db_, event, decide);
    }

    Result<std::vector<ResponseTime>> response_times(const std::string& seller_id,
                                                     std::int64_t since) override {
        return sqlite::response_times(db_, seller_id, since);
    }

private:
    sqlite::Database db_;
    // After db_: stopped and joined before the pool it leases from goes.
    std::optional<sqlite::Checkpointer> checkpointer_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, int busy_timeout_ms,
                                                 SqliteSync sync,
                                                 std::chrono::milliseconds checkpoint_interval) {
    if (path.empty()) return fail(Errc::invalid, "sqlite store: no database path");
    if (path == ":memory:" || path.rfind("file:", 0) == 0)
        return fail(Errc::invalid, "sqlite store: '" + path + "' is not a database file path");
    if (sqlite3_threadsafe() == 0)
        return fail(Errc::internal, "the SQLite library was built without thread support");
    auto store = std::make_unique<SqliteStore>(path, busy_timeout_ms, sync);
    if (auto r = store->open(checkpoint_interval); !r) return r.error();
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace mm::alias
