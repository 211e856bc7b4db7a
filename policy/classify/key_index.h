// key_index.h: a read-only map from a byte string to a list of entry ids,
// built once per lexicon and looked up for every distinct word of every
// message.
//
// Why not std::unordered_map: in the daemon a message runs with cold
// caches (Postfix's processes run between two messages), and a node-based
// map costs a bucket, a node and the key's bytes per look-up, each a likely
// miss.  Here one open-addressing array holds each key's full hash and where
// its key and ids are, so a key that is absent (most words) costs one slot,
// and one that is present its slot, its bytes and its ids, which lie in two
// flat arrays.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mm::classify {

class KeyIndex {
public:
    // While the lexicon is built: the ids of `key`, to append to.
    std::vector<std::uint32_t>& operator[](const std::string& key) { return building_[key]; }
    // Lays the keys out for look-up; the index is read-only afterwards.
    void freeze();

    // The hash every look-up starts from: a caller asking two indexes for
    // one key works it out once.
    static std::uint64_t hash(std::string_view key);
    // The ids of `key` (empty when absent); `h` is hash(key).
    std::span<const std::uint32_t> find(std::string_view key, std::uint64_t h) const;
    std::span<const std::uint32_t> find(std::string_view key) const { return find(key, hash(key)); }
    bool contains(std::string_view key, std::uint64_t h) const {
        return slot_of(key, h) != nullptr;
    }
    bool contains(std::string_view key) const { return contains(key, hash(key)); }
    std::size_t size() const { return keys_; }

private:
    struct Slot {
        std::uint64_t hash = 0;
        std::uint32_t key_at = 0;
        std::uint32_t key_size = 0;
        std::uint32_t ids_at = 0;
        std::uint32_t ids_size = 0;
        bool used = false;
    };
    const Slot* slot_of(std::string_view key, std::uint64_t h) const;

    std::unordered_map<std::string, std::vector<std::uint32_t>> building_;
    std::vector<Slot> slots_;  // a power of two, at most half full
    std::string key_bytes_;
    std::vector<std::uint32_t> ids_;
    std::size_t keys_ = 0;
};

}  // namespace mm::classify
