#include "policy/mime/parser_warnings.h"

#include <string>
#include <string_view>
#include <vector>

#include "policy/mime/mime_parts.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

// Benign issues (duplicated headers, raw 8-bit or bad RFC 2047 in headers)
// are tolerated: they do not change the MIME tree.
const char* critical_issue(GMimeParserWarning code) {
    switch (code) {
        case GMIME_CRIT_INVALID_HEADER_NAME:
            return "invalid header name";
        case GMIME_CRIT_CONFLICTING_HEADER:
            return "conflicting MIME headers";
        case GMIME_CRIT_CONFLICTING_PARAMETER:
            return "conflicting MIME parameters";
        case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
            return "multipart without boundary";
        case GMIME_CRIT_NESTING_OVERFLOW:
            return "MIME nesting too deep";
        case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
            return "part without headers or content";
        case GMIME_WARN_MALFORMED_MULTIPART:
            return "multipart with no parts (boundary not found)";
        case GMIME_WARN_TRUNCATED_MESSAGE:
            return "truncated message";
        case GMIME_WARN_MALFORMED_MESSAGE:
            return "malformed message";
        default:
            return nullptr;
    }
}

}  // namespace

void on_parser_warning(gint64 offset, GMimeParserWarning code, const gchar* item, gpointer user) {
    const char* what = critical_issue(code);
    if (what == nullptr) return;
    // Two different Content-Type (or -Transfer-Encoding) headers let a
    // client and this filter see different structures; two From or Reply-To
    // headers do not change the MIME tree (and are rewritten or removed).
    if (code == GMIME_CRIT_CONFLICTING_HEADER &&
        (item == nullptr || !iequals(std::string_view(item).substr(0, 8), "content-")))
        return;
    auto* issues = static_cast<std::vector<std::string>*>(user);
    if (issues->size() < 16)
        issues->push_back(std::string(what) + (item ? std::string(" ") + printable(item, 60) : "") +
                          " (byte " + std::to_string(offset) + ")");
}

}  // namespace mm::policy
