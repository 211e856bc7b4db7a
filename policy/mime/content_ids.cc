#include "policy/mime/content_ids.h"

#include "util/hex.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

// Where a cid: URL ends in markup or CSS: a quote, a space, the end of a tag
// or of url(...).
bool ends_url(char c) {
    return c == '"' || c == '\'' || c == '>' || c == '<' || c == ')' || c == ' ' || c == '\t' ||
           c == '\r' || c == '\n' || c == '\f';
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower_char(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// RFC 2392: the URL is the id percent-encoded.
std::string percent_decoded(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

// The part after '@' names a host when it ends in a top-level domain (all
// letters): Gmail's "ii_lq7x1k2m0", Apple's UUIDs and Outlook's
// "image001.png@01DB3D9A.5E6F7A80" name none and keep their bytes.
bool names_a_host(std::string_view id, std::string_view domain) {
    const std::size_t at = id.rfind('@');
    if (at == std::string_view::npos) return false;
    std::string_view host = id.substr(at + 1);
    while (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (iequals(host, domain)) return false;
    const std::size_t dot = host.rfind('.');
    if (dot == std::string_view::npos || host.size() - dot - 1 < 2) return false;
    for (char c : host.substr(dot + 1))
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    return true;
}

}  // namespace

std::optional<std::string> ContentIdRenamer::add(std::string_view id) {
    if (!names_a_host(id, domain_)) return std::nullopt;
    auto [it, inserted] = ids_.try_emplace(to_lower(id));
    if (inserted) it->second = random_hex(12) + "@" + domain_;
    return it->second;
}

std::optional<std::string> ContentIdRenamer::renamed(std::string_view id) const {
    auto it = ids_.find(to_lower(id));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
}

std::size_t rewrite_cid_urls(std::string& html, const ContentIdRenamer& renamer) {
    if (renamer.empty()) return 0;
    std::string out;
    std::size_t copied = 0, count = 0;
    for (std::size_t i = html.find(':'); i != std::string::npos; i = html.find(':', i + 1)) {
        if (i < 3 || !iequals(std::string_view(html).substr(i - 3, 3), "cid")) continue;
        // "cid:" as a word of its own, not the end of "acid:".
        if (i > 3) {
            const char before = html[i - 4];
            if ((before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z') ||
                (before >= '0' && before <= '9'))
                continue;
        }
        std::size_t end = i + 1;
        while (end < html.size() && !ends_url(html[end])) ++end;
        const auto renamed = renamer.renamed(percent_decoded(html.substr(i + 1, end - i - 1)));
        if (!renamed) continue;
        out.append(html, copied, i + 1 - copied);
        out += *renamed;
        copied = end;
        ++count;
    }
    if (count == 0) return 0;
    out.append(html, copied, std::string::npos);
    html = std::move(out);
    return count;
}

bool rename_content_id(ContentIdRenamer& renamer, GMimeObject* part) {
    const char* id = g_mime_object_get_content_id(part);
    if (id == nullptr) return false;
    const auto renamed = renamer.add(id);
    if (!renamed) return false;
    g_mime_object_set_content_id(part, renamed->c_str());
    return true;
}

bool rename_start_parameter(const ContentIdRenamer& renamer, GMimeObject* multipart) {
    const char* value = g_mime_object_get_content_type_parameter(multipart, "start");
    if (value == nullptr) return false;
    std::string_view start = value;
    if (start.size() >= 2 && start.front() == '<' && start.back() == '>')
        start = start.substr(1, start.size() - 2);
    const auto renamed = renamer.renamed(start);
    if (!renamed) return false;
    g_mime_object_set_content_type_parameter(multipart, "start", ("<" + *renamed + ">").c_str());
    return true;
}

}  // namespace mm::policy
