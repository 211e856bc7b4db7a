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
            in_swap_ = in_swap_ || (prev & kLetter) != 0;
        } else {
            maybe_swap_ = maybe_swap_ || (in_swap_ && (bits & kLetter) != 0);
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
        for (std::size_t looked = k; k < len; ++k) {
            if (k >= looked && k + 8 <= len) {
                looked = k + 8;
                if (!may_matter(p + k)) {
                    k += 7;
                    continue;
                }
            }
            const std::uint8_t bits = cls(k);
            if (bits & kSep) {
                if (!maybe_run_ && is_member(cls(k - 1)) && armed_at(p, k - 2)) maybe_run_ = true;
            } else if ((bits & kSwappable) && (cls(k - 1) & kLetter)) {
                std::size_t e = k + 1;
                while (e < len && (cls(e) & kSwappable)) ++e;
                if (e == len) {
                    in_swap = true;
                    k = e;
                    break;
                }
                maybe_swap_ = maybe_swap_ || (cls(e) & kLetter) != 0;
                k = e - 1;
            }
        }
        last_ = static_cast<std::uint32_t>(cls(len - 4)) << 24 | cls(len - 3) << 16 |
                cls(len - 2) << 8 | cls(len - 1);
        armed_ = armed_at(p, len - 1);
        armed_prev_ = armed_at(p, len - 2);
        in_swap_ = in_swap;
    }

    // Whether one of the eight bytes from p (p[-2] readable) may change what
    // the scout says: a separator two after a separator, or a swappable.
    static bool may_matter(const char* p) {
        constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
        std::uint64_t w, before;
        std::memcpy(&w, p, 8);
        std::memcpy(&before, p - 2, 8);
        const auto has = [](std::uint64_t v, char c) {
            const std::uint64_t x = v ^ (ones * static_cast<unsigned char>(c));
            return (x - ones) & ~x & high;
        };
        // The bytes are ASCII: the sums cannot carry into the next byte.
        const auto in = [](std::uint64_t v, char lo, char hi) {
            return (v + ones * (0x80 - lo)) & ~(v + ones * (0x80 - hi - 1)) & high;
        };
        // '*' to '/' takes in ',' and '+' too: a look more, never one less.
        const auto sep = [&](std::uint64_t v) {
            return has(v, ' ') | has(v, '\t') | has(v, '_') | in(v, '*', '/');
        };
        return ((sep(w) & sep(before)) | in(w, '0', '9') | has(w, '@') | has(w, '!') |
                has(w, '|')) != 0;
    }

    bool maybe_run() const { return maybe_run_; }
    bool maybe_swap() const { return maybe_swap_; }

private:
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

    std::uint32_t last_ = 0;  // the last four characters' classes, a byte each
    // Whether only separators, at least one, follow a single character, as
    // of the last character and the one before it.
    bool armed_ = false, armed_prev_ = false;
    std::array<bool, 4> armed_after_{};  // armed_ after each of a run's first four
    bool in_swap_ = false;               // in swappables that follow a letter
    bool maybe_run_ = false, maybe_swap_ = false;
};

}  // namespace mm::policy::text
