// The rendering redact_html (privacy_rule.h) matches on: html_to_text's text
// with every rendered byte mapped back to the source bytes of the text node
// that shows it.  Internal to policy/rules (privacy_html.cc and its tests).
// Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mm::policy::privacy {

// Rendered bytes [out_b, out_e) came from HTML bytes [src_b, src_e) of the
// text node starting at `node`; one to one when `copied`, else as a whole
// (a character reference, a CRLF, a collapsed space).
struct Piece {
    std::size_t out_b, out_e;
    std::size_t src_b, src_e;
    std::size_t node;
    bool copied;
};

struct Rendering {
    std::string text;  // equal to html_to_text(html)
    std::vector<Piece> pieces;
};

Rendering render_mapped(std::string_view html);

struct Range {
    std::size_t b, e;
};

// The HTML bytes that show rendered [b, e), one range per text node, in
// source order; empty when none do.
std::vector<Range> source_ranges(const Rendering& r, std::size_t b, std::size_t e);

}  // namespace mm::policy::privacy
