// OffsetMap: where the bytes of a rewritten text came from, so that a match
// found in normalised text is replaced, or quoted, in the text as received.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace mm::policy {

// From offsets in a text built piece by piece back to offsets in its source.
// A piece is either copied (offsets inside it map one to one) or replaced
// (it maps to the whole of its source bytes).
class OffsetMap {
public:
    // Appends a piece of `src` source bytes that became `out` bytes.
    void add(std::size_t src, std::size_t out, bool copied);
    // The source bytes that produced [b, e) of the text.
    std::pair<std::size_t, std::size_t> source(std::size_t b, std::size_t e) const;
    // Whether every offset maps to itself.
    bool identity() const { return pieces_.empty() || (pieces_.size() == 1 && pieces_[0].copied); }

private:
    // Eight bytes: a hostile text can make a piece of every other
    // character (normalize_text refuses texts of 2 GiB and more).
    struct Piece {
        std::uint32_t out;  // where it starts
        std::uint32_t src : 31;
        std::uint32_t copied : 1;
    };
    static_assert(sizeof(Piece) == 8);
    std::size_t begin_of(std::size_t p) const;
    std::size_t end_of(std::size_t p) const;
    std::vector<Piece> pieces_;
    std::size_t out_size_ = 0, src_size_ = 0;
};

}  // namespace mm::policy
