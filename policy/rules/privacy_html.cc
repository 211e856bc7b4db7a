// redact_html (privacy_rule.h) on the mapped rendering
// (html_to_mapped_text): a match in what the reader sees is replaced in the
// HTML however the sender spread it over tags and character references.
// Both readings are redacted (html_text.h): the full one a client without
// CSS shows, and the visible one, where a number or address may be joined
// across text that CSS hides; such a match takes the hidden text between
// its pieces with it.
#include <algorithm>
#include <cstddef>
#include <optional>
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

// Whether the visible rendering (when CSS hides anything) shows something;
// `given` is that rendering when the caller has made it.
bool shows_visible(std::string_view html, const RedactPolicy& policy, const std::string& domain,
                   const std::optional<std::string>* given = nullptr) {
    std::optional<std::string> own;
    const std::optional<std::string>& visible =
        given != nullptr ? *given : (own = html_to_visible_text(html));
    return visible && shows_something(*visible, policy, domain);
}

struct Edit {
    SourceRange at;
    bool marker;
};

// The hidden text nodes within source [b, e): removed with the match whose
// pieces they lie between.
void take_hidden(const std::vector<SourceRange>& hidden, std::size_t b, std::size_t e,
                 std::vector<Edit>& edits) {
    auto it = std::lower_bound(hidden.begin(), hidden.end(), b,
                               [](const SourceRange& r, std::size_t v) { return r.b < v; });
    for (; it != hidden.end() && it->e <= e; ++it) edits.push_back({*it, false});
}

// Redactions in the text nodes of `reading`; `unmapped` is set when a
// match has no source bytes to replace.
std::string redact_text_nodes(std::string_view html, Rendering reading, const RedactPolicy& policy,
                              const std::string& domain, RedactResult& out, bool& unmapped) {
    const MappedText r = html_to_mapped_text(html, reading);
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
        if (!r.hidden.empty()) take_hidden(r.hidden, ranges.front().b, ranges.back().e, edits);
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
                         const std::string& marketplace_domain, const HtmlReadings& readings) {
    RedactResult out;
    bool unmapped = false;
    // A number or address joined across hidden text is whole only in the
    // visible reading: that one first, so that the full reading does not
    // redact a piece of it and leave the rest.
    std::string edited(html);
    if (shows_visible(html, policy, marketplace_domain, readings.visible))
        edited =
            redact_text_nodes(html, Rendering::visible, policy, marketplace_domain, out, unmapped);
    // Most parts show nothing to redact: the plain rendering (cheaper than
    // the mapped one, and the same text) says so, and only a part that does
    // show something is rendered again with its source map.
    std::string own;
    const std::string* full = out.redactions.empty() && readings.full != nullptr
                                  ? readings.full
                                  : &(own = html_to_text(edited));
    if (shows_something(*full, policy, marketplace_domain))
        edited =
            redact_text_nodes(edited, Rendering::full, policy, marketplace_domain, out, unmapped);
    // Attribute values (mailto:, title), comments and hidden text, read as
    // they are in the source.
    RedactResult raw = redact_text(edited, policy, marketplace_domain, RedactSource::markup);
    out.redactions.insert(out.redactions.end(), raw.redactions.begin(), raw.redactions.end());
    if (out.redactions.empty() && !unmapped) {
        out.text = std::string(html);
        return out;
    }
    if (!unmapped && !shows_something(html_to_text(raw.text), policy, marketplace_domain) &&
        !shows_visible(raw.text, policy, marketplace_domain)) {
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
