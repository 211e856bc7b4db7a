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
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mm::policy {

// Asked about each <a> with an href when the element ends (its end tag, the
// next <a>, or the end of the input), with the href's source value, quotes
// and references as they are; what it returns follows the link's text.
using LinkNote = std::function<std::string(std::string_view raw_href)>;

std::string html_to_text(std::string_view html, const LinkNote& note = {});

}  // namespace mm::policy
