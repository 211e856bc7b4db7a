#include "policy/html/html_css.h"

#include <algorithm>
#include <array>
#include <optional>

#include "policy/html/folded_words.h"
#include "util/byte_scan.h"

namespace mm::policy::html {
namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_css_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// The escape at s[i] == '\\': the code point it stands for (U+FFFD for 0,
// surrogates and past U+10FFFF; npos-like 0xFFFFFFFF for an escaped newline,
// which stands for nothing) and where it ends.
char32_t read_escape(std::string_view s, std::size_t& i) {
    ++i;
    if (i >= s.size()) return 0xFFFD;
    if (s[i] == '\n' || s[i] == '\r' || s[i] == '\f') {
        ++i;
        return 0xFFFFFFFF;
    }
    if (hex_value(s[i]) < 0) return static_cast<unsigned char>(s[i++]);
    char32_t cp = 0;
    for (int k = 0; k < 6 && i < s.size() && hex_value(s[i]) >= 0; ++k)
        cp = cp * 16 + static_cast<char32_t>(hex_value(s[i++]));
    if (i < s.size() && is_css_space(s[i])) ++i;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    return cp;
}

// The code point of the UTF-8 sequence at s[i], i moved past it.
char32_t read_utf8(std::string_view s, std::size_t& i) {
    const auto b = static_cast<unsigned char>(s[i++]);
    const int len = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
    char32_t cp = len == 0 ? b : b & (0x3F >> len);
    for (int k = 0; k < len && i < s.size(); ++k) {
        const auto c = static_cast<unsigned char>(s[i]);
        if ((c & 0xC0) != 0x80) break;
        cp = (cp << 6) | (c & 0x3F);
        ++i;
    }
    return cp;
}

// A letter or digit of some script: ASCII ones, and anything past ASCII
// outside the punctuation, symbol, icon-font and emoji ranges that list
// bullets and arrows are drawn with.
bool is_word_char(char32_t c) {
    if (c < 0x80) return is_ascii_alnum(static_cast<char>(c));
    if (c <= 0xBF || c == 0xD7 || c == 0xF7) return false;
    if (c >= 0x2000 && c <= 0x2BFF) return false;
    if (c >= 0x3000 && c <= 0x303F) return false;
    if (c >= 0xE000 && c <= 0xF8FF) return false;
    if (c >= 0xFE00 && c <= 0xFE0F) return false;
    if (c >= 0x1F000) return false;
    return true;
}

// The end of the comment starting at s[i] ("/*").
std::size_t comment_end(std::string_view s, std::size_t i) {
    const std::size_t e = s.find("*/", i + 2);
    return e == npos ? s.size() : e + 2;
}

// The end of the string starting at s[i] (a quote): its closing quote, a
// newline (a bad string) or the end.
std::size_t string_end(std::string_view s, std::size_t i) {
    const char q = s[i++];
    while (i < s.size() && s[i] != q && s[i] != '\n') i += s[i] == '\\' ? 2 : 1;
    return std::min(i + 1, s.size());
}

// A number of a value: whether it is zero and its unit.
struct Number {
    bool zero;
    std::string_view unit;
};

// The numbers of a css_value (small: a handful per declaration).
std::vector<Number> numbers(std::string_view v) {
    std::vector<Number> out;
    std::size_t i = 0;
    const auto digit = [&](std::size_t k) { return k < v.size() && v[k] >= '0' && v[k] <= '9'; };
    while (i < v.size()) {
        const bool starts =
            digit(i) || (v[i] == '.' && digit(i + 1) && (i == 0 || !is_ascii_alnum(v[i - 1])));
        if (!starts || (i > 0 && (is_ascii_alpha(v[i - 1]) || v[i - 1] == '#'))) {
            ++i;
            continue;
        }
        bool zero = true;
        while (digit(i) || v[i] == '.') zero = zero && (v[i] == '0' || v[i] == '.'), ++i;
        if (i < v.size() && v[i] == 'e' &&
            (digit(i + 1) || ((v[i + 1] == '+' || v[i + 1] == '-') && digit(i + 2)))) {
            i += 2;
            while (digit(i)) ++i;
        }
        const std::size_t u = i;
        while (i < v.size() && (is_ascii_alpha(v[i]) || v[i] == '%')) ++i;
        out.push_back({zero, v.substr(u, i - u)});
    }
    return out;
}

bool all_zero(std::string_view v) {
    const std::vector<Number> n = numbers(v);
    return !n.empty() && std::all_of(n.begin(), n.end(), [](const Number& x) { return x.zero; });
}

bool relative_unit(std::string_view u) {
    return u == "em" || u == "%" || u == "ex" || u == "ch" || u == "cap" || u == "ic" || u == "lh";
}

bool inherits(std::string_view v) {
    return v == "inherit" || v == "unset" || v == "revert" || v == "revert-layer" ||
           v == "larger" || v == "smaller";
}

OwnStyle::Font font_size(std::string_view v) {
    if (v.empty()) return OwnStyle::Font::unset;
    if (inherits(v)) return OwnStyle::Font::relative;
    const std::vector<Number> n = numbers(v);
    if (n.empty()) return OwnStyle::Font::nonzero;
    if (std::all_of(n.begin(), n.end(), [](const Number& x) { return x.zero; }))
        return OwnStyle::Font::zero;
    for (const Number& x : n)
        if (!x.zero)
            return relative_unit(x.unit) ? OwnStyle::Font::relative : OwnStyle::Font::nonzero;
    return OwnStyle::Font::nonzero;
}

// The size in a `font` shorthand: the first word (before any '/line-height')
// that is a length; unitless numbers are weights.
OwnStyle::Font font_shorthand(std::string_view v) {
    if (v.empty()) return OwnStyle::Font::unset;
    if (inherits(v)) return OwnStyle::Font::relative;
    std::size_t i = 0;
    while (i < v.size()) {
        std::size_t e = v.find(' ', i);
        if (e == npos) e = v.size();
        std::string_view word = v.substr(i, e - i);
        i = e + 1;
        word = word.substr(0, word.find('/'));
        if (word == "larger" || word == "smaller") return OwnStyle::Font::relative;
        if (word.empty() || !(word[0] == '.' || (word[0] >= '0' && word[0] <= '9'))) continue;
        const std::vector<Number> n = numbers(word);
        if (n.empty()) continue;
        if (n[0].zero) return OwnStyle::Font::zero;
        if (n[0].unit.empty()) continue;
        return relative_unit(n[0].unit) ? OwnStyle::Font::relative : OwnStyle::Font::nonzero;
    }
    return OwnStyle::Font::nonzero;
}

bool word_in(std::string_view v, std::string_view w) {
    for (std::size_t at = v.find(w); at != npos; at = v.find(w, at + 1)) {
        const bool left = at == 0 || v[at - 1] == ' ' || v[at - 1] == ',';
        const std::size_t end = at + w.size();
        const bool right = end == v.size() || v[end] == ' ' || v[end] == ',';
        if (left && right) return true;
    }
    return false;
}

// The declarations of one style attribute, folded into what they say.
class StyleReader {
public:
    void read(std::string_view css) {
        for (const CssDecl& d : css_declarations(css))
            declaration(d.name, css_value(css.substr(d.value_b, d.value_e - d.value_b)));
    }

