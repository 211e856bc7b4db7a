// Chooses the Store backend from the config's `store:` section.
#pragma once

#include <memory>
#include <string>

#include "alias/store.h"

namespace mm::alias {

struct StoreConfig {
    std::string type = "sqlite";  // sqlite (postgresql later)
    std::string path;             // sqlite: database file
};

Result<std::shared_ptr<Store>> make_store(const StoreConfig& config);

}  // namespace mm::alias
