#include "policy/rules/link_fallback.h"

#include <string>

#include "policy/html/html_text.h"
#include "policy/rules/link_attr.h"
#include "policy/rules/link_prescan.h"
#include "policy/rules/link_text.h"

namespace mm::policy::link {
namespace {

std::string marker_page(const Context& cx) {
    return "<html><body><p>" + html_escape(cx.policy.text_marker) + "</p></body></html>";
}

}  // namespace

// The rendering is html_to_text's (one linear pass of the tokenizer, no
// tree): a parse into a tree and a walk over it cost memory and stack in
// proportion to how deep the markup nests, which the sender chooses.
void fall_back_to_text(const Context& cx, const Violation& left, LinkScan& out,
                       std::size_t input_size) {
    // A link that may stay is kept visible, as text.
    const LinkNote note = [&cx](std::string_view raw_href) -> std::string {
        const std::string href = normalize_url(decode_attr(raw_href));
        if (href.find(':') == std::string::npos || !judge(cx, href, Use::link).keep) return {};
        return " <" + href + ">";
    };
    const std::string plain = html_to_text(out.text, note);
    LinkScan s = scan_text(cx, plain, cx.policy.text_marker);
    std::string html = "<html><body><pre>" + html_escape(s.text) + "</pre></body></html>";
    if (first_violation(cx, html)) html = marker_page(cx);
    out.absorb(s);
    out.note({left.url, left.j.domain, left.j.reason + "; safety net: replaced by text rendering"});
    out.text = std::move(html);
    out.bytes_cut = input_size;
    out.bytes_inserted = out.text.size();
}

void replace_by_marker(const Context& cx, LinkScan& out, std::size_t input_size) {
    out.text = marker_page(cx);
    out.bytes_cut = input_size;
    out.bytes_inserted = out.text.size();
}

}  // namespace mm::policy::link
