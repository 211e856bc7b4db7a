// load_policy / default_policy: policy.yaml -> Policy.
//
// One function per top-level section (load_version, load_headers,
// load_bounces), registered in kSections; each section that is a mapping
// declares its own table of known keys.  A new section (attachments, links,
// content) is one more function and one more row.  Unknown keys anywhere are
// errors, so a typo never silently disables a rule.  A section left out keeps
// the defaults of default_policy(); `version` is always required, because it
// names the policy in every audit record.
//
// Errors are "PATH:LINE:COL: message" (1-based, PATH as given).
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "policy/policy.h"
#include "policy/yaml_schema.h"
#include "util/address.h"

namespace mm::policy {
namespace {

using yaml::Entry;
using yaml::error_at;
using yaml::expect_list;
using yaml::get_string;
using yaml::type_name;
using Key = yaml::Key<Policy>;

constexpr size_t kMaxPolicyBytes = 4 << 20;

// Reads a whole file of at most `max` bytes; the failure says why, with strerror.
Result<std::string> read_file(const std::string& path, size_t max) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::invalid, std::string("cannot open: ") + std::strerror(errno));
    std::string data;
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(Errc::invalid, std::string("cannot read: ") + std::strerror(err));
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
        if (data.size() > max) {
            ::close(fd);
            return fail(Errc::invalid, "too large (more than " + std::to_string(max) + " bytes)");
        }
    }
    ::close(fd);
    return data;
}

// RFC 5322 field name: one or more printable US-ASCII characters except ':'.
bool valid_header_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c >= 33 && c <= 126 && c != ':';
    });
}

// ---- version -------------------------------------------------------------

// The version goes into the X-Marketplace-Audit header ("policy=<version>;"),
// so it is kept to characters that cannot break that header's syntax.
void load_version(const Entry& e, Policy& p) {
    std::string v = get_string(e);
    if (v.empty()) error_at(e.value.Mark(), "version: must not be empty");
    bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
                  auto c = static_cast<unsigned char>(ch);
                  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_' || c == ':' ||
                         c == '+';
              });
    if (!ok)
        error_at(e.value.Mark(),
                 "version: '" + v + "' must be at most 64 letters, digits and . - _ : +");
    p.version = std::move(v);
}

// ---- headers -------------------------------------------------------------

void load_headers_remove(const Entry& e, Policy& p) {
    expect_list(e);
    p.remove_headers.clear();
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(), e.name + ": expected a header name, got " + type_name(item));
        if (!valid_header_name(item.Scalar()))
            error_at(item.Mark(), e.name + ": invalid header name '" + item.Scalar() + "'");
        std::string name = to_lower(item.Scalar());
        if (std::find(p.remove_headers.begin(), p.remove_headers.end(), name) ==
            p.remove_headers.end())
            p.remove_headers.push_back(std::move(name));
    }
}

constexpr Key kHeadersKeys[] = {
    {"remove", false, load_headers_remove},
};

void load_headers(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kHeadersKeys, p);
}

// ---- bounces -------------------------------------------------------------

void load_bounces_action(const Entry& e, Policy& p) {
    std::string action = get_string(e);
    if (action != "quarantine" && action != "reject")
        error_at(e.value.Mark(), "unknown action '" + action + "' (expected quarantine or reject)");
    p.bounce_action = std::move(action);
}

constexpr Key kBouncesKeys[] = {
    {"action", false, load_bounces_action},
};

void load_bounces(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kBouncesKeys, p);
}

// ---- malformed -----------------------------------------------------------

void load_malformed_action(const Entry& e, Policy& p) {
    std::string action = get_string(e);
    if (action != "reject" && action != "strip")
        error_at(e.value.Mark(), "unknown action '" + action + "' (expected reject or strip)");
    p.malformed_action = std::move(action);
}

constexpr Key kMalformedKeys[] = {
    {"action", false, load_malformed_action},
};

void load_malformed(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kMalformedKeys, p);
}

// ---- the top level -------------------------------------------------------

// The content sections are declared beside their rules (attachment_rule.h,
// link_rule.h, content_rule.h, privacy_rule.h).
constexpr Key kSections[] = {
    {"version", true, load_version},
    {"headers", false, load_headers},
    {"bounces", false, load_bounces},
    {"attachments", false,
     [](const Entry& e, Policy& p) { load_attachments_section(e, p.attachments); }},
    {"links", false, [](const Entry& e, Policy& p) { load_links_section(e, p.links); }},
    {"content", false, [](const Entry& e, Policy& p) { load_content_section(e, p.content); }},
    {"privacy", false, [](const Entry& e, Policy& p) { load_privacy_section(e, p.redact); }},
    {"malformed", false, load_malformed},
};

}  // namespace

Policy default_policy() {
    Policy p;
    p.version = "2026-11-23.1";
    p.remove_headers = {
        "reply-to",
        "sender",
        "return-receipt-to",
        "disposition-notification-to",
        "x-originating-ip",
        "x-sender",
        "x-apparently-from",
        "x-mailer",
        "user-agent",
        "x-mimeole",
        "organization",
        "x-authenticated-sender",
        "x-authenticated-user",
    };
    p.bounce_action = "quarantine";
    p.content = empty_content_policy();
    return p;
}

Result<std::shared_ptr<const Policy>> load_policy(const std::string& path) {
    try {
        auto text = read_file(path, kMaxPolicyBytes);
        if (!text) return fail(Errc::invalid, path + ": " + text.error().message);

        YAML::Node root;
        try {
            root = YAML::Load(text.value());
        } catch (const YAML::Exception& e) {
            return fail(Errc::invalid, yaml::where(path, e.mark) + e.msg);
        }

        auto policy = std::make_shared<Policy>(default_policy());
        try {
            if (!root.IsMap())
                error_at(root.Mark(),
                         "expected a mapping of policy sections, got " +
                             std::string(root.IsNull() ? "an empty file" : type_name(root)));
            yaml::load_mapping<Policy>(root, "", kSections, *policy);
        } catch (const yaml::SchemaError& e) {
            return fail(Errc::invalid, yaml::where(path, e.mark) + e.what());
        }
        return std::shared_ptr<const Policy>(std::move(policy));
    } catch (const std::exception& e) {
        return fail(Errc::invalid, path + ": " + e.what());
    }
}

}  // namespace mm::policy
