#include "policy/rewrite/from_header.h"

#include "policy/mime/gmime_ptr.h"

namespace mm::policy {

std::string sanitize_display_name(const std::string& name) {
    // Characters that could end the phrase, start a new address or a new
    // header line are dropped rather than escaped: a display name is cosmetic
    // and must never be able to smuggle an address into From:.
    std::string out;
    bool space = false;
    for (unsigned char c : name) {
        if (c == '"' || c == '<' || c == '>' || c == '\\' || c == '\0' || c == '@' || c == ',' ||
            c == ';' || c == ':')
            continue;
        if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (c < 0x20 || c == 0x7f) continue;
        if (space) out.push_back(' ');
        space = false;
        out.push_back(static_cast<char>(c));
    }
    if (out.size() > 128) out.resize(128);
    // Do not leave a truncated UTF-8 sequence behind.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
    return out;
}

std::string make_from_header(const std::string& display_name, const std::string& address) {
    ensure_gmime();
    std::string name = sanitize_display_name(display_name);
    if (name.empty()) return "<" + address + ">";
    GPtr<InternetAddress> mailbox(internet_address_mailbox_new(name.c_str(), address.c_str()));
    // encode=TRUE: RFC 2047 for non-ASCII, quoting for specials.
    GCharPtr text(internet_address_to_string(mailbox.get(), nullptr, TRUE));
    return text ? std::string(text.get()) : "<" + address + ">";
}

}  // namespace mm::policy
