// scan_bytes: the positions of a text at which a few kinds of byte occur,
// found 16 bytes at a time, for the prefilters that decide whether a text
// needs a slower reading (policy/html, policy/rules).  They run over every
// part, and most parts pass them: a byte-by-byte loop costs several
// instructions a byte, a block of 16 compared at once about one.
//
// The block is the compiler's generic vector type (GCC and Clang), which
// each target turns into its own instructions (SSE2, NEON) or plain code.
#pragma once

#include <algorithm>
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

// `b` with ASCII letters in lower case, and other bytes changed too (b |
// 0x20: '[' reads as '{', '\t' as ')', 0 as ' '): a mask made from it may
// mark more than asked for, never less.
inline Block folded(Block b) {
    return b | 0x20;
}

// The bytes around a block of 16 at `at`: prev[k] = s[at + k - 1],
// cur[k] = s[at + k], next[k] = s[at + k + 1], 0 outside `s`.  A match
// that asks for a pair of bytes marks far fewer candidates than one that
// asks for either.
struct Window {
    Block prev, cur, next;
};

// Calls hit(i) in order for each i at which match(window) marks s[i], until
// one returns true (then true).  `match` maps a Window of s's bytes to a
// mask of candidates: it may mark more than the caller looks for (hit then
// says no) but must mark every byte that is.
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
    // The first and the last blocks, from a copy padded with zeros.
    auto padded = [&](std::size_t at) {
        unsigned char buf[18] = {};
        for (std::size_t j = 0; j < 18; ++j)
            if (at + j >= 1 && at + j - 1 < s.size())
                buf[j] = static_cast<unsigned char>(s[at + j - 1]);
        Window w;
        std::memcpy(&w.prev, buf, 16);
        std::memcpy(&w.cur, buf + 1, 16);
        std::memcpy(&w.next, buf + 2, 16);
        return report(match(w), at, std::min<std::size_t>(16, s.size() - at));
    };
    if (s.empty()) return false;
    if (padded(0)) return true;
    std::size_t at = 16;
    for (; at + 17 <= s.size(); at += 16) {
        Window w;
        std::memcpy(&w.prev, s.data() + at - 1, 16);
        std::memcpy(&w.cur, s.data() + at, 16);
        std::memcpy(&w.next, s.data() + at + 1, 16);
        // Most blocks have no candidate: told here, not in report().
        const Block mask = match(w);
        std::uint64_t half[2];
        std::memcpy(half, &mask, sizeof half);
        if ((half[0] | half[1]) != 0 && report(mask, at, 16)) return true;
    }
    for (; at < s.size(); at += 16)
        if (padded(at)) return true;
    return false;
}

}  // namespace mm::bytes
