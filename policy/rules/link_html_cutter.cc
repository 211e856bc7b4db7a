#include "policy/rules/link_html_cutter.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "policy/html/html_nesting.h"
#include "policy/html/html_text.h"
#include "policy/html/html_tokenizer.h"
#include "policy/rules/link_attr.h"
#include "policy/rules/link_prescan.h"
#include "policy/rules/link_text.h"
#include "util/strings.h"

namespace mm::policy::link {
namespace {

using html::decode_refs;
using html::has_any;
using html::is_html_space;
using html::normalize_newlines;
using html::Tag;
using html::TokAttr;
using html::Token;
using html::Tokenizer;
using html::TokKind;

struct Cut {
    std::size_t begin, end;
    std::string replacement;
};

bool removes_element(Tag tag) {
    switch (tag) {
        case Tag::img:
        case Tag::image:
        case Tag::input:
        case Tag::iframe:
        case Tag::frame:
        case Tag::embed:
        case Tag::object:
        case Tag::applet:
        case Tag::script:
        case Tag::video:
        case Tag::audio:
        case Tag::source:
        case Tag::track:
        case Tag::meta:
            return true;
        default:
            return false;
    }
}

// Whether a URL that may not stay in attribute `name` takes the whole
// element: the source of an embedded resource, not a style or an image's
// other attributes.
bool removes_whole(Tag tag, std::string_view name) {
    bool is_image = tag == Tag::img || tag == Tag::image || tag == Tag::input;
    return removes_element(tag) && name != "style" &&
           (!is_image || name == "src" || name == "lowsrc" || name == "dynsrc");
}

bool is_url_attr(std::string_view n) {
    return std::find(std::begin(kUrlAttrNames), std::end(kUrlAttrNames), n) !=
           std::end(kUrlAttrNames);
}

// One pass over the tokens; each decision is the one a tree walk makes on
// the parsed nodes, on the same source spans.
class HtmlCutter {
public:
    HtmlCutter(const Context& cx, std::string_view html, LinkScan& out)
        : cx_(cx), html_(html), out_(out), tok_(html) {}

    // False when the part is over a limit (`over_limit_` says which); the
    // cut stops there.
    bool run() {
        Token t;
        while (tok_.next(t)) {
            tokens_ += 1 + t.attrs.size();
            switch (t.kind) {
                case TokKind::start_tag:
                    if (start_tag(t)) nesting_.start_tag(html_, t, tok_.in_foreign());
                    break;
                case TokKind::end_tag:
                    if (t.tag == Tag::table && table_depth_ > 0 && !tok_.in_foreign())
                        --table_depth_;
                    nesting_.end_tag(html_, t);
                    break;
                case TokKind::text:
                    text(t.b, t.e, std::string_view(), t.refs);
                    break;
                case TokKind::cdata:
                    text(t.b, t.e, html_.substr(t.inner_b, t.inner_e - t.inner_b), false);
                    break;
                case TokKind::comment:
                    comment(t.b, t.e);
                    break;
                case TokKind::doctype:
                    break;
            }
            if (over_limits()) return false;
        }
        return true;
    }

    std::vector<Cut> take_cuts() { return std::move(cuts_); }
    std::string take_over_limit() { return std::move(over_limit_); }

private:
    bool over_limits() {
        const LinkPolicy& p = cx_.policy;
        if (nesting_.depth() > p.max_html_nesting)
            over_limit_ = "HTML nested deeper than " + std::to_string(p.max_html_nesting) +
                          " elements (links.max_html_nesting)";
        else if (tokens_ > p.max_html_tokens)
            over_limit_ = "HTML of more than " + std::to_string(p.max_html_tokens) +
                          " tokens (links.max_html_tokens)";
        return !over_limit_.empty();
    }

    void remove(std::size_t b, std::size_t e, std::string url, Judgement j) {
        cuts_.push_back({b, e, ""});
        out_.note({std::move(url), std::move(j.domain), std::move(j.reason)});
    }

    void remove(std::size_t b, std::size_t e, Violation v) {
        remove(b, e, std::move(v.url), std::move(v.j));
    }

