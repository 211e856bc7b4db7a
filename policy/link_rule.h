// LinkRule: URLs whose registrable domain is not allow-listed are cut out of
// text/plain (replaced by a marker) and out of HTML (the attribute or element
// cut from the original source, the rest byte-for-byte as it was).
//
// Pure: strings in, strings out; no GMime, no libmilter.  Thread-safe (the
// compiled patterns are immutable; libpsl's built-in list is read-only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/yaml_schema.h"

namespace mm::policy {

struct LinkPolicy {
    // Registrable domains (and their subdomains) whose links may stay; the
    // marketplace's own domain is always allowed.
    std::vector<std::string> allow_domains = {
        "ups.com", "fedex.com", "usps.com", "dhl.com", "dhl.de", "royalmail.com",
        "canadapost-postescanada.ca", "laposte.fr", "poste.it", "correos.es", "hermesworld.com",
        "dpd.com", "gls-group.eu", "ontrac.com", "amazon.com", "17track.net",
    };
    enum class Action { strip, reject } action = Action::strip;
    std::string text_marker = "[link removed]";
    bool remove_remote_images = true;  // tracking pixels
    bool unwrap_linked_images = true;  // a logo wrapped in a link loses the link
};

struct RemovedLink {
    std::string url;     // as found (entities decoded for HTML)
    std::string domain;  // registrable domain, or "" if none could be found
    std::string reason;  // "domain not allowed", "remote image", "mailto non-alias", "lookalike"
};

struct LinkScan {
    std::string text;  // the rewritten text; equal to the input when nothing was removed
    std::vector<RemovedLink> removed;
    bool changed() const { return !removed.empty(); }
};

// `marketplace_domain`: allowed, and the domain whose aliases mailto: may name.
LinkScan scan_text_links(std::string_view text, const LinkPolicy& policy,
                         const std::string& marketplace_domain);
LinkScan scan_html_links(std::string_view html, const LinkPolicy& policy,
                         const std::string& marketplace_domain);

// policy.yaml `links:` section.
void load_links_section(const yaml::Entry& e, LinkPolicy& out);

}  // namespace mm::policy
