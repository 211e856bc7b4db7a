#include "policy/marketplace/marketplace_common.h"

#include <algorithm>

namespace mm::policy::marketplace_detail {
namespace {

constexpr size_t kReplyMaxChars = 480;

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

bool is_id_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.';
}

std::string reply_line(std::string_view text) {
    std::string out;
    out.reserve(std::min(text.size(), kReplyMaxChars));
    for (size_t i = 0; i < text.size() && out.size() < kReplyMaxChars; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        char o;
        if (c < 0x20 || c == 0x7F)
            o = ' ';
        else if (c >= 0x80) {
            // One '?' per character, not per byte.
            if ((c & 0xC0) == 0x80) continue;
            o = '?';
        } else
            o = static_cast<char>(c);
        if (o == ' ' && (out.empty() || out.back() == ' ')) continue;
        out.push_back(o);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

RE2::Options regex_options() {
    RE2::Options o;
    o.set_encoding(RE2::Options::EncodingUTF8);
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);
    return o;
}

const std::shared_ptr<const ContentRules>& no_contact_reasons() {
    static const std::shared_ptr<const ContentRules> rules = ContentRules::compile({}).value();
    return rules;
}

}  // namespace mm::policy::marketplace_detail
