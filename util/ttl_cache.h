// TtlCache: a thread-safe string-keyed map whose entries expire `ttl` after
// they were put.  It holds at most `max_entries` and is emptied whole when it
// would grow past that: no per-entry bookkeeping on the hot path, and the
// working set is back within one TTL.  A ttl or max_entries of 0 disables it:
// get() misses and put() drops.  The mutex is held only around the map, so a
// caller loads a missing value (from a store, say) without holding it.
// Hits and misses are counted (relaxed atomics) for the daemon's metrics.
//
// clear() empties it and starts a new generation: a value loaded before the
// clear (generation() read before the load) and put after it is dropped, so
// a load racing an invalidation cannot bring the old answer back.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace mm {

struct TtlCacheStats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
};

template <class Value>
class TtlCache {
public:
    TtlCache(std::chrono::milliseconds ttl, std::size_t max_entries)
        : ttl_(std::max(ttl, std::chrono::milliseconds::zero())), max_entries_(max_entries) {}

    bool enabled() const { return ttl_.count() > 0 && max_entries_ > 0; }

    // A disabled cache misses every lookup: each one goes to the store.
    std::optional<Value> get(const std::string& key) {
        auto found = find(key);
        (found ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
        return found;
    }

    void put(const std::string& key, Value value) { put(key, std::move(value), generation()); }

    // Puts `value`, loaded when the generation was `loaded_in`, unless the
    // cache was cleared since.
    void put(const std::string& key, Value value, std::uint64_t loaded_in) {
        if (!enabled()) return;
        const auto expires = std::chrono::steady_clock::now() + ttl_;
        std::lock_guard lock(mu_);
        if (loaded_in != generation_) return;
        if (map_.size() >= max_entries_) map_.clear();
        map_.insert_or_assign(key, Entry{std::move(value), expires});
    }

    TtlCacheStats stats() const {
        return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed)};
    }

    std::uint64_t generation() {
        std::lock_guard lock(mu_);
        return generation_;
    }

    void clear() {
        std::lock_guard lock(mu_);
        map_.clear();
        ++generation_;
    }

private:
    std::optional<Value> find(const std::string& key) {
        if (!enabled()) return std::nullopt;
        std::lock_guard lock(mu_);
        auto it = map_.find(key);
        if (it == map_.end()) return std::nullopt;
        if (std::chrono::steady_clock::now() < it->second.expires) return it->second.value;
        map_.erase(it);
        return std::nullopt;
    }

    struct Entry {
        Value value;
        std::chrono::steady_clock::time_point expires;
    };
    const std::chrono::milliseconds ttl_;
    const std::size_t max_entries_;
    std::mutex mu_;
    std::unordered_map<std::string, Entry> map_;
    std::atomic<std::uint64_t> hits_{0};
    std::atomic<std::uint64_t> misses_{0};
    std::uint64_t generation_ = 0;  // guarded by mu_
};

}  // namespace mm
