#include "policy/rewrite/from_header.h"

#include <string_view>

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

namespace {

bool ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Words of ASCII letters, digits, '-' and '_' one space apart: atoms that
// GMime writes as they are, with nothing to quote or encode.  Long words are
// left to GMime, which may split them.
bool plain_name(std::string_view name) {
    std::size_t word = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (c == ' ') {
            if (word == 0 || i + 1 == name.size()) return false;
            word = 0;
        } else if (ascii_alnum(c) || c == '-' || c == '_') {
            if (++word > 40) return false;
        } else {
            return false;
        }
    }
    return word != 0;
}

// A dot-atom of letters, digits, '-', '_' and '+', then one '@' and a domain
// of lower-case LDH labels none of which is an A-label: GMime's IDNA
// conversion gives such an address back unchanged.
bool plain_address(std::string_view address) {
    const std::size_t at = address.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= address.size()) return false;
    const std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
    std::size_t run = 0;
    for (char c : local) {
        if (c == '.') {
            if (run == 0) return false;
            run = 0;
        } else if (ascii_alnum(c) || c == '-' || c == '_' || c == '+') {
            ++run;
        } else {
            return false;
        }
    }
    if (run == 0) return false;
    run = 0;
    for (std::size_t i = 0; i < domain.size(); ++i) {
        const char c = domain[i];
        if (c == '.') {
            if (run == 0) return false;
            run = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            if (run == 0 && domain.substr(i).starts_with("xn--")) return false;
            if (++run > 63) return false;
        } else {
            return false;
        }
    }
    return run != 0;
}

}  // namespace

std::string make_from_header(const std::string& display_name, const std::string& address) {
    std::string name = sanitize_display_name(display_name);
    if (name.empty()) return "<" + address + ">";
    // What GMime would write for them, without its IDNA look-up of the
    // alias's domain and its phrase encoder: the common case of a seller's
    // shop name and our own alias.
    if (plain_name(name) && plain_address(address)) return name + " <" + address + ">";
    ensure_gmime();
    GPtr<InternetAddress> mailbox(internet_address_mailbox_new(name.c_str(), address.c_str()));
    // encode=TRUE: RFC 2047 for non-ASCII, quoting for specials.
    GCharPtr text(internet_address_to_string(mailbox.get(), nullptr, TRUE));
    return text ? std::string(text.get()) : "<" + address + ">";
}

}  // namespace mm::policy
