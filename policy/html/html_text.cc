#include "policy/html/html_text.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <vector>

#include "policy/html/html_css.h"
#include "policy/html/html_nesting.h"
#include "policy/html/html_tokenizer.h"

namespace mm::policy {
namespace {

// Elements a browser lays out as blocks (or line breaks): a line break at
// their start and end keeps words of different blocks apart and sentences
// of one block together.
constexpr std::string_view kBlocks[] = {
    "address",  "article",    "aside",   "blockquote", "br",      "caption", "center",
    "dd",       "details",    "dialog",  "dir",        "div",     "dl",      "dt",
    "fieldset", "figcaption", "figure",  "footer",     "form",    "h1",      "h2",
    "h3",       "h4",         "h5",      "h6",         "header",  "hgroup",  "hr",
    "legend",   "li",         "listing", "main",       "menu",    "nav",     "ol",
    "p",        "plaintext",  "pre",     "section",    "summary", "table",   "tbody",
    "td",       "tfoot",      "th",      "thead",      "tr",      "ul",      "xmp"};

bool is_block(std::string_view lower) {
    static const html::NameTable<bool> blocks = [] {
        html::NameTable<bool>::Entry e[std::size(kBlocks)];
        for (std::size_t i = 0; i < std::size(kBlocks); ++i) e[i] = {kBlocks[i], true};
        return html::NameTable<bool>(e, false);
    }();
    return blocks.find(lower);
}

// Where decoded text comes from: [src_b, src_e) of the text node starting
// at `node`, byte for byte when `copied`.
struct Origin {
    std::size_t src_b, src_e, node;
    bool copied;
};

// The character reference at s[0] == '&': its source length (0: the '&' is
// text) and what it decodes to, as decode_refs reads it in text.
struct Ref {
    std::size_t len = 0;
    std::string text;
};

// How many bytes at the end of `decoded` are `raw`'s own, copied: what a
// reference decoded to never ends in its name's letters or ';'.
std::size_t literal_tail(std::string_view decoded, std::string_view raw) {
    std::size_t k = 0;
    while (k + 1 < decoded.size() && k + 2 < raw.size() &&
           decoded[decoded.size() - 1 - k] == raw[raw.size() - 1 - k])
        ++k;
    return k;
}

Ref read_ref(std::string_view s) {
    Ref r;
    const std::size_t n = s.size();
    std::size_t j = 1;
    if (j < n && s[j] == '#') {
        ++j;
        const bool hex = j < n && (s[j] == 'x' || s[j] == 'X');
        if (hex) ++j;
        const std::size_t digits = j;
        while (j < n && (hex ? html::hex_value(s[j]) >= 0 : (s[j] >= '0' && s[j] <= '9'))) ++j;
        if (j == digits) return r;
        if (j < n && s[j] == ';') ++j;
        html::decode_refs(s.substr(0, j), false, r.text);
        r.len = j;
        return r;
    }
    while (j < n && html::is_ascii_alnum(s[j])) ++j;
    if (j == 1) return r;
    const bool semicolon = j < n && s[j] == ';';
    const std::string_view whole = s.substr(0, semicolon ? j + 1 : j);
    std::string decoded;
    html::decode_refs(whole, false, decoded);
    if (decoded == whole) return r;
    const std::size_t tail = literal_tail(decoded, whole);
    r.len = whole.size() - tail;
    r.text = decoded.substr(0, decoded.size() - tail);
    return r;
}

// The one renderer.  `Mapped` keeps the source map as it goes: text runs
// are then decoded reference by reference, each with its origin; without
// it a run is decoded whole, which is what the content rules' hot path wants.
template <bool Mapped>
class TextRenderer {
public:
    // `base`: where `html` starts in the part (for the map).  `nested`: the
    // content of a conditional comment (whose own conditional comments are
    // not read again: the recursion is one level deep, whatever the input).
    // `visible`: without what CSS hides (html_css.h), which needs the open
    // elements (html_nesting.h) to know where a hidden element ends.
    TextRenderer(std::string_view html, const LinkNote& note, bool visible, std::size_t base = 0,
                 bool nested = false)
        : html_(html), tok_(html), note_(note), base_(base), nested_(nested), visible_(visible) {
        out_.reserve(html.size() / 2);
    }

