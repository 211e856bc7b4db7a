// PostgresStore: the Store interfaces on one PostgreSQL Database (see
// postgres_store.h for the contract).  Each method is one call into the
// query module of its concern under alias/postgres/.
#include "alias/postgres_store.h"

#include <libpq-fe.h>

#include <optional>
#include <string_view>
#include <utility>

#include "alias/postgres/pg.h"
#include "alias/postgres/queries.h"
#include "alias/postgres/schema.h"

namespace mm::alias {

namespace {

namespace pg = postgres;

class PostgresStore final : public Store {
public:
    explicit PostgresStore(PostgresConfig config) : db_(std::move(config)) {}

    pg::Database& database() { return db_; }

    Result<void> add_party(const Party& party) override { return pg::add_party(db_, party); }
    Result<void> update_party(const Party& party) override { return pg::update_party(db_, party); }
    Result<std::optional<Party>> find_party(const std::string& id) override {
        return pg::find_party(db_, id);
    }
    Result<Pair> add_pair(const std::string& buyer_id, const std::string& seller_id) override {
        return pg::add_pair(db_, buyer_id, seller_id);
    }
    Result<std::optional<Pair>> find_pair(const std::string& buyer_id,
                                          const std::string& seller_id) override {
        return pg::find_pair(db_, buyer_id, seller_id);
    }
    Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) override {
        return pg::find_pair_by_alias(db_, local);
    }

    Result<void> record_message_id(const MessageIdRecord& record) override {
        return pg::record_message_id(db_, record);
    }
    Result<std::optional<MessageIdRecord>> find_message_id(
        const std::string& marketplace_id) override {
        return pg::find_message_id(db_, marketplace_id);
    }
    Result<std::optional<MessageIdRecord>> find_by_original(
        std::int64_t pair_id, Role sender_role, const std::string& original_id) override {
        return pg::find_by_original(db_, pair_id, sender_role, original_id);
    }

    Result<std::optional<Delivery>> find_delivery(const std::string& key,
                                                  std::int64_t now) override {
        return pg::find_delivery(db_, key, now);
    }
    Result<void> record_delivery(const Delivery& delivery,
                                 const MessageIdRecord* message_id) override {
        return pg::record_delivery(db_, delivery, message_id);
    }

    Result<void> add_order(const Order& order) override { return pg::add_order(db_, order); }
    Result<std::optional<Order>> find_order(const std::string& id) override {
        return pg::find_order(db_, id);
    }

    Result<ThreadUpdate> apply_thread_event(const ThreadEvent& event,
                                            const ThreadDecide& decide) override {
        return pg::apply_thread_event(db_, event, decide);
    }

    Result<std::vector<ResponseTime>> response_times(const std::string& seller_id,
                                                     std::int64_t since) override {
        return pg::response_times(db_, seller_id, since);
    }

private:
    pg::Database db_;
};

Result<void> check_config(const PostgresConfig& config) {
    if (config.dsn.empty()) return fail(Errc::invalid, "postgres store: no dsn");
    if (redact_dsn(config.dsn) == "(unparsable dsn)")
        return fail(Errc::invalid,
                    "postgres store: dsn is not a libpq connection string or postgresql:// URI");
    if (config.pool < 1) return fail(Errc::invalid, "postgres store: pool must be at least 1");
    if (PQisthreadsafe() == 0)
        return fail(Errc::internal, "libpq was built without thread support");
    return {};
}

}  // namespace

int postgres_schema_version() {
    return pg::schema_version();
}

Result<std::unique_ptr<Store>> open_postgres_store(const PostgresConfig& config,
                                                   PostgresOpen mode) {
    if (auto r = check_config(config); !r) return r.error();
    auto store = std::make_unique<PostgresStore>(config);
    if (mode == PostgresOpen::migrate) {
        if (auto r = pg::migrate(store->database()); !r) return r.error();
    } else if (auto r = pg::check_schema(store->database()); !r) {
        return r.error();
    }
    return std::unique_ptr<Store>(std::move(store));
}

Result<SchemaMigration> migrate_postgres(const PostgresConfig& config) {
    if (auto r = check_config(config); !r) return r.error();
    pg::Database db(config);
    return pg::migrate(db);
}

std::string redact_dsn(const std::string& dsn) {
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &err);
    // libpq's parse message may quote the string, password included.
    if (err != nullptr) PQfreemem(err);
    if (options == nullptr) return "(unparsable dsn)";
    // Only what names the server and the role, in this order; never the
    // password or anything else a DSN may carry.
    constexpr std::string_view kShown[] = {"host", "hostaddr", "port", "dbname", "user", "sslmode"};
    std::string out;
    for (auto key : kShown) {
        for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
            if (key != o->keyword || o->val == nullptr || *o->val == '\0') continue;
            if (!out.empty()) out += ' ';
            out += std::string(key) + "=" + o->val;
        }
    }
    PQconninfoFree(options);
    return out;
}

}  // namespace mm::alias