    OwnStyle result(bool hidden_attr) const {
        OwnStyle s;
        s.none = display_none_ || mso_hide_ || (hidden_attr && !display_set_);
        s.clipped = opacity_zero_ || (zero_box_ != 0 && overflow_clip_ != 0);
        s.font = font_;
        s.visibility = visibility_;
        return s;
    }

private:
    void declaration(std::string_view name, std::string_view v) {
        if (name == "display") {
            display_set_ = !v.empty();
            display_none_ = v == "none";
        } else if (name == "visibility") {
            visibility_ = v == "hidden" || v == "collapse" ? OwnStyle::Vis::hidden
                          : v == "visible"                 ? OwnStyle::Vis::visible
                                                           : OwnStyle::Vis::unset;
        } else if (name == "mso-hide") {
            mso_hide_ = v == "all";
        } else if (name == "opacity") {
            opacity_zero_ = all_zero(v);
        } else if (name == "filter") {
            const std::size_t at = v.find("opacity(");
            opacity_zero_ = at != npos && all_zero(v.substr(at, v.find(')', at) - at));
        } else if (name == "font-size") {
            font_ = font_size(v);
        } else if (name == "font") {
            font_ = font_shorthand(v);
        } else if (const int bit = box_bit(name)) {
            zero_box_ = all_zero(v) ? zero_box_ | bit : zero_box_ & ~bit;
        } else if (name == "overflow" || name == "overflow-x" || name == "overflow-y") {
            const int bit = name == "overflow" ? 1 : name == "overflow-x" ? 2 : 4;
            const bool clip = word_in(v, "hidden") || word_in(v, "clip");
            overflow_clip_ = clip ? overflow_clip_ | bit : overflow_clip_ & ~bit;
        }
    }

