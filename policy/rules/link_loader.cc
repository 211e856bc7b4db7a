// policy.yaml `links:` (declared in link_rule.h): the allow-list compiled to
// what judge() compares with, the action, the marker, the image switches and
// the bounds on the HTML the cut reads.
#include <libpsl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/rules/link_rule.h"
#include "policy/rules/link_url.h"
#include "policy/rules/public_suffixes.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

using yaml::Entry;
using yaml::error_at;

// An allow-list entry: a bare registrable domain, stored as a lower-case
// A-label so it compares with what judge() computes.
std::string validate_domain(const YAML::Node& item, const std::string& where) {
    const std::string& raw = item.Scalar();
    auto bad = [&](const std::string& why) {
        error_at(item.Mark(), where + ": '" + raw + "' is not a domain" + why);
    };
    if (raw.empty() || raw.find_first_of(":/?#@ \t[]\\") != std::string::npos) bad("");
    std::string host = to_lower(raw);
    while (!host.empty() && host.back() == '.') host.pop_back();
    if (host.empty() || host.front() == '.' || host.find("..") != std::string::npos) bad("");
    auto a_label = link::to_a_label(host);
    if (!a_label) bad(" (IDNA refuses it)");
    host = *a_label;
    if (link::ends_in_number(host)) bad(" (an IP address)");
    if (host.find('.') == std::string::npos ||
        psl_is_public_suffix(public_suffixes(), host.c_str()))
        bad(" (a public suffix, which would allow every site under it)");
    return host;
}

void load_allow_domains(const Entry& e, LinkPolicy& p) {
    yaml::expect_list(e);
    std::vector<std::string> domains;
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(),
                     e.name + ": expected a domain, got " + std::string(yaml::type_name(item)));
        std::string d = validate_domain(item, e.name);
        if (std::find(domains.begin(), domains.end(), d) == domains.end())
            domains.push_back(std::move(d));
    }
    p.allow_domains = std::move(domains);
}

void load_action(const Entry& e, LinkPolicy& p) {
    std::string a = yaml::get_string(e);
    if (a == "strip")
        p.action = LinkPolicy::Action::strip;
    else if (a == "reject")
        p.action = LinkPolicy::Action::reject;
    else
        error_at(e.value.Mark(),
                 e.name + ": unknown action '" + a + "' (expected strip or reject)");
}

void load_text_marker(const Entry& e, LinkPolicy& p) {
    std::string m = yaml::get_string(e);
    if (m.size() > 200 || m.find_first_of("\r\n") != std::string::npos)
        error_at(e.value.Mark(), e.name + ": must be one line of at most 200 characters");
    p.text_marker = std::move(m);
}

// Bounds on the HTML the cut reads: a part past them is refused as
// malformed (or replaced by the marker under malformed: strip), so a bound
// set too low costs real mail; the floors keep it above any real message.
void load_max_html_nesting(const Entry& e, LinkPolicy& p) {
    p.max_html_nesting = static_cast<std::size_t>(yaml::get_int(e, 100, 100000));
}

void load_max_html_tokens(const Entry& e, LinkPolicy& p) {
    p.max_html_tokens = static_cast<std::size_t>(yaml::get_int(e, 10000, 100000000));
}

constexpr yaml::Key<LinkPolicy> kLinksKeys[] = {
    {"allow_domains",
     false,
     load_allow_domains,
     {"list of registrable domains", "major parcel carriers' tracking sites",
      "Links to these domains and their subdomains stay; the marketplace domain always does. IP "
      "addresses and mixed-script lookalike hosts never do. A list given replaces the built-in "
      "one."}},
    {"action",
     false,
     load_action,
     {"strip | reject", "strip",
      "A link not allowed: strip removes it (in text it becomes text_marker, in HTML the attribute "
      "is cut and the rest kept byte for byte); reject refuses the message with 550 5.7.1."}},
    {"text_marker",
     false,
     load_text_marker,
     {"string", "\"[link removed]\"", "What a removed link in text is replaced by."}},
    {"remove_remote_images",
     false,
     yaml::load_flag<LinkPolicy, &LinkPolicy::remove_remote_images>,
     {"true | false", "true", "Remove images loaded from the network (tracking pixels)."}},
    {"unwrap_linked_images",
     false,
     yaml::load_flag<LinkPolicy, &LinkPolicy::unwrap_linked_images>,
     {"true | false", "true", "An image wrapped in a link (a logo) loses the link."}},
    {"max_html_nesting",
     false,
     load_max_html_nesting,
     {"integer (100-100000)", "1000",
      "An HTML part that needs cutting and nests deeper is treated as malformed "
      "(malformed.action)."}},
    {"max_html_tokens",
     false,
     load_max_html_tokens,
     {"integer (10000-100000000)", "1000000",
      "An HTML part that needs cutting and holds more tokens (tags, attributes, text runs, "
      "comments) is treated as malformed."}},
};

}  // namespace

std::vector<yaml::KeyInfo> links_section_schema() {
    return yaml::describe<LinkPolicy>(kLinksKeys);
}

void load_links_section(const yaml::Entry& e, LinkPolicy& out) {
    yaml::load_section<LinkPolicy>(e, kLinksKeys, out);
}

}  // namespace mm::policy
