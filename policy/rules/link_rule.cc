// LinkRule's entry points.  Text is one pass (link_text).  HTML is three,
// cheapest first:
//
//  1. the pre-scan (link_prescan): RE2 over the raw bytes for URL
//     candidates; when every one may stay and nothing else needs surgery,
//     the input is returned as it is and no tokenizer runs (most messages);
//  2. otherwise the cut (link_html_cutter): the HTML5 tokenizer subset reads
//     the bytes as a browser's tokenizer does and gives each tag, attribute,
//     text run and comment as an exact byte span, so cuts remove source text
//     and nothing is re-serialised;
//  3. the safety net: the pre-scan runs again on the result, and if a URL
//     that may not stay is still there (the tokenizer saw the markup
//     differently from some client) the part becomes a text rendering
//     (link_fallback).
//
// A part the cut would read past the policy's bounds (nesting, tokens) is
// not cut: it becomes the marker alone and LinkScan::over_limit says why.
// Every pass is linear in the part and none recurses on its nesting.
//
// Every pass asks one function about a URL (link_url's judge), so the passes
// cannot disagree.  ARCHITECTURE.md ("HTML links") has the measurements.
#include "policy/rules/link_rule.h"

#include "policy/rules/link_fallback.h"
#include "policy/rules/link_html_cutter.h"
#include "policy/rules/link_prescan.h"
#include "policy/rules/link_text.h"
#include "policy/rules/link_url.h"

namespace mm::policy {

LinkScan scan_text_links(std::string_view text, const LinkPolicy& policy,
                         const std::string& marketplace_domain, Unchanged unchanged) {
    link::Context cx = link::make_context(policy, marketplace_domain);
    return link::scan_text(cx, text, policy.text_marker, unchanged);
}

LinkScan scan_html_links(std::string_view html, const LinkPolicy& policy,
                         const std::string& marketplace_domain, Unchanged unchanged) {
    link::Context cx = link::make_context(policy, marketplace_domain);
    LinkScan out;
    if (!link::needs_tokenizer(cx, html)) {
        if (unchanged == Unchanged::copy) out.text = std::string(html);
        return out;
    }
    out.tokenized = true;
    out.text = link::cut_html_links(cx, html, out);
    if (!out.over_limit.empty()) {
        link::replace_by_marker(cx, out, html.size());
        return out;
    }
    if (auto left = link::first_violation(cx, out.text))
        link::fall_back_to_text(cx, *left, out, html.size());
    return out;
}

}  // namespace mm::policy
