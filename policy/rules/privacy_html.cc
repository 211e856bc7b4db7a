// redact_html (privacy_rule.h) on the mapped rendering
// (html_to_mapped_text): a match in what the reader sees is replaced in the
// HTML however the sender spread it over tags and character references.
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/html/html_text.h"
#include "policy/rules/privacy_rule.h"
#include "policy/rules/text_normalize.h"

namespace mm::policy {
namespace {

bool shows_something(std::string_view text, const RedactPolicy& policy, const std::string& domain) {
    return !find_redactions(normalize_text(text, Normalize::characters).text, policy, domain)
                .empty();
}

struct Edit {
    SourceRange at;
    bool marker;
};

// Redactions in the text nodes; `unmapped` is set when a match has no
// source bytes to replace.
std::string redact_text_nodes(std::string_view html, const RedactPolicy& policy,
                              const std::string& domain, RedactResult& out, bool& unmapped) {
    const MappedText r = html_to_mapped_text(html);
    const NormalizedText n = normalize_text(r.text, Normalize::characters);
    std::vector<Edit> edits;
    for (const RedactSpan& s : find_redactions(n.text, policy, domain)) {
        auto [rb, re] = n.source_span(s.begin, s.end);
        std::vector<SourceRange> ranges = source_ranges(r, rb, re);
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
    // Most parts show nothing to redact: the plain rendering (cheaper than
    // the mapped one, and the same text) says so, and only a part that does
    // show something is rendered again with its source map.
    const bool nothing_shown = !shows_something(
        rendered != nullptr ? *rendered : html_to_text(html), policy, marketplace_domain);
    std::string edited = nothing_shown
                             ? std::string(html)
                             : redact_text_nodes(html, policy, marketplace_domain, out, unmapped);
    // Attribute values (mailto:, title), comments and hidden text, read as
    // they are in the source.
    RedactResult raw = redact_text(edited, policy, marketplace_domain, RedactSource::markup);
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
