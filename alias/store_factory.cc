// make_store: the Store backend named by the config.
#include "alias/store_factory.h"

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

}  // namespace mm::alias