    static int box_bit(std::string_view name) {
        return name == "height"       ? 1
               : name == "max-height" ? 2
               : name == "width"      ? 4
               : name == "max-width"  ? 8
                                      : 0;
    }

    bool display_set_ = false, display_none_ = false, mso_hide_ = false, opacity_zero_ = false;
    int zero_box_ = 0, overflow_clip_ = 0;
    OwnStyle::Font font_ = OwnStyle::Font::unset;
    OwnStyle::Vis visibility_ = OwnStyle::Vis::unset;
};

std::string_view unquoted(std::string_view v) {
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        return v.substr(1, v.size() - 2);
    if (!v.empty() && (v.front() == '"' || v.front() == '\'')) return v.substr(1);
    return v;
}

// Declarations that put text on the page from CSS alone.
bool generates_text(std::string_view name) {
    static constexpr std::array<std::string_view, 10> kNames = {
        "content",          "quotes", "list-style", "list-style-type", "symbols",
        "additive-symbols", "prefix", "suffix",     "negative",        "pad"};
    return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// Whether a value (raw CSS) holds a string with a letter or digit, or reads
// an attribute (attr()).
bool shows_words(std::string_view raw) {
    for (std::size_t i = 0; i < raw.size();) {
        if (raw[i] == '/' && i + 1 < raw.size() && raw[i + 1] == '*') {
            i = comment_end(raw, i);
            continue;
        }
        if (raw[i] != '"' && raw[i] != '\'') {
            ++i;
            continue;
        }
        const std::size_t end = string_end(raw, i);
        const std::string_view s = raw.substr(i + 1, end - i - 1);
        for (std::size_t k = 0; k < s.size();) {
            const char32_t c = s[k] == '\\' ? read_escape(s, k) : read_utf8(s, k);
            if (c != 0xFFFFFFFF && is_word_char(c)) return true;
        }
        i = end;
    }
    return css_value(raw).find("attr(") != npos;
}

bool makes_words(std::string_view css, const CssDecl& d) {
    return generates_text(d.name) && shows_words(css.substr(d.value_b, d.value_e - d.value_b));
}

// `css` without its declarations that make words, or nullopt when it has
// none.
std::optional<std::string> without_words(std::string_view css, std::size_t& removed) {
    std::string out;
    std::size_t at = 0;
    bool cut = false;
    for (const CssDecl& d : css_declarations(css)) {
        if (!makes_words(css, d)) continue;
        out.append(css.substr(at, d.b - at));
        at = d.e;
        cut = true;
        ++removed;
    }
    if (!cut) return std::nullopt;
    out.append(css.substr(at));
    return out;
}

std::string attr_escape(std::string_view s, bool text) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '&')
            out += "&amp;";
        else if (c == '"' && !text)
            out += "&quot;";
        else if (c == '<' && text)
            out += "&lt;";
        else
            out.push_back(c);
    }
    return out;
}

}  // namespace

