// make_store: the Store backend named by the config.
#include "alias/store_factory.h"

#include "alias/postgres/change_listener.h"
#include "alias/postgres/transfer.h"
#include "alias/sqlite_store.h"

namespace mm::alias {

Result<std::shared_ptr<Store>> make_store(const StoreConfig& config) {
    if (config.type == "sqlite") {
        auto store = open_sqlite_store(config.path, config.busy_timeout_ms,
                                       config.sync_full ? SqliteSync::full : SqliteSync::normal);
        if (!store) return store.error();
        return std::shared_ptr<Store>(std::move(store).value());
    }
    return fail(Errc::invalid, "unknown store type '" + config.type + "' (expected sqlite)");
}

Result<std::unique_ptr<StoreTransfer>> make_store_transfer(const StoreConfig& config) {
    if (config.type == "sqlite") return open_sqlite_transfer(config.path, config.busy_timeout_ms);
    if (config.type == "postgres") return postgres::open_postgres_transfer(config.dsn);
    return fail(Errc::invalid, "store type '" + config.type + "' has no export/import yet");
}

Result<std::unique_ptr<ChangeFeed>> make_change_feed(const StoreConfig& config,
                                                     OnStoreChange on_change,
                                                     OnFeedEvent on_event) {
    if (config.type != "postgres") return std::unique_ptr<ChangeFeed>();
    postgres::ChangeListenerOptions options;
    options.dsn = config.dsn;
    auto listener = postgres::ChangeListener::start(std::move(options), std::move(on_change),
                                                    std::move(on_event));
    if (!listener) return listener.error();
    return std::unique_ptr<ChangeFeed>(std::move(listener).value());
}

}  // namespace mm::alias
