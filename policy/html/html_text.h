// html_to_text: the text a reader sees in an HTML part, for content rules,
// the marketplace rules' fingerprints and redaction, which judge words, not
// markup.  Never used to decide which links survive: that is link_rule's job
// on the original bytes.  Thread-safe.
//
// It runs the HTML5 tokenizer subset link_rule uses (html_tokenizer.h), so
// both read the markup the same way, in one linear pass and no tree:
//  - character references decoded (U+00A0 as a space: the reader sees one);
//  - script, style and title text, comments (but for the markup inside
//    Outlook's conditional comments), DOCTYPE and markup dropped; the
//    text of every other element kept, RAWTEXT and RCDATA included;
//  - whitespace runs as one space, as a browser lays them out (verbatim in
//    pre, textarea, listing, xmp and plaintext), so a sentence wrapped in the
//    source stays one line for patterns such as [^.!?\n]{0,60};
//  - a line break at each block element's start and end, and at <br>;
//  - U+0000 dropped (the tree builder ignores it in text).
// Unterminated markup ends the text as it ends a browser's: an unterminated
// tag emits nothing.  Linear in the input and without recursion on its
// nesting (one pass over tokens; the only nested pass is the content of a
// conditional comment, which is not read for further conditional comments).
//
// html_to_mapped_text is the same rendering (one renderer makes both) with a
// source map: every rendered byte mapped back to the source bytes of the
// text node that shows it, so that redaction (rules/privacy_html.cc) can
// replace in the HTML what it finds in the reader's text.
//
// Readers differ: a client without CSS shows every text node, one with CSS
// leaves out what the inline styles and the hidden attribute hide
// (html_css.h), joining the words around it.  html_to_text is the first
// reading, html_to_visible_text the second; the content rules and the
// redaction judge both.  The visible rendering follows the open elements as
// html_nesting.h models the tree builder (linear, no recursion), so that a
// hidden element ends where a browser ends it.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mm::policy {

// Asked about each <a> with an href when the element ends (its end tag, the
// next <a>, or the end of the input), with the href's source value, quotes
// and references as they are; what it returns follows the link's text.
using LinkNote = std::function<std::string(std::string_view raw_href)>;

std::string html_to_text(std::string_view html, const LinkNote& note = {});

// The rendering without the text (and the line breaks of elements without a
// box) that CSS hides; nullopt when nothing in `html` is hidden.
std::optional<std::string> html_to_visible_text(std::string_view html);

enum class Rendering { full, visible };

// Rendered bytes [out_b, out_e) came from HTML bytes [src_b, src_e) of the
// text node starting at `node`; one to one when `copied`, else as a whole
// (a character reference, a CRLF, a collapsed space).
struct TextPiece {
    std::size_t out_b, out_e;
    std::size_t src_b, src_e;
    std::size_t node;
    bool copied;
};

struct SourceRange {
    std::size_t b, e;
};

struct MappedText {
    std::string text;  // equal to html_to_text(html), or to the visible rendering
    std::vector<TextPiece> pieces;
    // The visible rendering only: the source of the text nodes it left out,
    // in source order.
    std::vector<SourceRange> hidden;
};

MappedText html_to_mapped_text(std::string_view html, Rendering reading = Rendering::full);

// The HTML bytes that show rendered [b, e), one range per text node, in
// source order; empty when none do.
std::vector<SourceRange> source_ranges(const MappedText& r, std::size_t b, std::size_t e);

// Text as HTML source (for markers and renderings put into HTML).
std::string html_escape(std::string_view s);

}  // namespace mm::policy
