// `marketplace-milter audit verify`: is this delivered message the one its
// X-Marketplace-Audit header was issued for?  Recomputes the header's HMAC
// and each bound field (audit/audit_binding.h) from the message as the
// recipient got it, with the configured key.
//
// The envelope recipient is not in the message: it is taken from --rcpt, or
// else from the first of Delivered-To, X-Original-To and To whose addresses
// match the header.  Those fields are the message's word, not proof; the
// check proves no more than the recipient it is given.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/audit_binding.h"
#include "cli/cli.h"
#include "milter/config.h"
#include "policy/message.h"
#include "policy/mime/gmime_ptr.h"
#include "util/address.h"

namespace mm::milter {
namespace {

using json = nlohmann::ordered_json;

constexpr int kValid = 0;
constexpr int kInvalid = 1;
constexpr int kUnreadable = 2;

int unreadable(const std::string& why) {
    std::fprintf(stderr, "marketplace-milter: %s\n", why.c_str());
    return kUnreadable;
}

Result<policy::Message> read_input(const std::string& path, const policy::SpoolOptions& spool) {
    if (path == "-") return policy::read_message(STDIN_FILENO, spool, "standard input");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::invalid, path + ": cannot open: " + std::strerror(errno));
    auto message = policy::read_message(fd, spool, path);
    ::close(fd);
    return message;
}

void collect(InternetAddressList* list, std::vector<std::string>& out) {
    const int n = internet_address_list_length(list);
    for (int i = 0; i < n; ++i) {
        InternetAddress* a = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(a)) {
            collect(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
            if (addr != nullptr && *addr != '\0') out.emplace_back(addr);
        }
    }
}

// Every address in every field `name` of the message.
std::vector<std::string> addresses_in(const policy::Message& message, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& h : message.headers) {
        if (!iequals(h.name, name)) continue;
        const std::string text = canonical_field(h.value);
        policy::GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, text.c_str()));
        if (list) collect(list.get(), out);
    }
    return out;
}

struct RecipientSource {
    std::string name;  // "--rcpt", or the header field's name
    std::vector<std::string> addresses;
};

std::vector<RecipientSource> recipient_sources(const policy::Message& message,
                                               const std::vector<std::string>& given) {
    if (!given.empty()) return {{"--rcpt", given}};
    std::vector<RecipientSource> sources;
    for (const char* name : {"Delivered-To", "X-Original-To", "To"}) {
        auto found = addresses_in(message, name);
        if (!found.empty()) sources.push_back({name, std::move(found)});
    }
    return sources;
}

struct Checked {
    AuditCheck check;
    std::string rcpt_source;  // "" when there was none
};

bool rcpt_matches(const AuditCheck& check) {
    for (const auto& f : check.fields)
        if (f.name == "rcpt") return f.ok;
    return false;
}

// The header against the message, with each recipient source in turn until
// one matches (the first one's answer if none does).
Checked verify(const std::string& header, const policy::Message& message,
               const std::vector<std::string>& given, const std::string& key) {
    BoundFields fields = bound_fields(message.headers, {}, message.body);
    const auto sources = recipient_sources(message, given);
    Checked first;
    for (const auto& source : sources) {
        fields.recipients = canonical_recipients(source.addresses);
        Checked v{check_audit_header(header, key, fields), source.name};
        if (rcpt_matches(v.check)) return v;
        if (first.rcpt_source.empty()) first = std::move(v);
    }
    if (!first.rcpt_source.empty()) return first;
    fields.recipients.clear();
    return {check_audit_header(header, key, fields), ""};
}

const char* ok_text(bool ok) {
    return ok ? "ok" : "mismatch";
}

void print_text(const Checked& v, std::size_t headers) {
    const AuditCheck& c = v.check;
    std::printf("X-Marketplace-Audit%s\n",
                headers > 1 ? (" (the first of " + std::to_string(headers) + ")").c_str() : "");
    std::printf("  %-6s %s\n", "form", c.well_formed ? "ok" : "malformed");
    if (c.well_formed) {
        std::printf("  %-6s %s (decision %s, rules %s, policy %s)\n", "id", c.audit_id.c_str(),
                    c.decision.c_str(), c.rules.c_str(), c.policy.c_str());
        std::printf("  %-6s %s\n", "hmac", ok_text(c.hmac_ok));
    }
    for (const auto& f : c.fields) {
        std::string shown = f.value.empty() ? "(none)" : f.value;
        if (f.name == "rcpt")
            shown += v.rcpt_source.empty() ? " (no recipient: give --rcpt)"
                                           : " (from " + v.rcpt_source + ")";
        if (f.name == "body") shown = "sha256 " + shown;
        std::printf("  %-6s %-8s %s\n", f.name.c_str(), ok_text(f.ok), shown.c_str());
    }
    std::printf("%s\n", c.valid() ? "valid" : "invalid");
}

void print_json(const Checked& v, std::size_t headers) {
    const AuditCheck& c = v.check;
    json out;
    out["valid"] = c.valid();
    out["headers"] = headers;
    out["well_formed"] = c.well_formed;
    out["hmac"] = c.hmac_ok;
    out["audit_id"] = c.audit_id;
    out["decision"] = c.decision;
    out["rules"] = c.rules;
    out["policy"] = c.policy;
    json fields = json::array();
    for (const auto& f : c.fields) {
        json j = {{"field", f.name}, {"ok", f.ok}, {"value", f.value}};
        if (f.name == "rcpt") j["source"] = v.rcpt_source;
        fields.push_back(std::move(j));
    }
    out["fields"] = std::move(fields);
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << std::endl;
}

}  // namespace

int cmd_audit_verify(const std::string& config_path, const AuditVerifyArgs& args) {
    auto config = load_config(config_path);
    if (!config) return unreadable(config.error().message);
    auto message = read_input(args.message, config->spool);
    if (!message) return unreadable(message.error().message);
    std::vector<std::string> headers;
    for (const auto& h : message->headers)
        if (iequals(h.name, "X-Marketplace-Audit")) headers.push_back(h.value);
    if (headers.empty()) return unreadable(args.message + ": no X-Marketplace-Audit header");

    Checked v;
    try {
        v = verify(headers.front(), *message, args.rcpts, config->hmac_key);
    } catch (const std::exception& e) {  // a spooled body that cannot be read back
        return unreadable(args.message + ": " + e.what());
    }
    if (args.json)
        print_json(v, headers.size());
    else
        print_text(v, headers.size());
    return v.check.valid() ? kValid : kInvalid;
}

}  // namespace mm::milter