    void run() {
        html::Token t;
        while (tok_.next(t)) {
            switch (t.kind) {
                case html::TokKind::start_tag:
                    start_tag(t);
                    break;
                case html::TokKind::end_tag:
                    end_tag(t);
                    break;
                case html::TokKind::text:
                    if (skip_depth_ > 0 && tok_.in_foreign()) break;
                    skip_depth_ = 0;
                    if (hiding()) {
                        hide(t.b, t.e);
                        raw_b_ = std::string_view::npos;
                        break;
                    }
                    text(t);
                    break;
                case html::TokKind::cdata:
                    if (skip_depth_ > 0 && tok_.in_foreign()) break;
                    skip_depth_ = 0;
                    if (hiding()) {
                        hide(t.b, t.e);
                        break;
                    }
                    decode(t.inner_b, t.inner_e, false, pre_depth_ > 0);
                    break;
                case html::TokKind::comment:
                    conditional_comment(t);
                    break;
                case html::TokKind::doctype:
                    break;
            }
        }
        end_link();
        while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n')) pop();
    }

    std::string take_text() { return std::move(out_); }
    MappedText take_mapped() { return {std::move(out_), std::move(pieces_), std::move(hidden_)}; }
    // Whether the visible rendering left something out.
    bool hid_something() const { return hid_; }

private:
    // The tag's name in lower case; "" when longer than any name we look for.
    std::string_view lower_name(const html::Token& t) {
        std::size_t len = t.inner_e - t.inner_b;
        if (len >= sizeof name_) return {};
        for (std::size_t k = 0; k < len; ++k) name_[k] = html::lower_char(html_[t.inner_b + k]);
        return {name_, len};
    }

    void start_tag(const html::Token& t) {
        if (t.raw_end != std::string_view::npos) {
            // RAWTEXT, RCDATA, script data, PLAINTEXT: the tokenizer knows
            // where the text ends.  Script, style and title are never shown.
            if (t.tag == html::Tag::script || t.tag == html::Tag::style ||
                t.tag == html::Tag::title) {
                tok_.skip_to(std::min(t.raw_end, html_.size()));
            } else {
                raw_b_ = t.e;
                raw_verbatim_ = t.tag == html::Tag::textarea || t.tag == html::Tag::xmp ||
                                t.tag == html::Tag::plaintext;
            }
        } else if (tok_.in_foreign() && !t.self_closing &&
                   (t.tag == html::Tag::script || t.tag == html::Tag::style)) {
            // svg's script and style hold text, not markup: skipped while
            // foreign content lasts (a break-out tag ends both, as in the tree).
            if (skip_depth_ == 0) skip_tag_ = t.tag;
            if (skip_tag_ == t.tag) ++skip_depth_;
        } else if (!tok_.in_foreign()) {
            skip_depth_ = 0;
        }
        if (note_ && t.tag == html::Tag::a && !tok_.in_foreign()) start_link(t);
        std::string_view name = lower_name(t);
        const bool boxless = visible_ && open_element(t, name);
        if (name == "pre" || name == "listing") ++pre_depth_;
        if (is_block(name) && !boxless) line_break();
    }

    // The visible rendering's view of start tag `t`: the open elements and
    // the state each one's content is in.  True when the element has no box
    // (its line breaks are not shown either).
    bool open_element(const html::Token& t, std::string_view name) {
        const bool pushed = nesting_.start_tag(html_, t, tok_.in_foreign());
        shown_.resize(nesting_.depth() - (pushed ? 1 : 0));
        const html::Shown s = html::child_state(current(), html::own_style(html_, t));
        if (s.hides()) hid_ = true;
        if (pushed) {
            shown_.push_back(s);
        } else if (name == "body" || name == "html") {
            root_ = s;  // never open on the stack, yet their style is inherited
        }
        return s.none;
    }

