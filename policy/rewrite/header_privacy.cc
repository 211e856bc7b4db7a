#include "policy/rewrite/header_privacy.h"

#include <algorithm>

#include "policy/mime/gmime_ptr.h"
#include "policy/rewrite/from_header.h"
#include "util/address.h"

namespace mm::policy {
namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool any_matches(const std::vector<std::string>& patterns, std::string_view name) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return header_pattern_matches(p, name); });
}

// Removals of every occurrence of `name`, highest first.
void remove_all(const Message& message, const std::string& name, std::vector<HeaderEdit>& out,
                int keep_first = 0) {
    for (int i = message.count(name); i > keep_first; --i)
        out.push_back({HeaderEdit::Op::remove, name, i, {}});
}

// Header values as received may be folded; GMime's address parser wants one
// logical line.
std::string unfold(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value)
        if (c != '\r' && c != '\n') out.push_back(c);
    return out;
}

struct Kept {
    std::string addr;  // as written
    std::string name;  // the name to write (directory's, or none)
};

struct Field {
    int occurrences = 0;
    bool changed = false;
    std::vector<Kept> kept;
};

class Filter {
public:
    Filter(const std::string& domain, const AliasMailbox& addressed, const AliasMailbox& other)
        : domain_(domain), addressed_(addressed), other_(other) {}

    // Parses every occurrence of `name` and keeps this pair's aliases.
    Field read(const Message& message, const char* name, RecipientEdits& stats) {
        Field f;
        for (const auto& h : message.headers) {
            if (!iequals(h.name, name)) continue;
            ++f.occurrences;
            std::string text = unfold(h.value);
            GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, text.c_str()));
            int mailboxes = 0;
            if (list) walk(list.get(), f, stats, mailboxes);
            // Text the parser did not turn into a mailbox (an address it
            // skipped, a stray "@"): the field is rewritten from what parsed.
            auto ats = static_cast<int>(std::count(text.begin(), text.end(), '@'));
            bool blank = text.find_first_not_of(" \t") == std::string::npos;
            if (ats > mailboxes || (!list && !blank)) f.changed = true;
        }
        if (f.occurrences > 1) f.changed = true;
        return f;
    }

    const AliasMailbox* alias_for(const std::string& addr) const {
        if (iequals(addr, addressed_.address)) return &addressed_;
        if (iequals(addr, other_.address)) return &other_;
        return nullptr;
    }

private:
    void walk(InternetAddressList* list, Field& f, RecipientEdits& stats, int& mailboxes) {
        int n = internet_address_list_length(list);
        for (int i = 0; i < n; ++i) {
            InternetAddress* a = internet_address_list_get_address(list, i);
            if (INTERNET_ADDRESS_IS_GROUP(a)) {
                f.changed = true;  // flattened: the group's name is the sender's text
                walk(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), f, stats,
                     mailboxes);
                continue;
            }
            if (!INTERNET_ADDRESS_IS_MAILBOX(a)) {
                f.changed = true;
                continue;
            }
            ++mailboxes;
            const char* raw_addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            std::string addr = raw_addr ? raw_addr : "";
            const AliasMailbox* alias = alias_for(addr);
            if (alias == nullptr) {
                f.changed = true;
                ++stats.removed_addresses;
                if (iequals(domain_part(addr), domain_)) ++stats.removed_other_aliases;
                continue;
            }
            bool duplicate = std::any_of(f.kept.begin(), f.kept.end(),
                                         [&](const Kept& k) { return iequals(k.addr, addr); });
            if (duplicate) {
                f.changed = true;
                continue;
            }
            const char* raw_name = internet_address_get_name(a);
            std::string name = raw_name ? raw_name : "";
            std::string directory = sanitize_display_name(alias->display_name);
            if (!name.empty() && name != directory) {
                ++stats.renamed;
                f.changed = true;
                name = directory;
            }
            f.kept.push_back({addr, name});
        }
    }

    const std::string& domain_;
    const AliasMailbox& addressed_;
    const AliasMailbox& other_;
};

