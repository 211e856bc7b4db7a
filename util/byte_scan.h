// scan_bytes: the positions of a text at which a few kinds of byte occur,
// found 16 bytes at a time, for the prefilters that decide whether a text
// needs a slower reading (policy/html, policy/rules).  They run over every
// part, and most parts pass them: a byte-by-byte loop costs several
// instructions a byte, a block of 16 compared at once about one.
//
// The block is the compiler's generic vector type (GCC and Clang), which
// each target turns into its own instructions (SSE2, NEON) or plain code.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace mm::bytes {

using Block = unsigned char __attribute__((vector_size(16)));

// A mask of `b`'s bytes equal to `c` (0xFF where equal).
inline Block eq(Block b, unsigned char c) {
    return reinterpret_cast<Block>(b == c);
}

// A mask of `b`'s bytes in [lo, hi].
inline Block in_range(Block b, unsigned char lo, unsigned char hi) {
    return reinterpret_cast<Block>(static_cast<Block>(b - lo) <=
                                   static_cast<unsigned char>(hi - lo));
}

// `b` with ASCII letters (and some other bytes) in lower case: b | 0x20.
inline Block folded(Block b) {
    return b | 0x20;
}

// Calls hit(i) in order for each i at which match(block) marks s[i], until
// one returns true (then true).  `match` maps a Block of s's bytes to a
// mask of candidates: it may mark more than the caller looks for (hit then
// says no) but must mark every byte that is.  Past the end of `s` the last
// block is padded; its padding is never reported.
template <class Match, class Hit>
bool scan_bytes(std::string_view s, Match match, Hit hit) {
    auto report = [&](Block mask, std::size_t at, std::size_t n) {
        std::uint64_t half[2];
        std::memcpy(half, &mask, sizeof half);
        if ((half[0] | half[1]) == 0) return false;
        if constexpr (std::endian::native == std::endian::little) {
            for (int h = 0; h < 2; ++h) {
                for (std::uint64_t m = half[h]; m != 0;) {
                    const int bit = std::countr_zero(m) & ~7;
                    m &= ~(std::uint64_t{0xFF} << bit);
                    const std::size_t k = static_cast<std::size_t>(h * 8 + bit / 8);
                    if (k < n && hit(at + k)) return true;
                }
            }
        } else {
            unsigned char bytes[16];
            std::memcpy(bytes, &mask, sizeof bytes);
            for (std::size_t k = 0; k < n; ++k)
                if (bytes[k] != 0 && hit(at + k)) return true;
        }
        return false;
    };
    std::size_t at = 0;
    for (; at + 16 <= s.size(); at += 16) {
        Block b;
        std::memcpy(&b, s.data() + at, sizeof b);
        if (report(match(b), at, 16)) return true;
    }
    if (at == s.size()) return false;
    Block b{};
    std::memcpy(&b, s.data() + at, s.size() - at);
    return report(match(b), at, s.size() - at);
}

}  // namespace mm::bytes
