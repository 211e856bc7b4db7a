// Excerpts of a text for SMTP replies, audit lines and `test`: one line of
// valid UTF-8, cut at a word boundary.  Shared by the content rules'
// pattern and concept hits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mm::policy {

inline constexpr std::size_t kExcerptMaxChars = 120;

// text[begin, end) widened to whole words (at most a few dozen bytes each
// way), whitespace and control runs as one space, invalid bytes dropped,
// at most `max_chars` characters.
std::string make_excerpt(std::string_view text, std::size_t begin, std::size_t end,
                         std::size_t max_chars = kExcerptMaxChars);
// text[begin, end) as written, on one line (no widening), at most
// `max_chars` characters.
std::string quote_words(std::string_view text, std::size_t begin, std::size_t end,
                        std::size_t max_chars = 40);

}  // namespace mm::policy