    // The attribute's source span, with the whitespace before it, so that
    // `<a href="x">` becomes `<a>`.
    std::pair<std::size_t, std::size_t> attr_span(const TokAttr& a, std::size_t tag_b) const {
        std::size_t b = a.name_b;
        while (b > tag_b + 1 && is_html_space(html_[b - 1])) --b;
        return {b, a.end};
    }

    // The attribute's value as the tree holds it (unquoted, references
    // decoded, CRs normalised), in `buf` unless the source is already that.
    std::string_view value_of(const TokAttr& a, std::string& buf) const {
        std::string_view raw = html_.substr(a.val_b, a.val_e - a.val_b);
        if (a.quoted) raw = raw.substr(1, raw.size() - 2);
        if (!has_any<'&', '\r'>(raw)) return raw;
        decode_refs(raw, true, buf);
        return buf;
    }

    std::string_view lower_name(const TokAttr& a, std::string& buf) const {
        std::string_view raw = html_.substr(a.name_b, a.name_e - a.name_b);
        if (std::none_of(raw.begin(), raw.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
            return raw;
        buf.assign(raw);
        for (char& c : buf) c = lower_char(c);
        return buf;
    }

    // Start tags the tree builder drops in body ("in body": a table part
    // outside any table is a parse error and ignored): the browser never
    // sees their attributes, so neither does the cut; the safety net judges
    // their bytes.
    bool ignored(const Token& t) const {
        switch (t.tag) {
            case Tag::caption:
            case Tag::col:
            case Tag::colgroup:
            case Tag::tbody:
            case Tag::td:
            case Tag::tfoot:
            case Tag::th:
            case Tag::thead:
            case Tag::tr:
                return table_depth_ == 0 && !tok_.in_foreign();
            default:
                return false;
        }
    }

    // Where the element that starts with `t` ends in the source: its end
    // tag's end when it has one (RAWTEXT/RCDATA/script elements know it; the
    // others are matched by nesting), else the start tag's end.
    std::size_t element_end(const Token& t) {
        if (t.raw_end != std::string_view::npos)
            return t.close_e != std::string_view::npos ? t.close_e : t.e;
        switch (t.tag) {
            case Tag::object:
            case Tag::applet:
            case Tag::video:
            case Tag::audio:
                break;
            default:
                if (!tok_.in_foreign() || t.self_closing) return t.e;  // void elements
        }
        if (unmatched_.contains(static_cast<int>(t.tag))) return t.e;
        Tokenizer ahead = tok_.fork();
        Token u;
        int depth = 1;
        while (ahead.next(u)) {
            if (u.tag != t.tag) continue;
            if (u.kind == TokKind::start_tag && !u.self_closing) ++depth;
            if (u.kind == TokKind::end_tag && --depth == 0) return u.e;
        }
        // No end tag: only the start tag goes (and the scan stays linear).
        unmatched_.insert(static_cast<int>(t.tag));
        return t.e;
    }

    // An <a> whose content, apart from whitespace and comments, is one <img>
    // (ended by its end tag, any end tag, another <a>, or the input's end).
    bool wraps_only_image() const {
        Tokenizer ahead = tok_.fork();
        Token u;
        int images = 0;
        while (ahead.next(u)) {
            if (u.kind == TokKind::comment) continue;
            if (u.kind == TokKind::text) {
                std::string_view s = html_.substr(u.b, u.e - u.b);
                if (std::all_of(s.begin(), s.end(), is_html_space)) continue;
                return false;
            }
            if (u.kind == TokKind::start_tag && (u.tag == Tag::img || u.tag == Tag::image)) {
                if (++images > 1) return false;
                continue;
            }
            if (u.kind == TokKind::end_tag || (u.kind == TokKind::start_tag && u.tag == Tag::a))
                return images == 1;
            return false;
        }
        return images == 1;
    }

    // False when the element is not open after its start tag: ignored, or
    // removed whole (with its content and end tag).
    bool start_tag(const Token& t) {
        if (t.tag == Tag::table && !tok_.in_foreign()) ++table_depth_;
        if (ignored(t)) return false;
        std::optional<std::size_t> href;  // the first href, when it stays
        if (!cut_attributes(t, href)) return false;
        if (t.tag == Tag::a && href && cx_.policy.unwrap_linked_images && wraps_only_image()) {
            const TokAttr& a = t.attrs[*href];
            auto [b, e] = attr_span(a, t.b);
            remove(b, e, normalize_url(value_of(a, value_buf_)),
                   Judgement{false, "", "linked image"});
        }
        return raw_content(t);
    }

    // <meta http-equiv=refresh>: its content attribute holds a URL.
    bool is_refresh_meta(const Token& t) {
        if (t.tag != Tag::meta) return false;
        for (const TokAttr& a : t.attrs) {
            if (!iequals(lower_name(a, name_buf_), "http-equiv")) continue;
            return iequals(value_of(a, value_buf_), "refresh");  // the first of duplicates wins
        }
        return false;
    }

    // Cuts the start tag's attributes that hold a URL that may not stay.
    // False when the whole element went instead (the tokenizer is then past
    // it); `href` is set to the index of the first href when it stays.
    bool cut_attributes(const Token& t, std::optional<std::size_t>& href) {
        const bool refresh = is_refresh_meta(t);
        bool href_seen = false;
        for (const TokAttr& a : t.attrs) {
            std::string_view name = lower_name(a, name_buf_);
            if (name.starts_with("xmlns")) continue;  // namespace names, never fetched
            std::string_view value = value_of(a, value_buf_);
            bool first_href = name == "href" && !href_seen;
            if (name == "href") href_seen = true;
            if (!is_url_attr(name) || (name == "content" && !refresh)) {
                cut_text_in_attr(a, t.b, value);
                continue;
            }
            auto bad = judge_attr(cx_, name, value);
            if (!bad) {
                if (first_href) href = &a - t.attrs.data();
                continue;
            }
            if (removes_whole(t.tag, name) || name == "content") {
                std::size_t el_e = element_end(t);
                remove(t.b, el_e, std::move(*bad));
                tok_.skip_to(el_e);  // the element, and all inside it, is gone
                return false;
            }
            if (name == "style" && cut_css_in_attr(a)) continue;
            auto [b, e] = attr_span(a, t.b);
            remove(b, e, std::move(*bad));
        }
        return true;
    }

    // title="…", alt="…", og:url content="…": not links, but text that
    // carries one; the attribute goes rather than the part.
    void cut_text_in_attr(const TokAttr& a, std::size_t tag_b, std::string_view value) {
        auto hits = find_text_links(cx_, value);
        if (hits.empty()) return;
        auto [b, e] = attr_span(a, tag_b);
        remove(b, e, std::move(hits[0].url), std::move(hits[0].j));
    }

    // The content of a raw-text element (style, script) after its start tag;
    // false when the element went whole.
    bool raw_content(const Token& t) {
        if (t.raw_end == std::string_view::npos) {
            // svg: not script data
            return !(t.tag == Tag::script && !t.self_closing && cut_script(t));
        }
        std::size_t raw_end = std::min(t.raw_end, html_.size());
        if (t.tag == Tag::style) {
            cut_css(t.e, html_.substr(t.e, raw_end - t.e));
            tok_.skip_to(raw_end);
            return true;
        }
        // Clients never run a script; a URL in it is only there to be found.
        if (t.tag == Tag::script) {
            if (cut_script(t)) return false;
            tok_.skip_to(raw_end);
        }
        return true;
    }

    // Removes the script element when its source holds a URL that may not
    // stay; true when it did.  A script inside one whose source was judged
    // clean is clean too (its source is part of the other's): judging each
    // of a nest of svg scripts again made the cut quadratic.
    bool cut_script(const Token& t) {
        if (t.e < clean_until_) return false;
        std::size_t el_e = element_end(t);
        if (el_e <= t.e) return false;
        if (!first_violation(cx_, html_.substr(t.e, el_e - t.e))) {
            clean_until_ = el_e;
            return false;
        }
        remove(t.b, el_e, "", Judgement{false, "", "script"});
        tok_.skip_to(el_e);
        return true;
    }

    // Cuts each disallowed url(...) out of a style attribute, when its source
    // has no references (so decoded offsets are source offsets).  False: the
    // caller removes the whole attribute.
    bool cut_css_in_attr(const TokAttr& a) {
        std::string_view inner = html_.substr(a.val_b, a.val_e - a.val_b);
        if (a.quoted) inner = inner.substr(1, inner.size() - 2);
        if (has_any<'&', '\r'>(inner)) return false;
        return cut_css(a.val_b + (a.quoted ? 1 : 0), inner);
    }

    bool cut_css(std::size_t base, std::string_view css) {
        for (const CssUrl& c : css_urls(css)) {
            Judgement j = judge(cx_, c.url, c.is_url ? Use::image : Use::link);
            if (!j.keep) remove(base + c.begin, base + c.end, normalize_url(c.url), std::move(j));
        }
        // Whatever else is in the CSS is left to the safety net.
        return true;
    }

    // The text run [b, e) as the tree holds it: references decoded when
    // `refs`, CRs normalised; in `buf` unless the source is already that.
    std::string_view decoded_text(std::string_view raw, bool refs, std::string& buf) const {
        if (!(refs ? has_any<'&', '\r'>(raw) : has_any<'\r'>(raw))) return raw;
        if (!refs)
            normalize_newlines(raw, buf);
        else
            decode_refs(raw, false, buf);
        return buf;
    }

    // A text run [b, e); `decoded` given for CDATA (its content), else
    // computed from the source.
    void text(std::size_t b, std::size_t e, std::string_view decoded, bool refs) {
        if (e <= b) return;
        std::string_view raw = html_.substr(b, e - b);
        std::string buf;
        if (decoded.data() == nullptr) {
            decoded = decoded_text(raw, refs, buf);
        } else if (decoded.find('\r') != std::string_view::npos) {
            normalize_newlines(decoded, buf);
            decoded = buf;
        }
        auto hits = find_text_links(cx_, decoded);
        if (hits.empty()) return;
        if (raw == decoded) {
            for (TextHit& h : hits) {
                cuts_.push_back({b + h.begin, b + h.end, html_escape(cx_.policy.text_marker)});
                out_.note({std::move(h.url), std::move(h.j.domain), std::move(h.j.reason)});
            }
            return;
        }
        // References in the text: the clients' linkifiers read decoded text,
        // so the run is re-written from its decoded form.
        LinkScan s = scan_text(cx_, decoded, cx_.policy.text_marker);
        cuts_.push_back({b, e, html_escape(s.text)});
        out_.absorb(s);
    }

    // Outlook reads conditional comments (VML buttons carry hrefs), so a
    // comment with a disallowed URL goes whole.
    void comment(std::size_t b, std::size_t e) {
        if (auto v = first_violation(cx_, html_.substr(b, e - b))) remove(b, e, std::move(*v));
    }

    const Context& cx_;
    std::string_view html_;
    LinkScan& out_;
    Tokenizer tok_;
    std::vector<Cut> cuts_;
    int table_depth_ = 0;
    std::set<int> unmatched_;      // elements already found to have no end tag
    std::size_t clean_until_ = 0;  // the end of the last script judged clean
    html::Nesting nesting_;
    std::size_t tokens_ = 0;  // tokens and attributes read
    std::string over_limit_;
    std::string name_buf_, value_buf_;
};

// Applies cuts; a cut inside an earlier, wider one is dropped (an attribute
// of an element already removed; a node the adoption agency cloned).
std::string apply_cuts(std::string_view html, std::vector<Cut> cuts, LinkScan& out) {
    std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
    });
    std::string result;
    result.reserve(html.size());
    std::size_t last = 0;
    for (const Cut& c : cuts) {
        if (c.begin < last || c.end > html.size()) continue;
        result.append(html.substr(last, c.begin - last));
        result.append(c.replacement);
        out.bytes_cut += c.end - c.begin;
        out.bytes_inserted += c.replacement.size();
        last = c.end;
    }
    result.append(html.substr(last));
    return result;
}

}  // namespace

std::string cut_html_links(const Context& cx, std::string_view html, LinkScan& out) {
    HtmlCutter cutter(cx, html, out);
    if (!cutter.run()) {
        out.over_limit = cutter.take_over_limit();
        return {};
    }
    return apply_cuts(html, cutter.take_cuts(), out);
}

}  // namespace mm::policy::link