    const html::Shown& current() const { return shown_.empty() ? root_ : shown_.back(); }

    // Whether text here is left out of the rendering.
    bool hiding() const { return visible_ && current().hides(); }

    // Text source [b, e) left out.
    void hide(std::size_t b, std::size_t e) {
        hid_ = true;
        if constexpr (Mapped) hidden_.push_back({base_ + b, base_ + e});
    }

    // An <a> ends at its end tag, at the next <a> (the tree builder closes
    // the first) or at the end of the input; the note follows its text.
    void start_link(const html::Token& t) {
        end_link();
        link_open_ = true;
        href_ = {};
        for (const html::TokAttr& a : t.attrs) {
            if (html::iequals(html_.substr(a.name_b, a.name_e - a.name_b), "href")) {
                href_ = html_.substr(a.val_b, a.val_e - a.val_b);
                has_href_ = true;
                return;
            }
        }
        has_href_ = false;
    }

    void end_link() {
        if (!link_open_) return;
        link_open_ = false;
        if (has_href_) out_ += note_(href_);
    }

    void end_tag(const html::Token& t) {
        if (t.tag == html::Tag::a && link_open_ && !tok_.in_foreign()) end_link();
        if (skip_depth_ > 0 && t.tag == skip_tag_) --skip_depth_;
        bool boxless = false;
        if (visible_) {
            // The outermost element the tag closes is the one that ends
            // (the tree builder closes those inside it with it).
            nesting_.end_tag(html_, t);
            const std::size_t depth = nesting_.depth();
            boxless = depth < shown_.size() ? shown_[depth].none : current().none;
            shown_.resize(std::min(shown_.size(), depth));
        }
        std::string_view name = lower_name(t);
        if ((name == "pre" || name == "listing") && pre_depth_ > 0) --pre_depth_;
        if (is_block(name) && !boxless) line_break();
    }

    // Outlook renders the markup inside <!--[if mso]> ... <![endif]-->, so
    // the rules read it too (link_rule removes such a comment whole when it
    // holds a disallowed URL).
    void conditional_comment(const html::Token& t) {
        if (nested_) return;
        std::string_view c = html_.substr(t.b, t.e - t.b);
        if (hiding()) {
            hide(t.b, t.e);
            return;
        }
        if (!html::istarts_with(c, "<!--[if")) return;
        std::size_t open = c.find("]>");
        if (open == std::string_view::npos) return;
        std::size_t close = c.rfind("<![endif]");
        if (close == std::string_view::npos || close < open + 2) close = c.size();
        TextRenderer inner(c.substr(open + 2, close - open - 2), note_, visible_,
                           base_ + t.b + open + 2, true);
        inner.run();
        hid_ = hid_ || inner.hid_;
        hidden_.insert(hidden_.end(), inner.hidden_.begin(), inner.hidden_.end());
        if (inner.out_.empty()) return;
        if (!out_.empty() && out_.back() != ' ' && out_.back() != '\n') out_.push_back(' ');
        if constexpr (Mapped) {
            const std::size_t shift = out_.size();
            for (TextPiece p : inner.pieces_) {
                p.out_b += shift;
                p.out_e += shift;
                pieces_.push_back(p);
            }
        }
        out_ += inner.out_;
        out_.push_back(' ');
    }

    void text(const html::Token& t) {
        const bool is_raw = t.b == raw_b_;
        const bool verbatim = pre_depth_ > 0 || (is_raw && raw_verbatim_);
        raw_b_ = std::string_view::npos;
        decode(t.b, t.e, t.refs, verbatim);
    }

