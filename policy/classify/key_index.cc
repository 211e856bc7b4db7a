#include "policy/classify/key_index.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace mm::classify {

namespace {

std::uint64_t load64(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

std::uint64_t load32(const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

std::uint64_t mix(std::uint64_t h) {
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
}

}  // namespace

std::uint64_t KeyIndex::hash(std::string_view key) {
    // Inline and a few multiplications: the keys are short (a stem or two)
    // and a message asks for hundreds.  Every byte counts: eight at a time,
    // then the last four to seven (two overlapping loads) or up to three.
    const char* p = key.data();
    std::size_t n = key.size();
    std::uint64_t h = 0x2545F4914F6CDD1Dull ^ n;
    for (; n >= 8; p += 8, n -= 8) h = mix(h ^ load64(p));
    if (n >= 4) return mix(h ^ (load32(p) << 32 | load32(p + n - 4)));
    if (n == 0) return h;
    const auto byte = [&](std::size_t k) {
        return std::uint64_t{static_cast<unsigned char>(p[k])};
    };
    return mix(h ^ (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16));
}

void KeyIndex::freeze() {
    keys_ = building_.size();
    const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(8, keys_ * 2));
    slots_.assign(capacity, Slot{});
    for (const auto& [key, ids] : building_) {
        if (key_bytes_.size() + key.size() > UINT32_MAX || ids_.size() + ids.size() > UINT32_MAX)
            throw std::length_error("lexicon index: more than 4 GiB of keys or ids");
        Slot s;
        s.hash = hash(key);
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

const KeyIndex::Slot* KeyIndex::slot_of(std::string_view key, std::uint64_t h) const {
    if (slots_.empty()) return nullptr;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (!s.used) return nullptr;
        if (s.hash == h && s.key_size == key.size() &&
            std::memcmp(key_bytes_.data() + s.key_at, key.data(), key.size()) == 0)
            return &s;
    }
}

std::span<const std::uint32_t> KeyIndex::find(std::string_view key, std::uint64_t h) const {
    const Slot* s = slot_of(key, h);
    if (s == nullptr) return {};
    return {ids_.data() + s->ids_at, s->ids_size};
}

}  // namespace mm::classify