std::vector<CssDecl> css_declarations(std::string_view css) {
    std::vector<CssDecl> out;
    std::size_t piece = 0, colon = npos;
    int depth = 0;
    auto add = [&](std::size_t e) {
        if (colon != npos) {
            std::string name = css_value(css.substr(piece, colon - piece));
            if (!name.empty()) out.push_back({piece, e, colon + 1, e, std::move(name)});
        }
        piece = e + 1;
        colon = npos;
    };
    std::size_t i = 0;
    while (i < css.size()) {
        const char c = css[i];
        if (c == '/' && i + 1 < css.size() && css[i + 1] == '*') {
            i = comment_end(css, i);
            continue;
        }
        if (c == '"' || c == '\'') {
            i = string_end(css, i);
            continue;
        }
        if (c == '\\') {
            i += 2;
            continue;
        }
        if (c == '(' || c == '[')
            ++depth;
        else if ((c == ')' || c == ']') && depth > 0)
            --depth;
        else if (depth == 0 && c == ':' && colon == npos)
            colon = i;
        else if (depth == 0 && (c == ';' || c == '}'))
            add(i);
        else if (depth == 0 && c == '{')
            piece = i + 1, colon = npos;
        ++i;
    }
    add(css.size());
    return out;
}

std::string css_value(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    bool space = false;
    auto put = [&](char32_t c) {
        if (c == 0xFFFFFFFF) return;
        if (c < 0x80 && is_css_space(static_cast<char>(c))) {
            space = true;
            return;
        }
        if (space && !out.empty()) out.push_back(' ');
        space = false;
        if (c < 0x80)
            out.push_back(lower_char(static_cast<char>(c)));
        else
            append_utf8(out, c);
    };
    char quote = 0;
    for (std::size_t i = 0; i < raw.size();) {
        const char c = raw[i];
        if (quote == 0 && c == '/' && i + 1 < raw.size() && raw[i + 1] == '*') {
            i = comment_end(raw, i);
            continue;
        }
        if (quote == 0 && c == '!') break;  // !important
        if (c == '\\') {
            put(read_escape(raw, i));
            continue;
        }
        if (c == '"' || c == '\'') quote = quote == 0 ? c : quote == c ? 0 : quote;
        put(static_cast<unsigned char>(c));
        ++i;
    }
    return out;
}

OwnStyle own_style(std::string_view src, const Token& t) {
    bool hidden = false, have_style = false;
    std::string_view style;
    for (const TokAttr& a : t.attrs) {
        const std::string_view name = src.substr(a.name_b, a.name_e - a.name_b);
        if (!hidden && iequals(name, "hidden")) {
            hidden = true;
        } else if (!have_style && iequals(name, "style")) {
            have_style = true;
            style = unquoted(src.substr(a.val_b, a.val_e - a.val_b));
        }
    }
    if (!hidden && !have_style) return {};
    StyleReader r;
    if (!style.empty()) {
        std::string css;
        decode_refs(style, true, css);
        r.read(css);
    }
    return r.result(hidden);
}

Shown child_state(const Shown& parent, const OwnStyle& own) {
    Shown s;
    s.none = parent.none || own.none;
    s.clipped = parent.clipped || own.clipped;
    s.font_zero = own.font == OwnStyle::Font::zero      ? true
                  : own.font == OwnStyle::Font::nonzero ? false
                                                        : parent.font_zero;
    s.invisible = own.visibility == OwnStyle::Vis::hidden    ? true
                  : own.visibility == OwnStyle::Vis::visible ? false
                                                             : parent.invisible;
    return s;
}

