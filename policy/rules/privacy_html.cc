// redact_html (privacy_rule.h) and the mapped rendering it matches on
// (privacy_html.h): a match in what the reader sees is replaced in the HTML
// however the sender spread it over tags and character references.
#include "policy/rules/privacy_html.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "policy/html/html_text.h"
#include "policy/html/html_tokenizer.h"
#include "policy/rules/privacy_rule.h"
#include "policy/rules/text_normalize.h"

namespace mm::policy {
namespace privacy {
namespace {

// Where decoded text comes from: [src_b, src_e) of `node`.
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

// html_to_text (html/html_text.cc), step for step, keeping the map.  A test
// holds the two renderings equal.
class MappedRenderer {
public:
    MappedRenderer(std::string_view html, std::size_t base, bool nested)
        : html_(html), tok_(html), base_(base), nested_(nested) {}

    Rendering run() {
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
                    decode(t.inner_b, t.inner_e, false, pre_depth_ > 0);
                    break;
                case html::TokKind::comment:
                    conditional_comment(t);
                    break;
                case html::TokKind::doctype:
                    break;
            }
        }
        while (!r_.text.empty() && (r_.text.back() == ' ' || r_.text.back() == '\n')) pop();
        return std::move(r_);
    }

private:
    std::string_view lower_name(const html::Token& t) {
        std::size_t len = t.inner_e - t.inner_b;
        if (len >= sizeof name_) return {};
        for (std::size_t k = 0; k < len; ++k) name_[k] = html::lower_char(html_[t.inner_b + k]);
        return {name_, len};
    }

    void start_tag(const html::Token& t) {
        if (t.raw_end != std::string_view::npos) {
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
            if (skip_depth_ == 0) skip_tag_ = t.tag;
            if (skip_tag_ == t.tag) ++skip_depth_;
        } else if (!tok_.in_foreign()) {
            skip_depth_ = 0;
        }
        std::string_view name = lower_name(t);
        if (name == "pre" || name == "listing") ++pre_depth_;
        if (is_block(name)) line_break();
    }

    void end_tag(const html::Token& t) {
        if (skip_depth_ > 0 && t.tag == skip_tag_) --skip_depth_;
        std::string_view name = lower_name(t);
        if ((name == "pre" || name == "listing") && pre_depth_ > 0) --pre_depth_;
        if (is_block(name)) line_break();
    }

    void conditional_comment(const html::Token& t) {
        if (nested_) return;
        std::string_view c = html_.substr(t.b, t.e - t.b);
        if (!html::istarts_with(c, "<!--[if")) return;
        std::size_t open = c.find("]>");
        if (open == std::string_view::npos) return;
        std::size_t close = c.rfind("<![endif]");
        if (close == std::string_view::npos || close < open + 2) close = c.size();
        const std::size_t inner_b = t.b + open + 2;
        Rendering inner =
            MappedRenderer(c.substr(open + 2, close - open - 2), base_ + inner_b, true).run();
        if (inner.text.empty()) return;
        std::string& out = r_.text;
        if (!out.empty() && out.back() != ' ' && out.back() != '\n') out.push_back(' ');
        const std::size_t shift = out.size();
        out += inner.text;
        for (Piece p : inner.pieces) {
            p.out_b += shift;
            p.out_e += shift;
            r_.pieces.push_back(p);
        }
        out.push_back(' ');
    }

    void text(const html::Token& t) {
        const bool is_raw = t.b == raw_b_;
        const bool verbatim = pre_depth_ > 0 || (is_raw && raw_verbatim_);
        raw_b_ = std::string_view::npos;
        decode(t.b, t.e, t.refs, verbatim);
    }