std::string encode(const std::vector<Kept>& kept) {
    GPtr<InternetAddressList> list(internet_address_list_new());
    for (const auto& k : kept) {
        GPtr<InternetAddress> mailbox(internet_address_mailbox_new(
            k.name.empty() ? nullptr : k.name.c_str(), k.addr.c_str()));
        internet_address_list_add(list.get(), mailbox.get());  // takes its own reference
    }
    // encode=TRUE: RFC 2047 for non-ASCII names, quoting for specials.
    GCharPtr text(internet_address_list_to_string(list.get(), nullptr, TRUE));
    return text ? std::string(text.get()) : std::string();
}

// The edits that make the `name` fields of `message` hold exactly `f.kept`.
void write_field(const Message& message, const char* name, const Field& f,
                 std::vector<HeaderEdit>& out) {
    if (f.kept.empty()) {
        remove_all(message, name, out);
        return;
    }
    if (f.occurrences == 0) {
        out.push_back({HeaderEdit::Op::add, name, 1, encode(f.kept)});
        return;
    }
    if (!f.changed) return;
    remove_all(message, name, out, 1);
    out.push_back({HeaderEdit::Op::change, name, 1, encode(f.kept)});
}

}  // namespace

const char* to_string(HeaderPolicy::Mode mode) {
    return mode == HeaderPolicy::Mode::block ? "block" : "allow";
}

bool header_pattern_matches(std::string_view pattern, std::string_view name) {
    if (!pattern.empty() && pattern.back() == '*')
        return starts_with_ci(name, pattern.substr(0, pattern.size() - 1));
    return iequals(pattern, name);
}

bool header_owned_elsewhere(std::string_view name) {
    static constexpr std::string_view kOwned[] = {"from",       "to",          "cc",        "bcc",
                                                  "message-id", "in-reply-to", "references"};
    return std::any_of(std::begin(kOwned), std::end(kOwned),
                       [&](std::string_view o) { return iequals(o, name); }) ||
           starts_with_ci(name, "x-marketplace-");
}

bool header_passes(const HeaderPolicy& policy, std::string_view name) {
    if (header_owned_elsewhere(name)) return true;
    if (any_matches(policy.remove, name)) return false;
    return policy.mode == HeaderPolicy::Mode::block || any_matches(policy.keep, name);
}

std::vector<HeaderEdit> header_removals(const Message& message, const HeaderPolicy& policy) {
    return header_removals_where(
        message, [&policy](std::string_view name) { return !header_passes(policy, name); });
}

std::vector<HeaderEdit> header_removals_where(const Message& message,
                                              const std::function<bool(std::string_view)>& select) {
    std::vector<HeaderEdit> out;
    for (const HeaderName& h : header_names(message)) {
        if (!select(h.name)) continue;
        for (auto i = static_cast<int>(h.positions.size()); i >= 1; --i)
            out.push_back({HeaderEdit::Op::remove, h.name, i, {}});
    }
    return out;
}

RecipientEdits recipient_header_edits(const Message& message, const std::string& domain,
                                      const AliasMailbox& addressed, const AliasMailbox& other) {
    ensure_gmime();
    RecipientEdits result;
    Filter filter(domain, addressed, other);
    Field to = filter.read(message, "To", result);
    Field cc = filter.read(message, "Cc", result);

    // A Cc that repeats a To address is dropped from Cc.
    auto in = [](const Field& f, const std::string& addr) {
        return std::any_of(f.kept.begin(), f.kept.end(),
                           [&](const Kept& k) { return iequals(k.addr, addr); });
    };
    auto before = cc.kept.size();
    std::erase_if(cc.kept, [&](const Kept& k) { return in(to, k.addr); });
    if (cc.kept.size() != before) cc.changed = true;

    // The alias the message was sent to is always in To.
    if (!in(to, addressed.address)) {
        std::string name = sanitize_display_name(addressed.display_name);
        for (const auto& k : cc.kept)
            if (iequals(k.addr, addressed.address)) name = k.name;
        auto was = cc.kept.size();
        std::erase_if(cc.kept, [&](const Kept& k) { return iequals(k.addr, addressed.address); });
        if (cc.kept.size() != was) cc.changed = true;
        to.kept.insert(to.kept.begin(), {addressed.address, name});
        to.changed = true;
    }

    write_field(message, "To", to, result.edits);
    write_field(message, "Cc", cc, result.edits);
    remove_all(message, "Bcc", result.edits);
    return result;
}

}  // namespace mm::policy
