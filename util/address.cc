#include "util/address.h"

#include <algorithm>
#include <cctype>

#include "util/strings.h"

namespace mm {

std::string normalize_address(std::string_view raw) {
    auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!raw.empty() && is_space(raw.front())) raw.remove_prefix(1);
    while (!raw.empty() && is_space(raw.back())) raw.remove_suffix(1);
    if (raw.size() >= 2 && raw.front() == '<' && raw.back() == '>') {
        raw.remove_prefix(1);
        raw.remove_suffix(1);
    }
    return to_lower(raw);
}

static bool valid_label(std::string_view label) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    return std::all_of(label.begin(), label.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '-'; });
}

bool is_valid_address(std::string_view addr) {
    if (addr.size() > 254) return false;
    auto at = addr.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == addr.size()) return false;
    std::string_view local = addr.substr(0, at);
    std::string_view domain = addr.substr(at + 1);
    if (local.size() > 64) return false;
    for (unsigned char c : local) {
        if (c <= 0x20 || c >= 0x7f) return false;
        if (std::string_view("\"(),:;<>@[\\]").find(static_cast<char>(c)) != std::string_view::npos)
            return false;
    }
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
        return false;
    size_t start = 0;
    int labels = 0;
    while (true) {
        auto dot = domain.find('.', start);
        auto label = domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (!valid_label(label)) return false;
        ++labels;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return labels >= 1;
}

std::string_view local_part(std::string_view addr) {
    auto at = addr.rfind('@');
    return at == std::string_view::npos ? addr : addr.substr(0, at);
}

std::string_view domain_part(std::string_view addr) {
    auto at = addr.rfind('@');
    return at == std::string_view::npos ? std::string_view{} : addr.substr(at + 1);
}

}  // namespace mm