    // Appends html_[b, e) decoded (references when `refs`, CR and CRLF as
    // LF).
    void decode(std::size_t b, std::size_t e, bool refs, bool verbatim) {
        const std::string_view raw = html_.substr(b, e - b);
        if constexpr (Mapped) {
            decode_mapped(raw, b, refs, verbatim);
        } else {
            std::string_view decoded = raw;
            if (refs && html::has_any<'&', '\r'>(raw)) {
                html::decode_refs(raw, false, buf_);
                decoded = buf_;
            } else if (!refs && html::has_any<'\r'>(raw)) {
                html::normalize_newlines(raw, buf_);
                decoded = buf_;
            }
            append(decoded, Origin{}, verbatim);
        }
    }

    // decode() run by run, each with its origin.
    void decode_mapped(std::string_view raw, std::size_t b, bool refs, bool verbatim) {
        const std::size_t at = base_ + b;
        std::size_t i = 0;
        while (i < raw.size()) {
            std::size_t j = i;
            while (j < raw.size() && raw[j] != '\r' && !(refs && raw[j] == '&')) ++j;
            if (j > i) append(raw.substr(i, j - i), {at + i, at + j, at, true}, verbatim);
            if (j == raw.size()) break;
            if (raw[j] == '\r') {
                std::size_t len = j + 1 < raw.size() && raw[j + 1] == '\n' ? 2 : 1;
                append("\n", {at + j, at + j + len, at, false}, verbatim);
                i = j + len;
                continue;
            }
            Ref ref = read_ref(raw.substr(j));
            if (ref.len == 0) {
                append("&", {at + j, at + j + 1, at, true}, verbatim);
                i = j + 1;
                continue;
            }
            append(ref.text, {at + j, at + j + ref.len, at, false}, verbatim);
            i = j + ref.len;
        }
    }

    // Appends decoded text whose origin is `o`: NULs dropped, U+00A0 as a
    // space, whitespace runs collapsed unless `verbatim`.  Runs of other
    // bytes are copied whole.
    void append(std::string_view s, const Origin& o, bool verbatim) {
        auto special = [](char c) {
            auto u = static_cast<unsigned char>(c);
            return u <= 0x20 || u == 0xC2;
        };
        const std::size_t n = s.size();
        std::size_t i = 0;
        while (i < n) {
            std::size_t j = i;
            while (j < n && !special(s[j])) ++j;
            emit(s.substr(i, j - i), o, i);
            if (j >= n) break;
            char c = s[j];
            i = j + 1;
            bool space = c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
            if (c == '\xC2') {
                if (i >= n || s[i] != '\xA0') {
                    emit_char(c, o, j, true, i);
                    continue;
                }
                ++i;
                c = ' ';
                space = true;
            }
            if (c == '\0') continue;
            const bool same = i == j + 1;
            if (verbatim) {
                const char v = c == '\r' || c == '\f' ? '\n' : c;
                emit_char(v, o, j, same && v == c, i);
                continue;
            }
            if (space) {
                if (!out_.empty() && out_.back() != ' ' && out_.back() != '\n')
                    emit_char(' ', o, j, same && c == ' ', i);
                continue;
            }
            emit_char(c, o, j, true, i);
        }
    }

    // Appends `bytes`, copied from [from, from + size) of a run whose origin
    // is `o`.
    void emit(std::string_view bytes, const Origin& o, std::size_t from) {
        if constexpr (Mapped) {
            record(bytes, o, from, from + bytes.size(), true);
        } else {
            out_.append(bytes);
        }
    }

    // Appends `c`, decoded from [from, to) of a run whose origin is `o`: the
    // same byte when `same`.
    void emit_char(char c, const Origin& o, std::size_t from, bool same, std::size_t to) {
        if constexpr (Mapped) {
            record(std::string_view(&c, 1), o, from, to, same);
        } else {
            out_.push_back(c);
        }
    }