bool may_make_css_text(std::string_view html) {
    // Candidates: '\\', "&#", "co", 'q' and 'y' (symbols, list-style).
    auto candidates = [](const bytes::Window& w) {
        const bytes::Block f = bytes::folded(w.cur);
        return bytes::eq(w.cur, '\\') | (bytes::eq(w.cur, '&') & bytes::eq(w.next, '#')) |
               (bytes::eq(f, 'c') & bytes::eq(bytes::folded(w.next), 'o')) | bytes::eq(f, 'q') |
               bytes::eq(f, 'y');
    };
    return bytes::scan_bytes(html, candidates, [html](std::size_t i) {
        return html[i] == '\\' || folded_word_at(html, i, "&#", 0) ||
               folded_word_at(html, i, "content", 0) || folded_word_at(html, i, "quotes", 0) ||
               folded_word_at(html, i, "symbols", 1) || folded_word_at(html, i, "list-style", 7);
    });
}

bool may_hide_text(std::string_view html) {
    auto then_equals = [html](std::size_t e) {
        while (e < html.size() && is_css_space(html[e])) ++e;
        return e < html.size() && html[e] == '=';
    };
    // Candidates: "dd" (hidden) and "ty" (style), at their second byte.
    auto candidates = [](const bytes::Window& w) {
        const bytes::Block f = bytes::folded(w.cur), p = bytes::folded(w.prev);
        return (bytes::eq(f, 'd') & bytes::eq(p, 'd')) | (bytes::eq(f, 'y') & bytes::eq(p, 't'));
    };
    return bytes::scan_bytes(html, candidates, [&](std::size_t i) {
        return folded_word_at(html, i, "hidden", 3) ||
               folded_word_at(html, i, "style", 2, then_equals);
    });
}

std::string strip_css_text(std::string_view html, std::size_t& removed) {
    removed = 0;
    if (!may_make_css_text(html)) return std::string(html);
    std::string out;
    std::size_t at = 0;
    // Replaces html[b, e) by `with`.
    auto edit = [&](std::size_t b, std::size_t e, std::string_view with) {
        out.append(html.substr(at, b - at));
        out.append(with);
        at = e;
    };
    Tokenizer tok(html);
    Token t;
    bool svg_style = false;  // in an svg <style>: its text is CSS, references decoded
    while (tok.next(t)) {
        if (t.kind == TokKind::end_tag && t.tag == Tag::style) svg_style = false;
        if (t.kind == TokKind::text && svg_style && tok.in_foreign()) {
            std::string css;
            decode_refs(html.substr(t.b, t.e - t.b), false, css);
            if (auto kept = without_words(css, removed)) edit(t.b, t.e, attr_escape(*kept, true));
        }
        if (t.kind != TokKind::start_tag) continue;
        for (const TokAttr& a : t.attrs) {
            if (!iequals(html.substr(a.name_b, a.name_e - a.name_b), "style")) continue;
            std::string css;
            decode_refs(unquoted(html.substr(a.val_b, a.val_e - a.val_b)), true, css);
            if (auto kept = without_words(css, removed))
                edit(a.val_b, a.val_e, "\"" + attr_escape(*kept, false) + "\"");
            break;
        }
        if (t.tag != Tag::style) continue;
        if (t.raw_end != npos) {
            const std::size_t end = std::min(t.raw_end, html.size());
            const std::string_view css = html.substr(t.e, end - t.e);
            for (const CssDecl& d : css_declarations(css)) {
                if (!makes_words(css, d)) continue;
                edit(t.e + d.b, t.e + d.e, {});
                ++removed;
            }
            tok.skip_to(end);
        } else if (tok.in_foreign() && !t.self_closing) {
            svg_style = true;
        }
    }
    if (removed == 0) return std::string(html);
    out.append(html.substr(at));
    return out;
}

}  // namespace mm::policy::html