    // Appends html_[b, e) decoded (references when `refs`, CR and CRLF as
    // LF), each run with its origin.
    void decode(std::size_t b, std::size_t e, bool refs, bool verbatim) {
        const std::string_view raw = html_.substr(b, e - b);
        const std::size_t node = base_ + b;
        std::size_t i = 0;
        while (i < raw.size()) {
            std::size_t j = i;
            while (j < raw.size() && raw[j] != '\r' && !(refs && raw[j] == '&')) ++j;
            if (j > i)
                append(raw.substr(i, j - i), {base_ + b + i, base_ + b + j, node, true}, verbatim);
            if (j == raw.size()) break;
            if (raw[j] == '\r') {
                std::size_t len = j + 1 < raw.size() && raw[j + 1] == '\n' ? 2 : 1;
                append("\n", {base_ + b + j, base_ + b + j + len, node, false}, verbatim);
                i = j + len;
                continue;
            }
            Ref ref = read_ref(raw.substr(j));
            if (ref.len == 0) {
                append("&", {base_ + b + j, base_ + b + j + 1, node, true}, verbatim);
                i = j + 1;
                continue;
            }
            append(ref.text, {base_ + b + j, base_ + b + j + ref.len, node, false}, verbatim);
            i = j + ref.len;
        }
    }

    // html_text's append(): NULs dropped, U+00A0 as a space, whitespace runs
    // collapsed unless `verbatim`.
    void append(std::string_view s, const Origin& o, bool verbatim) {
        auto special = [](char c) {
            auto u = static_cast<unsigned char>(c);
            return u <= 0x20 || u == 0xC2;
        };
        std::string& out = r_.text;
        const std::size_t n = s.size();
        std::size_t i = 0;
        while (i < n) {
            std::size_t j = i;
            while (j < n && !special(s[j])) ++j;
            emit(s.substr(i, j - i), o, i, true);
            if (j >= n) break;
            char c = s[j];
            i = j + 1;
            bool space = c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
            if (c == '\xC2') {
                if (i >= n || s[i] != '\xA0') {
                    emit(s.substr(j, 1), o, j, true);
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
                emit(std::string_view(&v, 1), o, j, same && v == c, i);
                continue;
            }
            if (space) {
                if (!out.empty() && out.back() != ' ' && out.back() != '\n') {
                    static constexpr char kSpace = ' ';
                    emit(std::string_view(&kSpace, 1), o, j, same && c == ' ', i);
                }
                continue;
            }
            emit(std::string_view(&c, 1), o, j, true);
        }
    }

    // Appends `bytes`, decoded from [from, to) of a run whose origin is `o`:
    // the same bytes when `same` (then `to` is from + their size).
    void emit(std::string_view bytes, const Origin& o, std::size_t from, bool same,
              std::size_t to = std::string_view::npos) {
        if (bytes.empty()) return;
        if (to == std::string_view::npos) to = from + bytes.size();
        std::string& out = r_.text;
        const std::size_t out_b = out.size();
        out.append(bytes);
        const bool copied = o.copied && same;
        const std::size_t src_b = o.copied ? o.src_b + from : o.src_b;
        const std::size_t src_e = o.copied ? o.src_b + to : o.src_e;
        if (copied && !r_.pieces.empty()) {
            Piece& last = r_.pieces.back();
            if (last.copied && last.node == o.node && last.out_e == out_b && last.src_e == src_b) {
                last.out_e = out.size();
                last.src_e = src_e;
                return;
            }
        }
        r_.pieces.push_back({out_b, out.size(), src_b, src_e, o.node, copied});
    }

    void pop() {
        r_.text.pop_back();
        if (r_.pieces.empty() || r_.pieces.back().out_e <= r_.text.size()) return;
        Piece& last = r_.pieces.back();
        if (last.out_e - last.out_b == 1) {
            r_.pieces.pop_back();
            return;
        }
        --last.out_e;
        if (last.copied) --last.src_e;
    }

    void line_break() {
        while (!r_.text.empty() && r_.text.back() == ' ') pop();
        if (!r_.text.empty() && r_.text.back() != '\n') r_.text.push_back('\n');
    }

    std::string_view html_;
    html::Tokenizer tok_;
    std::size_t base_ = 0;  // where html_ starts in the part
    bool nested_ = false;
    Rendering r_;
    char name_[16];
    int pre_depth_ = 0;
    int skip_depth_ = 0;
    html::Tag skip_tag_ = html::Tag::other;
    std::size_t raw_b_ = std::string_view::npos;
    bool raw_verbatim_ = false;
};

}  // namespace

Rendering render_mapped(std::string_view html) {
    return MappedRenderer(html, 0, false).run();
}

// The HTML bytes that show rendered [b, e), one range per text node.
std::vector<Range> source_ranges(const Rendering& r, std::size_t b, std::size_t e) {
    std::vector<Range> out;
    std::size_t node = std::string::npos;
    auto it = std::upper_bound(r.pieces.begin(), r.pieces.end(), b,
                               [](std::size_t v, const Piece& p) { return v < p.out_e; });
    for (; it != r.pieces.end() && it->out_b < e; ++it) {
        const Piece& p = *it;
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

}  // namespace privacy

namespace {

using privacy::Range;

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
            default:
                out.push_back(c);
        }
    }
    return out;
}

