// make_store: the Store backend named by the config.
#include "alias/store_factory.h"

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

}  // namespace mm::alias
