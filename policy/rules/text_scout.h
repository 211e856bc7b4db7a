// text_scout: what the words pass would find to do, noted as the characters
// pass writes each character, so that most texts skip it.  Internal to
// text_normalize.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "policy/rules/text_classes.h"

namespace mm::policy::text {

// ASCII upper case to lower case, eight bytes at a time: no byte is 0x80 or
// more, so the sums that mark 'A'-'Z' cannot carry into the next byte.
inline void lower_ascii(char* p, std::size_t len) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    std::size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + k, 8);
        const std::uint64_t upper = (w + ones * (0x80 - 'A')) & ~(w + ones * (0x7F - 'Z')) & high;
        if (upper == 0) continue;
        w |= upper >> 2;
        std::memcpy(p + k, &w, 8);
    }
    for (; k < len; ++k)
        if (p[k] >= 'A' && p[k] <= 'Z') p[k] = static_cast<char>(p[k] + 32);
}

// The scout notes two single characters with only separators between them
// and one after the second (where a spaced word may start), and digits, '@',
// '!' or '|' between two letters.  It may say yes where the words pass then
// finds nothing, never no where it finds something.
class Scout {
public:
    // A character written, by its classes.
    void see(std::uint8_t bits) {
        const auto prev = static_cast<std::uint8_t>(last_),
                   before = static_cast<std::uint8_t>(last_ >> 8);
        last_ = last_ << 8 | bits;
        bool armed = false;
        if ((bits & kSep) && is_member(prev) && !is_word(before)) {
            // `prev` stands alone: a second single after separators?
            maybe_run_ = maybe_run_ || armed_prev_;
            armed = true;
        } else if ((bits & kSep) && (prev & kSep)) {
            armed = armed_;
        }
        armed_prev_ = armed_;
        armed_ = armed;
        if (bits & kSwappable) {
            if (in_swap_) {
                swap_long_ = true;
                swap_nine_ = swap_nine_ || (bits & kNine) != 0;
            } else if (prev & kLetter) {
                in_swap_ = true;
                swap_long_ = false;
                swap_nine_ = (bits & kNine) != 0;
            }
        } else {
            maybe_swap_ = maybe_swap_ || (in_swap_ && (bits & kLetter) != 0 && !nines());
            in_swap_ = false;
        }
    }

    // Lower-cases an ASCII run in place and sees it.  Only a separator two
    // after a separator (a run may be noted there) and a swappable after a
    // letter can change what the scout says, so past the first four
    // characters, where see() is exact, the others are skipped and the
    // patterns checked on the bytes themselves.
    void lower_and_see(char* p, std::size_t len) {
        lower_ascii(p, len);
        std::size_t k = 0;
        for (; k < len && (k < 4 || in_swap_); ++k) {
            see(kAscii[static_cast<unsigned char>(p[k])]);
            if (k < 4) armed_after_[k] = armed_;
        }
        if (k == len) return;
        const auto cls = [p](std::size_t i) { return kAscii[static_cast<unsigned char>(p[i])]; };
        bool in_swap = false;
        // Eight bytes at a time, skipped unless one may be a separator two
        // after one, or a swappable; the separators of the eight before are
        // kept for the next eight.
        // The rarer of them are looked for once in a long run (memchr), and
        // in each eight bytes only if there.
        const bool rare = len < 64 || has_rare(p, len);
        std::uint64_t seps = 0;
        for (std::size_t looked = k, seps_end = 0; k < len; ++k) {
            if (k >= looked && k + 8 <= len) {
                looked = k + 8;
                std::uint64_t w, before = 0;
                std::memcpy(&w, p + k, 8);
                const std::uint64_t here = separators(w, rare);
                if (k == seps_end) {
                    before = here << 16 | seps >> 48;
                } else {
                    std::memcpy(&before, p + k - 2, 8);
                    before = separators(before, rare);
                }
                seps = here;
                seps_end = k + 8;
                if (((here & before) | swappables(w, rare)) == 0) {
                    k += 7;
                    continue;
                }
            }
            const std::uint8_t bits = cls(k);
            if (bits & kSep) {
                if (!maybe_run_ && is_member(cls(k - 1)) && armed_at(p, k - 2)) maybe_run_ = true;
            } else if ((bits & kSwappable) && (cls(k - 1) & kLetter)) {
                std::size_t e = k + 1;
                std::uint8_t all = bits;
                for (; e < len && (cls(e) & kSwappable); ++e) all |= cls(e);
                swap_long_ = e - k > 1;
                swap_nine_ = (all & kNine) != 0;
                if (e == len) {
                    in_swap = true;
                    k = e;
                    break;
                }
                maybe_swap_ = maybe_swap_ || ((cls(e) & kLetter) != 0 && !nines());
                k = e - 1;
            }
        }
        last_ = static_cast<std::uint32_t>(cls(len - 4)) << 24 | cls(len - 3) << 16 |
                cls(len - 2) << 8 | cls(len - 1);
        armed_ = armed_at(p, len - 1);
        armed_prev_ = armed_at(p, len - 2);
        in_swap_ = in_swap;
    }

