#include "policy/rules/offset_map.h"

#include <algorithm>
#include <iterator>

namespace mm::policy {

void OffsetMap::add(std::size_t src, std::size_t out, bool copied) {
    if (src == 0 && out == 0) return;
    copied = copied && src == out;
    if (!(copied && !pieces_.empty() && pieces_.back().copied))
        pieces_.push_back({static_cast<std::uint32_t>(out_size_),
                           static_cast<std::uint32_t>(src_size_) & 0x7FFFFFFFu, copied ? 1u : 0u});
    out_size_ += out;
    src_size_ += src;
}

std::size_t OffsetMap::begin_of(std::size_t p) const {
    if (p >= out_size_) return src_size_;
    auto it = std::upper_bound(pieces_.begin(), pieces_.end(), p,
                               [](std::size_t v, const Piece& x) { return v < x.out; });
    const Piece& piece = *std::prev(it);
    return piece.copied ? piece.src + (p - piece.out) : piece.src;
}

std::size_t OffsetMap::end_of(std::size_t p) const {
    if (p == 0) return begin_of(0);
    p = std::min(p, out_size_);
    auto it = std::upper_bound(pieces_.begin(), pieces_.end(), p - 1,
                               [](std::size_t v, const Piece& x) { return v < x.out; });
    const Piece& piece = *std::prev(it);
    if (piece.copied) return piece.src + (p - piece.out);
    return it == pieces_.end() ? src_size_ : it->src;
}

std::pair<std::size_t, std::size_t> OffsetMap::source(std::size_t b, std::size_t e) const {
    if (pieces_.empty()) return {b, e};
    return {begin_of(b), std::max(begin_of(b), end_of(e))};
}

}  // namespace mm::policy