bool shows_something(std::string_view text, const RedactPolicy& policy, const std::string& domain) {
    return !find_redactions(normalize_text(text, Normalize::characters).text, policy, domain)
                .empty();
}

struct Edit {
    Range at;
    bool marker;
};

// Redactions in the text nodes; `unmapped` is set when a match has no
// source bytes to replace.
std::string redact_text_nodes(std::string_view html, const RedactPolicy& policy,
                              const std::string& domain, RedactResult& out, bool& unmapped) {
    const privacy::Rendering r = privacy::render_mapped(html);
    const NormalizedText n = normalize_text(r.text, Normalize::characters);
    std::vector<Edit> edits;
    for (const RedactSpan& s : find_redactions(n.text, policy, domain)) {
        auto [rb, re] = n.source_span(s.begin, s.end);
        std::vector<Range> ranges = privacy::source_ranges(r, rb, re);
        if (ranges.empty()) {
            unmapped = true;
            continue;
        }
        for (std::size_t k = 0; k < ranges.size(); ++k) edits.push_back({ranges[k], k == 0});
        out.redactions.push_back({s.kind, n.text.substr(s.begin, s.end - s.begin)});
    }
    if (edits.empty()) return std::string(html);
    std::sort(edits.begin(), edits.end(),
              [](const Edit& a, const Edit& b) { return a.at.b < b.at.b; });
    const std::string marker = html_escape(policy.marker);
    std::string result;
    result.reserve(html.size());
    std::size_t at = 0;
    for (const Edit& e : edits) {
        const std::size_t b = std::max(e.at.b, at);
        result.append(html.substr(at, b - at));
        if (e.marker) result += marker;
        at = std::max(at, e.at.e);
    }
    result.append(html.substr(at));
    return result;
}

}  // namespace

RedactResult redact_html(std::string_view html, const RedactPolicy& policy,
                         const std::string& marketplace_domain, const std::string* rendered) {
    RedactResult out;
    bool unmapped = false;
    std::string edited =
        rendered != nullptr && !shows_something(*rendered, policy, marketplace_domain)
            ? std::string(html)
            : redact_text_nodes(html, policy, marketplace_domain, out, unmapped);
    // Attribute values (mailto:, title), comments and hidden text, read as
    // they are in the source.
    RedactResult raw = redact_text(edited, policy, marketplace_domain);
    out.redactions.insert(out.redactions.end(), raw.redactions.begin(), raw.redactions.end());
    if (out.redactions.empty() && !unmapped) {
        out.text = std::string(html);
        return out;
    }
    if (!unmapped && !shows_something(html_to_text(raw.text), policy, marketplace_domain)) {
        out.text = std::move(raw.text);
        return out;
    }
    // The markup goes, the words stay, redacted.
    RedactResult plain = redact_text(html_to_text(html), policy, marketplace_domain);
    out.redactions = std::move(plain.redactions);
    out.text = "<html><body><pre>" + html_escape(plain.text) + "</pre></body></html>";
    return out;
}

}  // namespace mm::policy
