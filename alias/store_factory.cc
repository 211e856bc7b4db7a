// make_store: the Store backend named by the config.
#include "alias/store_factory.h"

#include "alias/postgres/change_listener.h"
#include "alias/postgres/transfer.h"
#include "alias/sqlite_store.h"

namespace mm::alias {

namespace {

PostgresConfig postgres_config(const StoreConfig& config) {
    PostgresConfig pg = config.postgres;
    if (pg.pool <= 0) pg.pool = 8;
    return pg;
}

Failure unknown_type(const StoreConfig& config) {
    return fail(Errc::invalid,
                "unknown store type '" + config.type + "' (expected sqlite or postgres)");
}

}  // namespace

Result<std::shared_ptr<Store>> make_store(const StoreConfig& config, StoreOpen mode) {
    if (config.type == "sqlite") {
        auto store = open_sqlite_store(config.path, config.busy_timeout_ms,
                                       config.sync_full ? SqliteSync::full : SqliteSync::normal);
        if (!store) return store.error();
        return std::shared_ptr<Store>(std::move(store).value());
    }
    if (config.type == "postgres") {
        auto store = open_postgres_store(postgres_config(config), mode == StoreOpen::migrate
                                                                      ? PostgresOpen::migrate
                                                                      : PostgresOpen::check);
        if (!store) return store.error();
        return std::shared_ptr<Store>(std::move(store).value());
    }
    return unknown_type(config);
}

Result<SchemaMigration> migrate_store(const StoreConfig& config) {
    if (config.type == "postgres") return migrate_postgres(postgres_config(config));
    if (config.type != "sqlite") return unknown_type(config);
    auto store = make_store(config, StoreOpen::migrate);
    if (!store) return store.error();
    // SQLite migrates at open; what it found before is not kept.
    return SchemaMigration{-1, -1};
}

Result<std::unique_ptr<StoreTransfer>> make_store_transfer(const StoreConfig& config) {
    if (config.type == "sqlite") return open_sqlite_transfer(config.path, config.busy_timeout_ms);
    if (config.type == "postgres") return postgres::open_postgres_transfer(config.postgres.dsn, config.postgres.passfile);
    return fail(Errc::invalid, "store type '" + config.type + "' has no export/import yet");
}

Result<std::unique_ptr<ChangeFeed>> make_change_feed(const StoreConfig& config,
                                                     OnStoreChange on_change,
                                                     OnFeedEvent on_event) {
    if (config.type != "postgres") return std::unique_ptr<ChangeFeed>();
    postgres::ChangeListenerOptions options;
    options.dsn = config.postgres.dsn;
    options.passfile = config.postgres.passfile;
    auto listener = postgres::ChangeListener::start(std::move(options), std::move(on_change),
                                                    std::move(on_event));
    if (!listener) return listener.error();
    return std::unique_ptr<ChangeFeed>(std::move(listener).value());
}

}  // namespace mm::alias
