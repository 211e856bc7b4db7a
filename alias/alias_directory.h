// AliasDirectory: alias -> ResolvedAlias, with a small in-process TTL cache
// in front of the Store so the per-message path rarely touches the database.
//
// Positive and negative answers are cached for `ttl`; failures are never
// cached.  Thread-safe (internal mutex held only around the map).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "alias/store.h"

namespace mm::alias {

class AliasDirectory {
public:
    AliasDirectory(std::shared_ptr<Store> store, std::chrono::milliseconds ttl);

    // `local` is the alias local part (any case).  nullopt: no such alias.
    Result<std::optional<ResolvedAlias>> resolve(const std::string& local);

    Store& store() { return *store_; }

private:
    struct Entry {
        std::optional<ResolvedAlias> value;
        std::chrono::steady_clock::time_point expires;
    };
    Result<std::optional<ResolvedAlias>> load(const std::string& local);

    std::shared_ptr<Store> store_;
    std::chrono::milliseconds ttl_;
    std::mutex mu_;
    std::unordered_map<std::string, Entry> cache_;
};

}  // namespace mm::alias
