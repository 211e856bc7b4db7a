// AliasDirectory: alias -> ResolvedAlias, with a small in-process TTL cache
// in front of the Store so the per-message path rarely touches the database.
//
// Positive and negative answers are cached for `ttl` (0 disables the cache);
// failures are never cached.  Anything that does not look like an alias is
// answered nullopt without touching the store.  The cache holds at most
// `max_entries` answers and is emptied when it would grow past that.
// Thread-safe (internal mutex held only around the map, never across a store
// call).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "alias/store.h"

namespace mm::alias {

class AliasDirectory {
public:
    static constexpr std::size_t kDefaultMaxEntries = 100000;

    AliasDirectory(std::shared_ptr<Store> store, std::chrono::milliseconds ttl,
                   std::size_t max_entries = kDefaultMaxEntries);

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
    std::size_t max_entries_;
    std::mutex mu_;
    std::unordered_map<std::string, Entry> cache_;
};

}  // namespace mm::alias
