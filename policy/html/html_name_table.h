// html_name_table.h: fixed sets of element names looked up for every tag of
// every HTML part (the tokenizer's tag kinds, the renderer's block elements).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mm::policy::html {

// A name of at most 16 bytes as two integers: tag names are looked up for
// every tag, and comparing integers avoids a memcmp call per probe.
struct NameKey {
    std::uint64_t hi = 0, lo = 0;
    friend constexpr bool operator==(const NameKey&, const NameKey&) = default;
};

// Callers check size() <= 16 first.
inline NameKey name_key(std::string_view s) {
    char buf[16] = {};
    std::memcpy(buf, s.data(), std::min<std::size_t>(s.size(), 16));
    NameKey k;
    std::memcpy(&k.hi, buf, 8);
    std::memcpy(&k.lo, buf + 8, 8);
    return k;
}

// A fixed set of names (at most 16 bytes, at most 128 of them), each with a
// value, looked up by NameKey in an open-addressed table: one or two
// probes where a binary search takes seven, for every tag of every part.
template <class Value>
class NameTable {
public:
    struct Entry {
        std::string_view name;
        Value value;
    };

    template <std::size_t N>
    explicit NameTable(const Entry (&entries)[N], Value none) : none_(none) {
        static_assert(N <= kSlots / 2, "a table at most half full");
        for (const Entry& e : entries) {
            const NameKey key = name_key(e.name);
            std::size_t h = slot(key);
            while (slots_[h].used) h = (h + 1) % kSlots;
            slots_[h] = {key, e.value, true};
        }
    }

    // `lower`'s value; `none` for a name not in the table (or longer than
    // 16 bytes).
    Value find(std::string_view lower) const {
        if (lower.empty() || lower.size() > 16) return none_;
        const NameKey key = name_key(lower);
        for (std::size_t h = slot(key); slots_[h].used; h = (h + 1) % kSlots)
            if (slots_[h].key == key) return slots_[h].value;
        return none_;
    }

private:
    static constexpr std::size_t kSlots = 256;
    struct Slot {
        NameKey key;
        Value value{};
        bool used = false;
    };
    static std::size_t slot(const NameKey& k) {
        return static_cast<std::size_t>(
            ((k.hi ^ (k.lo * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull) >> 56);
    }
    Slot slots_[kSlots];
    Value none_;
};

}  // namespace mm::policy::html
