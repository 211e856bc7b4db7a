// AliasDirectory: alias -> ResolvedAlias, and order id -> Order, with small
// in-process TTL caches in front of the Store so the per-message path rarely
// touches the database.
//
// Positive and negative answers are cached for `ttl` (0 disables the
// caches); failures are never cached.  So an alias or order stored after a
// message named it, or a pair removed, reaches the daemon within `ttl` (an
// order never changes once stored).  Anything that does not look like an
// alias is answered nullopt without touching the store.  Each cache holds at
// most `max_entries` answers and is emptied when it would grow past that.
// Thread-safe (util/ttl_cache.h: no lock is held across a store call).
//
// invalidate() empties both caches at once: a store shared by several hosts
// calls it through its ChangeFeed (store_changes.h) when any of them changes
// a party, pair or order, so the change is seen within the feed's delay
// instead of `ttl`.  An answer loaded before the invalidation is not cached
// after it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "alias/store.h"
#include "util/ttl_cache.h"

namespace mm::alias {

class AliasDirectory {
public:
    static constexpr std::size_t kDefaultMaxEntries = 100000;

    AliasDirectory(std::shared_ptr<Store> store, std::chrono::milliseconds ttl,
                   std::size_t max_entries = kDefaultMaxEntries);

    // `local` is the alias local part (any case).  nullopt: no such alias.
    Result<std::optional<ResolvedAlias>> resolve(const std::string& local);

    // Store::find_order through the cache.
    Result<std::optional<Order>> find_order(const std::string& id);

    Store& store() { return *store_; }

    // The caches' hits and misses since start (the daemon's metrics).
    struct CacheStats {
        TtlCacheStats aliases;
        TtlCacheStats orders;
    };
    CacheStats cache_stats() const { return {aliases_.stats(), orders_.stats()}; }
    // Forgets every cached answer (any thread).
    void invalidate();

private:
    Result<std::optional<ResolvedAlias>> load(const std::string& local);

    std::shared_ptr<Store> store_;
    TtlCache<std::optional<ResolvedAlias>> aliases_;
    TtlCache<std::optional<Order>> orders_;
};

}  // namespace mm::alias
