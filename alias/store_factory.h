// Chooses the Store backend from the config's `store:` section.
#pragma once

#include <memory>
#include <string>

#include "alias/store.h"

namespace mm::alias {

struct StoreConfig {
    std::string type = "sqlite";  // sqlite (postgresql later)
    std::string path;             // sqlite: database file
    int busy_timeout_ms = 5000;   // sqlite: how long to wait for a lock
    bool sync_full = false;       // sqlite: fsync every commit (synchronous = FULL)
};

// type "sqlite" opens (and migrates) the SQLite database at `path`; any other
// type fails with invalid.

Result<std::shared_ptr<Store>> make_store(const StoreConfig& config);

}  // namespace mm::alias
