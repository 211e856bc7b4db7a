// What the CSS of an HTML part does to the text a reader sees: the inline
// styles (and the hidden attribute) that hide an element's text from a
// CSS-aware client, and the declarations that make text out of CSS alone
// (`content:"..."` and its kin).  A CSS-less client shows hidden text and
// no generated text, a CSS-aware one the other way round: html_text renders
// both readings for the rules, and the generated text, which no rule could
// place among the words without matching selectors, is removed from the
// part (strip_css_text) so that no reader sees words that were not judged.
//
// Read: inline `style` attributes and the `hidden` attribute, declarations
// decoded as a browser reads them (character references in the attribute,
// CSS comments and escapes, case, `!important`).  Not read: class and id
// rules of <style> sheets for hiding (their generated text is stripped
// wherever it is declared), text painted in the background's colour, text
// moved off-screen (position, text-indent, transform) and sizes computed by
// calc() from non-zero terms.
//
// Every function is linear in its input and allocates at most a copy of it;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/html/html_tokenizer.h"

namespace mm::policy::html {

// One `name: value` declaration of CSS text, as byte spans of that text.
struct CssDecl {
    std::size_t b, e;              // the declaration, without its ';' or '}'
    std::size_t value_b, value_e;  // after the ':'
    std::string name;              // lower case, escapes decoded, trimmed
};

// The declarations of a style attribute's value or of a style sheet: every
// `name:value` piece that ends at ';' or '}' outside strings, comments and
// () [] blocks (selectors and at-rule preludes end at '{' and are skipped).
std::vector<CssDecl> css_declarations(std::string_view css);

// A value as a browser compares it: comments removed, escapes decoded, ASCII
// lower case, `!important` dropped, whitespace runs as one space, trimmed.
// Strings keep their quotes.
std::string css_value(std::string_view raw);

// What an element's own attributes say about whether its content shows.
struct OwnStyle {
    enum class Font : std::uint8_t { unset, zero, nonzero, relative };
    enum class Vis : std::uint8_t { unset, hidden, visible };
    bool none = false;        // display:none, hidden (unless display says otherwise), mso-hide:all
    bool clipped = false;     // opacity 0, a zero height or width with overflow hidden
    Font font = Font::unset;  // font-size, or the size in `font`
    Vis visibility = Vis::unset;
};

// The state an element's content is in, inherited along the open elements.
struct Shown {
    bool none = false;       // no box: no text and no line breaks
    bool clipped = false;    // nothing inside can be shown again
    bool font_zero = false;  // a descendant with a non-zero size shows again
    bool invisible = false;  // a descendant with visibility:visible shows again
    bool hides() const { return none || clipped || font_zero || invisible; }
};

// The style and hidden attributes of start tag `t` of `src`.
OwnStyle own_style(std::string_view src, const Token& t);

Shown child_state(const Shown& parent, const OwnStyle& own);

// `html` without the CSS declarations that generate text a reader would see
// (content, quotes, list-style and @counter-style symbols whose strings hold
// a letter or digit, content:attr()), in <style> elements and style
// attributes; `removed` counts them.  `html` itself when there are none.
std::string strip_css_text(std::string_view html, std::size_t& removed);

// The prefilters that spare most parts the passes above, each a superset
// of the inputs that need its pass, read as RE2 reads these patterns
// (folded_words.h) without a pass of a DFA over every byte.
// may_make_css_text, (?i)content|quotes|list-style|symbols|\\|&#: the
// property names that make text, as written, or the escapes and numeric
// references that could spell them.
bool may_make_css_text(std::string_view html);
// may_hide_text, (?i)hidden|style[ \t\n\r\f]*=: only a `style` attribute
// (a name, then '=') or a `hidden` one can hide an element, and attribute
// names are never encoded.
bool may_hide_text(std::string_view html);

}  // namespace mm::policy::html
