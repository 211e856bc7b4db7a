// The HTML5 tokenizer subset shared by link_rule (cuts on exact byte spans)
// and html_text (the text a reader sees, for content rules), and the
// character-reference decoder both use.  Internal to policy/: the contract
// is the spec's tokenizer states, listed below; nothing here builds a tree.
//
// Pure and allocation-light; a Tokenizer reads one string_view it does not
// own and is used by one thread.  The decoders are thread-safe.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "policy/html/counted_stack.h"
#include "policy/html/html_name_table.h"
#include "util/strings.h"

namespace mm::policy::html {

// ---- small string helpers ------------------------------------------------

// HTML names fold A-Z only, as every protocol token does.
using mm::iequals;
using mm::istarts_with;
using mm::lower_char;

inline bool is_html_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower_char(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Of eight bytes of text loaded little-endian, those equal to one of Cs: the
// lowest set top bit marks the first of them exactly (a borrow runs only
// upwards, past the first byte equal to a C).
template <char... Cs>
std::uint64_t first_of_eight(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    const auto equal = [w](char c) {
        const std::uint64_t x = w ^ (ones * static_cast<unsigned char>(c));
        return (x - ones) & ~x & high;
    };
    return (equal(Cs) | ...);
}

// The position of the first of the bytes Cs in `s`, or npos.
// string_view::find_first_of calls memchr over its set once per byte of `s`,
// and a comparison per byte and C is most of a scan of prose: eight bytes
// are tested at once.
template <char... Cs>
std::size_t find_any(std::string_view s) {
    std::size_t i = 0;
    if constexpr (std::endian::native == std::endian::little) {
        for (; i + 8 <= s.size(); i += 8) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            if (const std::uint64_t m = first_of_eight<Cs...>(w))
                return i + static_cast<std::size_t>(std::countr_zero(m)) / 8;
        }
    }
    for (; i < s.size(); ++i)
        if (((s[i] == Cs) || ...)) return i;
    return std::string_view::npos;
}

// Whether `s` holds any of the bytes Cs.
template <char... Cs>
bool has_any(std::string_view s) {
    return find_any<Cs...>(s) != std::string_view::npos;
}

inline bool is_ascii_alnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// ---- character references ------------------------------------------------

void append_utf8(std::string& out, char32_t cp);

// Decodes character references (HTML5 tokenizer rules, in an attribute value
// when `attr`: the standard's whole table of names, numeric references with
// the windows-1252 remap, legacy names without ';') and normalises CR/CRLF to
// LF, as the tokenizer's input stream does.
void decode_refs(std::string_view raw, bool attr, std::string& out);

// CR and CRLF as LF, as the input stream normalises them.
void normalize_newlines(std::string_view s, std::string& out);

// ---- the tokenizer -----------------------------------------------------------
//
// The HTML5 tokenizer's states that decide where tokens begin and end (data,
// tag open, tag name, the attribute name/value states, comments and bogus
// comments, DOCTYPE, CDATA in foreign content, RCDATA/RAWTEXT/script data
// with its escape states, PLAINTEXT), reading the raw bytes and returning
// byte spans into them.  No tree: the cutter needs where each token is in
// the source, not the DOM.  The few tree-construction facts that change how
// bytes tokenize (svg/math foreign content and its HTML integration points)
// are tracked on a small stack.

enum class Tag : std::uint8_t {
    other,
    a,
    img,
    image,
    input,
    iframe,
    frame,
    embed,
    object,
    applet,
    script,
    video,
    audio,
    source,
    track,
    meta,
    style,
    svg,
    math,
    table,
    caption,
    col,
    colgroup,
    tbody,
    td,
    tfoot,
    th,
    thead,
    tr,
    title,
    textarea,
    xmp,
    noembed,
    noframes,
    plaintext,
    foreignobject,
    desc,
    mi,
    mo,
    mn,
    ms,
    mtext,
    annotation_xml,
    breakout,  // an HTML element that ends foreign content (b, div, p, table, ...)
};

inline constexpr std::size_t kTagCount = static_cast<std::size_t>(Tag::breakout) + 1;

Tag tag_of(std::string_view lower);

// Elements a breakout tag also ends foreign content for: img, meta, embed,
// table are in the spec's list too.
inline bool breaks_out_of_foreign(Tag t) {
    return t == Tag::breakout || t == Tag::img || t == Tag::meta || t == Tag::embed ||
           t == Tag::table;
}

inline bool is_tag_space(char c) {
    // '\r' is '\n' after the input stream's newline normalisation.
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

inline bool is_ascii_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

struct TokAttr {
    std::size_t name_b, name_e;  // the name's source span
    std::size_t val_b, val_e;    // the value's source span, quotes included (empty: no value)
    std::size_t end;             // end of the attribute's source (value, '=' or name)
    bool quoted;
};

enum class TokKind : std::uint8_t { start_tag, end_tag, text, comment, cdata, doctype };

struct Token {
    TokKind kind{};
    std::size_t b = 0, e = 0;              // the whole token's source span
    std::size_t inner_b = 0, inner_e = 0;  // tag name; CDATA content
    Tag tag = Tag::other;
    bool self_closing = false;
    bool refs = false;  // text: character references are decoded (data, RCDATA)
    // Start tags of RCDATA/RAWTEXT/script elements: where their text ends and
    // where their end tag ends (npos: runs to the end of the input).
    std::size_t raw_end = std::string_view::npos;
    std::size_t close_e = std::string_view::npos;
    std::vector<TokAttr> attrs;  // start tags (end tags' attributes are dropped)
};

class Tokenizer {
public:
    explicit Tokenizer(std::string_view s) : s_(s) {}
    // Copies would copy the foreign-content stack: lookaheads use fork().
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // A tokenizer that goes on from where this one is, for a lookahead; it
    // reads this one's state, which must not change while the fork is used.
    Tokenizer fork() const { return Tokenizer(*this, ForkTag{}); }

    // The next token; false at the end of the input.
    bool next(Token& t) {
        const std::size_t n = s_.size();
        while (pos_ < n) {
            if (raw_until_ != std::string_view::npos) {
                std::size_t b = pos_, e = std::min(raw_until_, n);
                raw_until_ = std::string_view::npos;
                pos_ = e;
                if (e > b) {
                    set_text(t, b, e, raw_refs_);
                    return true;
                }
                continue;
            }
            if (s_[pos_] != '<') {
                std::size_t b = pos_;
                std::size_t e = text_end(pos_);
                pos_ = e;
                set_text(t, b, e, true);
                return true;
            }
            if (markup(t)) return true;
        }
        return false;
    }

    // Continue in the data state at `pos` (after a removed element).
    void skip_to(std::size_t pos) {
        pos_ = pos;
        raw_until_ = std::string_view::npos;
    }

    bool in_foreign() const { return !foreign_.empty() && !integration_point(); }

private:
    struct ForkTag {};
    Tokenizer(const Tokenizer& o, ForkTag)
        : s_(o.s_),
          pos_(o.pos_),
          raw_until_(o.raw_until_),
          raw_refs_(o.raw_refs_),
          foreign_(o.foreign_.view()) {}

    static void set_text(Token& t, std::size_t b, std::size_t e, bool refs) {
        t.kind = TokKind::text;
        t.b = b;
        t.e = e;
        t.inner_b = b;
        t.inner_e = e;
        t.refs = refs;
        t.tag = Tag::other;
        t.attrs.clear();
    }

    bool integration_point() const {
        Tag top = foreign_.back();
        if (foreign_.front() == Tag::svg)
            return top == Tag::foreignobject || top == Tag::desc || top == Tag::title;
        return top == Tag::mi || top == Tag::mo || top == Tag::mn || top == Tag::ms ||
               top == Tag::mtext || top == Tag::annotation_xml;
    }

    // Whether '<' at p opens markup (anything but text), per "tag open".
    bool opens_markup(std::size_t p) const {
        if (p + 1 >= s_.size()) return false;
        char c = s_[p + 1];
        if (is_ascii_alpha(c) || c == '!' || c == '?') return true;
        if (c == '/') return p + 2 < s_.size();  // "</" at the end is text
        return false;
    }

    std::size_t text_end(std::size_t p) const {
        const std::size_t n = s_.size();
        for (;;) {
            const void* lt = std::memchr(s_.data() + p, '<', n - p);
            if (!lt) return n;
            p = static_cast<std::size_t>(static_cast<const char*>(lt) - s_.data());
            if (opens_markup(p)) return p;
            ++p;
        }
    }

    std::size_t find(std::string_view what, std::size_t from) const {
        std::size_t p = s_.find(what, from);
        return p == std::string_view::npos ? s_.size() : p;
    }

    std::size_t to_gt(std::size_t from) const {  // just past the next '>', or the end
        std::size_t p = s_.find('>', from);
        return p == std::string_view::npos ? s_.size() : p + 1;
    }

    void set_span(Token& t, TokKind k, std::size_t b, std::size_t e) {
        t.kind = k;
        t.b = b;
        t.e = e;
        t.tag = Tag::other;
        t.attrs.clear();
        pos_ = e;
    }

    // At '<' that is not text (or is; then it is consumed as text).  False
    // when nothing is emitted ("</>" or an unterminated tag).
    bool markup(Token& t) {
        const std::size_t n = s_.size(), b = pos_;
        if (!opens_markup(b)) {  // a '<' that is text, at the end of the input
            set_text(t, b, n, true);
            pos_ = n;
            return true;
        }
        char c = s_[b + 1];
        if (c == '!') {
            std::string_view rest = s_.substr(b + 2);
            if (rest.starts_with("--")) {
                set_span(t, TokKind::comment, b, comment_end(b + 4));
                return true;
            }
            if (istarts_with(rest, "doctype")) {
                set_span(t, TokKind::doctype, b, to_gt(b + 2));
                return true;
            }
            if (rest.starts_with("[CDATA[") && in_foreign()) {
                std::size_t close = find("]]>", b + 9);
                set_span(t, TokKind::cdata, b, std::min(close + 3, n));
                t.inner_b = b + 9;
                t.inner_e = close;
                return true;
            }
            set_span(t, TokKind::comment, b, to_gt(b + 2));  // bogus comment
            return true;
        }
        if (c == '?') {
            set_span(t, TokKind::comment, b, to_gt(b + 1));
            return true;
        }
        if (c == '/') {
            if (s_[b + 2] == '>') {  // "</>": no token at all
                pos_ = b + 3;
                return false;
            }
            if (!is_ascii_alpha(s_[b + 2])) {
                set_span(t, TokKind::comment, b, to_gt(b + 2));
                return true;
            }
            return tag(t, b, true);
        }
        return tag(t, b, false);
    }

    // Comment states, from just after "<!--": "<!-->" and "<!--->" end at
    // once; otherwise "-->" or "--!>" ends it (or the end of the input).
    std::size_t comment_end(std::size_t p) const {
        const std::size_t n = s_.size();
        if (p < n && s_[p] == '>') return p + 1;
        if (p + 1 < n && s_[p] == '-' && s_[p + 1] == '>') return p + 2;
        for (std::size_t q = p; q + 1 < n; ++q) {
            q = s_.find("--", q);
            if (q == std::string_view::npos) break;
            std::size_t r = q + 2;
            while (r < n && s_[r] == '-') ++r;  // "--->" ends too
            if (r < n && s_[r] == '>') return r + 1;
            if (r + 1 < n && s_[r] == '!' && s_[r + 1] == '>') return r + 2;
            q = r - 2;
        }
        return n;
    }

    // A start or end tag at b.  The attribute states follow the spec; an
    // unterminated tag is dropped, as EOF in a tag emits nothing.
    bool tag(Token& t, std::size_t b, bool end) {
        const std::size_t n = s_.size();
        std::size_t i = b + (end ? 2 : 1);
        std::size_t name_b = i;
        while (i < n && !is_tag_space(s_[i]) && s_[i] != '/' && s_[i] != '>') ++i;
        t.kind = end ? TokKind::end_tag : TokKind::start_tag;
        t.b = b;
        t.inner_b = name_b;
        t.inner_e = i;
        t.self_closing = false;
        t.raw_end = t.close_e = std::string_view::npos;
        t.attrs.clear();
        char lower[16];
        std::size_t len = i - name_b;
        if (len < sizeof lower) {
            for (std::size_t k = 0; k < len; ++k) lower[k] = lower_char(s_[name_b + k]);
            t.tag = tag_of(std::string_view(lower, len));
        } else {
            t.tag = Tag::other;
        }
        std::size_t e = attributes(t, i);
        if (e == std::string_view::npos) {
            pos_ = n;
            return false;
        }
        t.e = e;
        pos_ = e;
        if (end) {
            t.attrs.clear();
            end_tag(t.tag);
        } else {
            start_tag(t);
        }
        return true;
    }

    std::size_t attributes(Token& t, std::size_t i) {
        const std::size_t n = s_.size();
        for (;;) {
            while (i < n && is_tag_space(s_[i])) ++i;  // before attribute name
            if (i >= n) return std::string_view::npos;
            if (s_[i] == '/') {  // self-closing start tag
                if (++i >= n) return std::string_view::npos;
                if (s_[i] == '>') {
                    t.self_closing = true;
                    return i + 1;
                }
                continue;
            }
            if (s_[i] == '>') return i + 1;
            TokAttr a{};
            a.name_b = i++;  // a leading '=' belongs to the name
            while (i < n && !is_tag_space(s_[i]) && s_[i] != '/' && s_[i] != '>' && s_[i] != '=')
                ++i;
            a.name_e = i;
            std::size_t j = i;  // after attribute name
            while (j < n && is_tag_space(s_[j])) ++j;
            if (j >= n) return std::string_view::npos;
            if (s_[j] != '=') {
                a.val_b = a.val_e = a.end = a.name_e;
                t.attrs.push_back(a);
                i = j;
                continue;
            }
            ++j;  // before attribute value
            std::size_t after_eq = j;
            while (j < n && is_tag_space(s_[j])) ++j;
            if (j >= n) return std::string_view::npos;
            if (s_[j] == '"' || s_[j] == '\'') {
                std::size_t close = s_.find(s_[j], j + 1);
                if (close == std::string_view::npos) return std::string_view::npos;
                a.val_b = j;
                a.val_e = a.end = close + 1;
                a.quoted = true;
                i = close + 1;
            } else if (s_[j] == '>') {  // missing value
                a.val_b = a.val_e = j;
                a.end = after_eq;
                t.attrs.push_back(a);
                return j + 1;
            } else {
                std::size_t k = j;
                while (k < n && !is_tag_space(s_[k]) && s_[k] != '>') ++k;
                if (k >= n) return std::string_view::npos;
                a.val_b = j;
                a.val_e = a.end = k;
                i = k;
            }
            t.attrs.push_back(a);
        }
    }

    void start_tag(Token& t) {
        if (!foreign_.empty() && !integration_point()) {
            if (breaks_out_of_foreign(t.tag)) {
                foreign_.clear();
            } else {
                if (!t.self_closing) foreign_.push(t.tag);
                return;  // no RCDATA/RAWTEXT in foreign content
            }
        }
        if (t.tag == Tag::svg || t.tag == Tag::math) {
            if (!t.self_closing) foreign_.push(t.tag);
            return;
        }
        switch (t.tag) {
            case Tag::script:
                t.raw_end = script_end(t.e);
                break;
            case Tag::style:
            case Tag::iframe:
            case Tag::xmp:
            case Tag::noembed:
            case Tag::noframes:
            case Tag::title:
            case Tag::textarea: {
                std::string_view name = s_.substr(t.inner_b, t.inner_e - t.inner_b);
                t.raw_end = rawtext_end(t.e, name);
                break;
            }
            case Tag::plaintext:
                t.raw_end = s_.size();
                break;
            default:
                return;
        }
        raw_until_ = t.raw_end;
        raw_refs_ = t.tag == Tag::title || t.tag == Tag::textarea;
        if (t.raw_end < s_.size()) {
            // The end tag that ends the text: tokenize it to find its end.
            Tokenizer sub(s_);
            sub.pos_ = t.raw_end;
            Token end_tok;
            if (sub.next(end_tok) && end_tok.kind == TokKind::end_tag) t.close_e = end_tok.e;
        }
    }

    void end_tag(Tag tag) {
        if (tag != Tag::other) foreign_.pop_to(tag);
    }

    // Whether "</name" at p is an appropriate end tag (followed by a space,
    // '/' or '>').
    bool end_tag_at(std::size_t p, std::string_view name) const {
        if (p + 2 + name.size() >= s_.size() || s_[p + 1] != '/') return false;
        if (!iequals(s_.substr(p + 2, name.size()), name)) return false;
        char c = s_[p + 2 + name.size()];
        return is_tag_space(c) || c == '/' || c == '>';
    }

    std::size_t rawtext_end(std::size_t p, std::string_view name) const {
        const std::size_t n = s_.size();
        for (;;) {
            const void* lt = std::memchr(s_.data() + p, '<', n - p);
            if (!lt) return n;
            p = static_cast<std::size_t>(static_cast<const char*>(lt) - s_.data());
            if (end_tag_at(p, name)) return p;
            ++p;
        }
    }

    // Script data and its escaped / double-escaped states: "<!--" escapes,
    // "<script" inside the escape double-escapes (where "</script>" does not
    // end the element), "-->" returns to plain script data.
    std::size_t script_end(std::size_t p) const {
        enum { plain, escaped, double_escaped } st = plain;
        const std::size_t n = s_.size();
        auto word_at = [&](std::size_t q) {  // "script" then a space, '/' or '>'
            if (q + 6 >= n || !iequals(s_.substr(q, 6), "script")) return false;
            char c = s_[q + 6];
            return is_tag_space(c) || c == '/' || c == '>';
        };
        while (p < n) {
            std::size_t q =
                s_.find_first_of(st == plain ? std::string_view("<") : std::string_view("<-"), p);
            if (q == std::string_view::npos) return n;
            if (s_[q] == '-') {
                if (s_.substr(q).starts_with("-->")) {
                    st = plain;
                    p = q + 3;
                } else {
                    p = q + 1;
                }
                continue;
            }
            if (st != double_escaped && end_tag_at(q, "script")) return q;
            if (st == plain && s_.substr(q).starts_with("<!--")) {
                st = escaped;
                // "<!--" followed by "-" or "->" also reaches "-->" handling
                p = q + 4;
                if (s_.substr(q + 2).starts_with("-->")) st = plain, p = q + 5;
                continue;
            }
            if (st == escaped && word_at(q + 1)) {
                st = double_escaped;
                p = q + 7;
                continue;
            }
            if (st == double_escaped && q + 1 < n && s_[q + 1] == '/' && word_at(q + 2)) {
                st = escaped;
                p = q + 8;
                continue;
            }
            p = q + 1;
        }
        return n;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::size_t raw_until_ = std::string_view::npos;  // the text of a RAWTEXT/RCDATA element
    bool raw_refs_ = false;
    CountedStack<Tag, kTagCount> foreign_;  // open svg/math elements (empty: HTML content)
};

}  // namespace mm::policy::html
