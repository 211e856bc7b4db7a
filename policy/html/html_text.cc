#include "policy/html/html_text.h"

#include <algorithm>
#include <array>
#include <iterator>

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
    static const auto keys = [] {
        std::array<html::NameKey, std::size(kBlocks)> k;
        for (std::size_t i = 0; i < k.size(); ++i) k[i] = html::name_key(kBlocks[i]);
        std::sort(k.begin(), k.end());
        return k;
    }();
    if (lower.empty() || lower.size() > 16) return false;
    const html::NameKey key = html::name_key(lower);
    auto it = std::lower_bound(keys.begin(), keys.end(), key);
    return it != keys.end() && *it == key;
}

class TextRenderer {
public:
    // `nested`: the content of a conditional comment (whose own conditional
    // comments are not read again: the recursion is one level deep, whatever
    // the input).
    TextRenderer(std::string_view html, const LinkNote& note, bool nested = false)
        : html_(html), tok_(html), note_(note), nested_(nested) {
        out_.reserve(html.size() / 2);
    }

    std::string run() {
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
                    text(t);
                    break;
                case html::TokKind::cdata:
                    if (skip_depth_ > 0 && tok_.in_foreign()) break;
                    skip_depth_ = 0;
                    html::normalize_newlines(html_.substr(t.inner_b, t.inner_e - t.inner_b), buf_);
                    append(buf_, pre_depth_ > 0);
                    break;
                case html::TokKind::comment:
                    conditional_comment(t);
                    break;
                case html::TokKind::doctype:
                    break;
            }
        }
        end_link();
        while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\n')) out_.pop_back();
        return std::move(out_);
    }

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
        if (name == "pre" || name == "listing") ++pre_depth_;
        if (is_block(name)) line_break();
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
        std::string_view name = lower_name(t);
        if ((name == "pre" || name == "listing") && pre_depth_ > 0) --pre_depth_;
        if (is_block(name)) line_break();
    }

    // Outlook renders the markup inside <!--[if mso]> ... <![endif]-->, so
    // the rules read it too (link_rule removes such a comment whole when it
    // holds a disallowed URL).
    void conditional_comment(const html::Token& t) {
        if (nested_) return;
        std::string_view c = html_.substr(t.b, t.e - t.b);
        if (!html::istarts_with(c, "<!--[if")) return;
        std::size_t open = c.find("]>");
        if (open == std::string_view::npos) return;
        std::size_t close = c.rfind("<![endif]");
        if (close == std::string_view::npos || close < open + 2) close = c.size();
        std::string inner = TextRenderer(c.substr(open + 2, close - open - 2), note_, true).run();
        if (inner.empty()) return;
        if (!out_.empty() && out_.back() != ' ' && out_.back() != '\n') out_.push_back(' ');
        out_ += inner;
        out_.push_back(' ');
    }

    void text(const html::Token& t) {
        std::string_view raw = html_.substr(t.b, t.e - t.b);
        const bool is_raw = t.b == raw_b_;
        const bool verbatim = pre_depth_ > 0 || (is_raw && raw_verbatim_);
        raw_b_ = std::string_view::npos;
        std::string_view decoded = raw;
        if (t.refs && html::has_any<'&', '\r'>(raw)) {
            html::decode_refs(raw, false, buf_);
            decoded = buf_;
        } else if (!t.refs && html::has_any<'\r'>(raw)) {
            html::normalize_newlines(raw, buf_);
            decoded = buf_;
        }
        append(decoded, verbatim);
    }

    // Appends decoded text: NULs dropped, U+00A0 as a space, whitespace runs
    // collapsed unless `verbatim`.  Runs of other bytes are copied whole.
    void append(std::string_view s, bool verbatim) {
        auto special = [](char c) {
            auto u = static_cast<unsigned char>(c);
            return u <= 0x20 || u == 0xC2;
        };
        const std::size_t n = s.size();
        std::size_t i = 0;
        while (i < n) {
            std::size_t j = i;
            while (j < n && !special(s[j])) ++j;
            out_.append(s.data() + i, j - i);
            if (j >= n) break;
            char c = s[j];
            i = j + 1;
            bool space = c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
            if (c == '\xC2') {
                if (i >= n || s[i] != '\xA0') {
                    out_.push_back(c);
                    continue;
                }
                ++i;
                c = ' ';
                space = true;
            }
            if (c == '\0') continue;
            if (verbatim) {
                out_.push_back(c == '\r' || c == '\f' ? '\n' : c);
                continue;
            }
            if (space) {
                if (!out_.empty() && out_.back() != ' ' && out_.back() != '\n') out_.push_back(' ');
                continue;
            }
            out_.push_back(c);
        }
    }

    void line_break() {
        while (!out_.empty() && out_.back() == ' ') out_.pop_back();
        if (!out_.empty() && out_.back() != '\n') out_.push_back('\n');
    }

    std::string_view html_;
    html::Tokenizer tok_;
    const LinkNote& note_;
    bool nested_ = false;
    bool link_open_ = false;  // an <a> is open (only tracked with a note)
    bool has_href_ = false;
    std::string_view href_;
    std::string out_;
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
    return TextRenderer(html, note).run();
}

}  // namespace mm::policy
