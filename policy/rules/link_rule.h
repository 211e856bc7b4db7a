// LinkRule: URLs whose registrable domain is not allow-listed are cut out of
// text/plain (replaced by a marker) and out of HTML (the attribute or element
// cut from the original source, the rest byte-for-byte as it was).
//
// Pure: strings in, strings out; no GMime, no libmilter.  Thread-safe (the
// compiled patterns are immutable; libpsl's built-in list is read-only).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/yaml_schema.h"

namespace mm::policy {

struct LinkPolicy {
    // Registrable domains (and their subdomains) whose links may stay; the
    // marketplace's own domain is always allowed.
    std::vector<std::string> allow_domains = {
        "ups.com",
        "fedex.com",
        "usps.com",
        "dhl.com",
        "dhl.de",
        "royalmail.com",
        "canadapost-postescanada.ca",
        "laposte.fr",
        "poste.it",
        "correos.es",
        "hermesworld.com",
        "dpd.com",
        "gls-group.eu",
        "ontrac.com",
        "amazon.com",
        "17track.net",
    };
    enum class Action { strip, reject } action = Action::strip;
    std::string text_marker = "[link removed]";
    bool remove_remote_images = true;  // tracking pixels
    bool unwrap_linked_images = true;  // a logo wrapped in a link loses the link
    // Bounds on an HTML part the cut has to read (LinkScan::over_limit): how
    // deep its elements nest (real mail: tens; Blink's parser nests no
    // deeper than 512) and how many tokens (tags, attributes, text runs,
    // comments) it holds.
    std::size_t max_html_nesting = 1000;
    std::size_t max_html_tokens = 1000000;
};

struct RemovedLink {
    std::string url;     // as found (entities decoded for HTML)
    std::string domain;  // registrable domain, or "" if none could be found
    // "domain not allowed", "remote image", "mailto non-alias", "lookalike", "ip literal",
    // "scheme not allowed", "invalid host", "linked image"; the HTML safety net
    // adds "safety net: replaced by text rendering".
    std::string reason;
};

struct LinkScan {
    // The rewritten text; when nothing was removed, a copy of the input, or
    // empty if the scan was asked not to copy (Unchanged::leave_empty).
    std::string text;
    // What was removed: every link counted, the first kMaxRemovedDetails
    // kept in full.  A hostile part can hold hundreds of thousands of links,
    // and keeping each in full would cost several times the part's size.
    static constexpr std::size_t kMaxRemovedDetails = 1000;
    std::vector<RemovedLink> removed;
    std::size_t removed_count = 0;
    void note(RemovedLink link) {
        ++removed_count;
        if (removed.size() < kMaxRemovedDetails) removed.push_back(std::move(link));
    }
    // Adds another scan's removals (its count included) to this one's.
    void absorb(LinkScan& other) {
        for (RemovedLink& r : other.removed) note(std::move(r));
        removed_count += other.removed_count - other.removed.size();
    }
    // HTML only: whether the tokenizer ran.  Most messages are decided by the
    // RE2 pre-scan alone; tests and the audit use this to see which path ran.
    bool tokenized = false;
    // text.size() == input.size() - bytes_cut + bytes_inserted (markers put in
    // place of links in text and in HTML text nodes).
    std::size_t bytes_cut = 0;
    std::size_t bytes_inserted = 0;
    // HTML only: why the part could not be checked (nested deeper or longer
    // than the policy's bounds), or empty.  The part must not be delivered
    // as it was: `text` is then a placeholder holding only the marker, and
    // the caller reports the part as malformed.
    std::string over_limit;
    bool changed() const { return removed_count != 0 || !over_limit.empty(); }
};

// What LinkScan::text holds when nothing was removed.  The MIME walk keeps
// the part as it was then and asks for no copy: a large HTML part was copied
// whole only to be thrown away.
enum class Unchanged { copy, leave_empty };

// `marketplace_domain`: allowed, and the domain whose aliases mailto: may name.
LinkScan scan_text_links(std::string_view text, const LinkPolicy& policy,
                         const std::string& marketplace_domain,
                         Unchanged unchanged = Unchanged::copy);
LinkScan scan_html_links(std::string_view html, const LinkPolicy& policy,
                         const std::string& marketplace_domain,
                         Unchanged unchanged = Unchanged::copy);

// policy.yaml `links:` section.
void load_links_section(const yaml::Entry& e, LinkPolicy& out);
// Its keys, documented (yaml_schema.h).
std::vector<yaml::KeyInfo> links_section_schema();

}  // namespace mm::policy
