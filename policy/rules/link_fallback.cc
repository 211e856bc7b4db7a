#include "policy/rules/link_fallback.h"

#include <string>

#include "policy/html/gumbo_ptr.h"
#include "policy/rules/link_prescan.h"
#include "policy/rules/link_text.h"

namespace mm::policy::link {
namespace {

bool is_block(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_P:
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_BR:
        case GUMBO_TAG_TR:
        case GUMBO_TAG_LI:
        case GUMBO_TAG_H1:
        case GUMBO_TAG_H2:
        case GUMBO_TAG_H3:
        case GUMBO_TAG_H4:
        case GUMBO_TAG_H5:
        case GUMBO_TAG_H6:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_HR:
            return true;
        default:
            return false;
    }
}

void render_text(const Context& cx, const GumboNode* node, std::string& out) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE ||
        node->type == GUMBO_NODE_CDATA) {
        out += node->v.text.text;
        return;
    }
    if (node->type == GUMBO_NODE_DOCUMENT) {
        for (unsigned i = 0; i < node->v.document.children.length; ++i)
            render_text(cx, static_cast<const GumboNode*>(node->v.document.children.data[i]), out);
        return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE) return;
    const GumboElement& el = node->v.element;
    if (el.tag == GUMBO_TAG_SCRIPT || el.tag == GUMBO_TAG_STYLE || el.tag == GUMBO_TAG_HEAD ||
        el.tag == GUMBO_TAG_TEMPLATE)
        return;
    for (unsigned i = 0; i < el.children.length; ++i)
        render_text(cx, static_cast<const GumboNode*>(el.children.data[i]), out);
    // A link that may stay is kept visible, as text.
    if (el.tag == GUMBO_TAG_A) {
        const GumboAttribute* href = gumbo_get_attribute(&el.attributes, "href");
        if (href && judge(cx, href->value, Use::link).keep &&
            normalize_url(href->value).find(':') != std::string::npos)
            out += " <" + normalize_url(href->value) + ">";
    }
    if (is_block(el.tag) && !out.ends_with('\n')) out += '\n';
}

}  // namespace

void fall_back_to_text(const Context& cx, const Violation& left, LinkScan& out,
                       std::size_t input_size) {
    std::string plain;
    {
        html::GumboPtr tree = html::gumbo_parse_view(out.text);
        render_text(cx, tree->document, plain);
    }
    LinkScan s = scan_text(cx, plain, cx.policy.text_marker);
    std::string html = "<html><body><pre>" + html_escape(s.text) + "</pre></body></html>";
    if (first_violation(cx, html))
        html = "<html><body><p>" + html_escape(cx.policy.text_marker) + "</p></body></html>";
    out.absorb(s);
    out.note({left.url, left.j.domain, left.j.reason + "; safety net: replaced by text rendering"});
    out.text = std::move(html);
    out.bytes_cut = input_size;
    out.bytes_inserted = out.text.size();
}

}  // namespace mm::policy::link