    void record(std::string_view bytes, const Origin& o, std::size_t from, std::size_t to,
                bool same) {
        if (bytes.empty()) return;
        const std::size_t out_b = out_.size();
        out_.append(bytes);
        const bool copied = o.copied && same;
        const std::size_t src_b = o.copied ? o.src_b + from : o.src_b;
        const std::size_t src_e = o.copied ? o.src_b + to : o.src_e;
        if (copied && !pieces_.empty()) {
            TextPiece& last = pieces_.back();
            if (last.copied && last.node == o.node && last.out_e == out_b && last.src_e == src_b) {
                last.out_e = out_.size();
                last.src_e = src_e;
                return;
            }
        }
        pieces_.push_back({out_b, out_.size(), src_b, src_e, o.node, copied});
    }

    void pop() {
        out_.pop_back();
        if constexpr (Mapped) {
            if (pieces_.empty() || pieces_.back().out_e <= out_.size()) return;
            TextPiece& last = pieces_.back();
            if (last.out_e - last.out_b == 1) {
                pieces_.pop_back();
                return;
            }
            --last.out_e;
            if (last.copied) --last.src_e;
        }
    }

    void line_break() {
        while (!out_.empty() && out_.back() == ' ') pop();
        if (!out_.empty() && out_.back() != '\n') out_.push_back('\n');
    }

    std::string_view html_;
    html::Tokenizer tok_;
    const LinkNote& note_;
    std::size_t base_ = 0;  // where html_ starts in the part
    bool nested_ = false;
    bool visible_ = false;
    bool hid_ = false;
    html::Nesting nesting_;           // only when visible_
    std::vector<html::Shown> shown_;  // per open element of nesting_
    html::Shown root_;
    std::vector<SourceRange> hidden_;  // only when Mapped and visible_
    bool link_open_ = false;           // an <a> is open (only tracked with a note)
    bool has_href_ = false;
    std::string_view href_;
    std::string out_;
    std::vector<TextPiece> pieces_;  // only when Mapped
    std::string buf_;
    char name_[16];
    int pre_depth_ = 0;
    int skip_depth_ = 0;  // open svg script/style elements being skipped
    html::Tag skip_tag_ = html::Tag::other;
    std::size_t raw_b_ = std::string_view::npos;  // where a RAWTEXT/RCDATA text starts
    bool raw_verbatim_ = false;
};

}  // namespace

std::string html_to_text(std::string_view html, const LinkNote& note) {
    if (html.empty()) return {};
    TextRenderer<false> r(html, note, false);
    r.run();
    return r.take_text();
}

std::optional<std::string> html_to_visible_text(std::string_view html) {
    if (!html::may_hide_text(html)) return std::nullopt;
    static const LinkNote kNoNote;
    TextRenderer<false> r(html, kNoNote, true);
    r.run();
    if (!r.hid_something()) return std::nullopt;
    return r.take_text();
}

MappedText html_to_mapped_text(std::string_view html, Rendering reading) {
    static const LinkNote kNoNote;
    TextRenderer<true> r(html, kNoNote, reading == Rendering::visible);
    r.run();
    return r.take_mapped();
}

std::vector<SourceRange> source_ranges(const MappedText& r, std::size_t b, std::size_t e) {
    std::vector<SourceRange> out;
    std::size_t node = std::string::npos;
    auto it = std::upper_bound(r.pieces.begin(), r.pieces.end(), b,
                               [](std::size_t v, const TextPiece& p) { return v < p.out_e; });
    for (; it != r.pieces.end() && it->out_b < e; ++it) {
        const TextPiece& p = *it;
        std::size_t sb = p.src_b, se = p.src_e;
        if (p.copied) {
            sb = p.src_b + (std::max(b, p.out_b) - p.out_b);
            se = p.src_b + (std::min(e, p.out_e) - p.out_b);
        }
        if (p.node == node && !out.empty()) {
            out.back().e = std::max(out.back().e, se);
        } else {
            out.push_back({sb, se});
            node = p.node;
        }
    }
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

}  // namespace mm::policy
