#include "policy/classify/key_index.h"

#include <bit>
#include <functional>
#include <stdexcept>

namespace mm::classify {

namespace {

std::uint64_t hash_of(std::string_view key) {
    return std::hash<std::string_view>{}(key);
}

}  // namespace

void KeyIndex::freeze() {
    keys_ = building_.size();
    const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(8, keys_ * 2));
    slots_.assign(capacity, Slot{});
    for (const auto& [key, ids] : building_) {
        if (key_bytes_.size() + key.size() > UINT32_MAX || ids_.size() + ids.size() > UINT32_MAX)
            throw std::length_error("lexicon index: more than 4 GiB of keys or ids");
        Slot s;
        s.hash = hash_of(key);
        s.key_at = static_cast<std::uint32_t>(key_bytes_.size());
        s.key_size = static_cast<std::uint32_t>(key.size());
        s.ids_at = static_cast<std::uint32_t>(ids_.size());
        s.ids_size = static_cast<std::uint32_t>(ids.size());
        s.used = true;
        key_bytes_ += key;
        ids_.insert(ids_.end(), ids.begin(), ids.end());
        std::size_t i = s.hash & (capacity - 1);
        while (slots_[i].used) i = (i + 1) & (capacity - 1);
        slots_[i] = s;
    }
    building_.clear();
}

const KeyIndex::Slot* KeyIndex::slot_of(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t h = hash_of(key);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (!s.used) return nullptr;
        if (s.hash == h && s.key_size == key.size() &&
            std::string_view(key_bytes_).substr(s.key_at, s.key_size) == key)
            return &s;
    }
}

std::span<const std::uint32_t> KeyIndex::find(std::string_view key) const {
    const Slot* s = slot_of(key);
    if (s == nullptr) return {};
    return {ids_.data() + s->ids_at, s->ids_size};
}

}  // namespace mm::classify