    // Per byte of the eight in v, the high bit set where it may be a
    // separator (a space, a tab, '_' or one of ' ' to '/'), or a swappable (a
    // digit, '@', '!' or '|').  The bytes are ASCII: the sums cannot carry
    // into the next byte; has() may mark the byte after a match too.  A mark
    // more, never one less.  `rare`: whether to look for a tab, '_', '@',
    // '!' and '|' too.
    static std::uint64_t separators(std::uint64_t v, bool rare) {
        const std::uint64_t common = in(v, ' ', '/');
        return rare ? common | has(v, '\t') | has(v, '_') : common;
    }
    static std::uint64_t swappables(std::uint64_t v, bool rare) {
        const std::uint64_t digits = in(v, '0', '9');
        return rare ? digits | has(v, '@') | has(v, '!') | has(v, '|') : digits;
    }
    static bool has_rare(const char* p, std::size_t len) {
        for (char c : {'\t', '_', '@', '!', '|'})
            if (std::memchr(p, c, len) != nullptr) return true;
        return false;
    }

    bool maybe_run() const { return maybe_run_; }
    bool maybe_swap() const { return maybe_swap_; }

private:
    // Whether the swappables read are no letters: nines with others.
    bool nines() const { return swap_nine_ && swap_long_; }

    // Whether, after p[q], only separators follow a single character (what
    // see() keeps in armed_), from the bytes; the first four are see()'s.
    bool armed_at(const char* p, std::size_t q) const {
        const auto cls = [p](std::size_t i) { return kAscii[static_cast<unsigned char>(p[i])]; };
        for (;; --q) {
            if (q < 4) return armed_after_[q];
            if (!(cls(q) & kSep)) return false;
            const std::uint8_t prev = cls(q - 1);
            if (!(prev & kSep)) return is_member(prev) && !is_word(cls(q - 2));
        }
    }

    static constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
    static std::uint64_t has(std::uint64_t v, char c) {
        const std::uint64_t x = v ^ (kOnes * static_cast<unsigned char>(c));
        return (x - kOnes) & ~x & kHigh;
    }
    static std::uint64_t in(std::uint64_t v, char lo, char hi) {
        return (v + kOnes * (0x80 - lo)) & ~(v + kOnes * (0x80 - hi - 1)) & kHigh;
    }

    std::uint32_t last_ = 0;  // the last four characters' classes, a byte each
    // Whether only separators, at least one, follow a single character, as
    // of the last character and the one before it.
    bool armed_ = false, armed_prev_ = false;
    std::array<bool, 4> armed_after_{};  // armed_ after each of a run's first four
    // In swappables that follow a letter; more than one; a '9' among them.
    bool in_swap_ = false, swap_long_ = false, swap_nine_ = false;
    bool maybe_run_ = false, maybe_swap_ = false;
};

}  // namespace mm::policy::text
