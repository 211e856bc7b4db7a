#include "policy/mime/mime_parts.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"
#include "util/strings.h"

namespace mm::policy {

std::string printable(std::string_view s, std::size_t max) {
    std::string out;
    for (char c : s) {
        if (out.size() >= max) break;
        out.push_back((c == '\r' || c == '\n' || c == '\t' || c == '\0') ? ' ' : c);
    }
    return out;
}

bool is_report_part(const std::string& type) {
    return type == "message/delivery-status" || type == "message/global-delivery-status" ||
           type == "text/rfc822-headers" || type == "message/global-headers" ||
           type == "message/global";
}

bool renders_as_text(const MimeLeaf& leaf) {
    auto* obj = GMIME_OBJECT(leaf.part);
    if (!GMIME_IS_TEXT_PART(obj)) return false;
    std::string type = lower_mime_type(obj);
    return type == "text/plain" || type == "text/html";
}

bool is_html(const MimeLeaf& leaf) {
    return lower_mime_type(GMIME_OBJECT(leaf.part)) == "text/html";
}

bool is_body_text(const MimeLeaf& leaf) {
    if (!renders_as_text(leaf)) return false;
    GMimeContentDisposition* d = g_mime_object_get_content_disposition(GMIME_OBJECT(leaf.part));
    if (d != nullptr && g_mime_content_disposition_is_attachment(d)) return false;
    return part_names(leaf.part).empty();
}

std::vector<std::string> part_names(GMimePart* part) {
    std::vector<std::string> names;
    for (const char* n :
         {g_mime_object_get_content_disposition_parameter(GMIME_OBJECT(part), "filename"),
          g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "name")})
        if (n != nullptr && *n != '\0' &&
            std::none_of(names.begin(), names.end(), [&](const auto& x) { return x == n; }))
            names.emplace_back(n);
    return names;
}

namespace {

// g_utf8_validate, with its cost on the ASCII that most text is: whole
// words of bytes in 1..127 (what it accepts as they are; NUL it refuses)
// are skipped before it reads the rest.
bool valid_utf8(std::string_view s) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    std::size_t at = 0;
    for (; at + sizeof(std::uint64_t) <= s.size(); at += sizeof(std::uint64_t)) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + at, sizeof w);
        if (((w | ((w - kOnes) & ~w)) & kHigh) != 0) break;
    }
    return g_utf8_validate(s.data() + at, static_cast<gssize>(s.size() - at), nullptr);
}

}  // namespace

// Bytes that are already that text (no charset, UTF-8 or US-ASCII, valid)
// are taken as they are: get_text would copy them through an iconv
// UTF-8 -> UTF-8 filter, a large share of an HTML message's cost.
std::optional<std::string> part_text(GMimePart* part, std::string bytes) {
    const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    const bool utf8 = charset != nullptr && (iequals(charset, "utf-8") || iequals(charset, "utf8"));
    if (!GMIME_IS_TEXT_PART(GMIME_OBJECT(part))) {
        // An attachment whose bytes are text: shown as UTF-8 by clients
        // that guess, so judged as that.
        if (valid_utf8(bytes)) return bytes;
        GCharPtr valid(g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size())));
        return std::string(valid.get());
    }
    if (charset == nullptr) return bytes;
    if (utf8 && valid_utf8(bytes)) return bytes;
    if (iequals(charset, "us-ascii") && is_ascii(bytes)) return bytes;
    GCharPtr raw(g_mime_text_part_get_text(GMIME_TEXT_PART(part)));
    if (!raw) return std::nullopt;
    return std::string(raw.get());
}

std::string padding_finding(const MimeLeaf& leaf) {
    return "part " + leaf.path + ": base64 data after the padding ('=')";
}

}  // namespace mm::policy
