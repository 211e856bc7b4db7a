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
//
// headers: {mode: allow|block, keep: [...], remove: [...]}.  Names are
// case-insensitive and stored lower case; a trailing '*' makes a prefix
// ("content-*", "arc-*").  Allow mode passes only `keep`, minus `remove`;
// block mode removes only `remove` (which must then be written out, so that
// switching modes never silently removes nothing).  A list given replaces the
// default list.  A file from before modes existed (`remove:` only) loads in
// allow mode, its list an extra deny list.

void load_headers_mode(const Entry& e, Policy& p) {
    std::string mode = get_string(e);
    if (mode == "allow")
        p.headers.mode = HeaderPolicy::Mode::allow;
    else if (mode == "block")
        p.headers.mode = HeaderPolicy::Mode::block;
    else
        error_at(e.value.Mark(), "unknown mode '" + mode + "' (expected allow or block)");
}

// A header name, or a prefix: a name followed by '*'.
std::vector<std::string> header_patterns(const Entry& e) {
    expect_list(e);
    std::vector<std::string> out;
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(), e.name + ": expected a header name, got " + type_name(item));
        std::string_view name = item.Scalar();
        if (!name.empty() && name.back() == '*') name.remove_suffix(1);  // a prefix: not empty
        if (!valid_header_name(name))
            error_at(item.Mark(), e.name + ": invalid header name '" + item.Scalar() + "'");
        std::string pattern = to_lower(item.Scalar());
        if (std::find(out.begin(), out.end(), pattern) == out.end())
            out.push_back(std::move(pattern));
    }
    return out;
}

void load_headers_keep(const Entry& e, Policy& p) {
    p.headers.keep = header_patterns(e);
    for (const auto& item : e.value) {
        if (to_lower(item.Scalar()).starts_with("x-marketplace"))
            error_at(item.Mark(), e.name + ": '" + item.Scalar() +
                                      "' cannot be kept: X-Marketplace-* headers are always "
                                      "removed (only the milter sets them)");
    }
}

void load_headers_remove(const Entry& e, Policy& p) {
    p.headers.remove = header_patterns(e);
    for (const auto& item : e.value) {
        std::string name = to_lower(item.Scalar());
        if (name != "bcc" && !name.starts_with("x-marketplace-") && header_owned_elsewhere(name))
            error_at(item.Mark(), e.name + ": '" + item.Scalar() +
                                      "' cannot be removed: the milter rewrites it (From, To, "
                                      "Cc, Message-ID, In-Reply-To and References always pass)");
    }
}

// content_ids: rewrite | keep (mime/content_ids.h); keep by default in block mode.
void load_headers_content_ids(const Entry& e, Policy& p) {
    const std::string value = get_string(e);
    if (value != "rewrite" && value != "keep")
        error_at(e.value.Mark(), "unknown value '" + value + "' (expected rewrite or keep)");
    p.headers.neutral_content_ids = value == "rewrite";
}

constexpr Key kHeadersKeys[] = {
    {"mode", false, load_headers_mode},
    {"keep", false, load_headers_keep},
    {"remove", false, load_headers_remove},
    {"content_ids", false, load_headers_content_ids},
};

void load_headers(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kHeadersKeys, p);
    if (p.headers.mode != HeaderPolicy::Mode::block) return;
    const YAML::Node section = e.value;
    if (!section["content_ids"]) p.headers.neutral_content_ids = false;
    for (auto it = section.begin(); it != section.end(); ++it) {
        const YAML::Node k = it->first;
        if (k.Scalar() == "keep")
            error_at(k.Mark(), e.name +
                                   ".keep: not used in block mode (list the headers to "
                                   "remove in " +
                                   e.name + ".remove)");
    }
    if (!section["remove"]) error_at(e.value.Mark(), e.name + ": mode block needs a remove list");
}

// ---- bounces -------------------------------------------------------------

void load_bounces_action(const Entry& e, Policy& p) {
    std::string action = get_string(e);
    if (action == "rewrite")
        p.bounce_action = BounceAction::rewrite;
    else if (action == "quarantine")
        p.bounce_action = BounceAction::quarantine;
    else if (action == "reject")
        p.bounce_action = BounceAction::reject;
    else
        error_at(e.value.Mark(),
                 "unknown action '" + action + "' (expected rewrite, quarantine or reject)");
}

void load_bounces_backscatter(const Entry& e, Policy& p) {
    std::string action = get_string(e);
    if (action == "reject")
        p.bounce_backscatter = BackscatterAction::reject;
    else if (action == "quarantine")
        p.bounce_backscatter = BackscatterAction::quarantine;
    else
        error_at(e.value.Mark(),
                 "unknown backscatter action '" + action + "' (expected reject or quarantine)");
}

constexpr Key kBouncesKeys[] = {
    {"action", false, load_bounces_action},
    {"backscatter", false, load_bounces_backscatter},
};

void load_bounces(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kBouncesKeys, p);
}

// ---- recipients ----------------------------------------------------------

void load_recipients_mixed(const Entry& e, Policy& p) {
    std::string action = get_string(e);
    if (action == "separate")
        p.mixed_recipients = MixedRecipients::separate;
    else if (action == "refuse")
        p.mixed_recipients = MixedRecipients::refuse;
    else
        error_at(e.value.Mark(), "unknown action '" + action + "' (expected separate or refuse)");
}

constexpr Key kRecipientsKeys[] = {
    {"mixed", false, load_recipients_mixed},
};

void load_recipients(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kRecipientsKeys, p);
}

// ---- malformed -----------------------------------------------------------

void load_malformed_action(const Entry& e, Policy& p) {
    std::string action = get_string(e);
    if (action == "reject")
        p.malformed_action = MalformedAction::reject;
    else if (action == "strip")
        p.malformed_action = MalformedAction::strip;
    else
        error_at(e.value.Mark(), "unknown action '" + action + "' (expected reject or strip)");
}

constexpr Key kMalformedKeys[] = {
    {"action", false, load_malformed_action},
};

void load_malformed(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kMalformedKeys, p);
}

// ---- authentication ------------------------------------------------------

// authentication: {trusted_authserv_ids: [...], require_alignment: on|off,
// action: reject|quarantine}.  Alignment without a trusted id could never
// pass: refused at load.
void load_auth_ids(const Entry& e, Policy& p) {
    p.authentication.trusted_authserv_ids.clear();
    for (const std::string& id : get_string_list(e, "an authserv-id")) {
        if (id.empty() || id.find_first_of(" \t;()\"") != std::string::npos)
            error_at(e.value.Mark(), e.name + ": '" + id + "' is not an authserv-id");
        p.authentication.trusted_authserv_ids.push_back(to_lower(id));
    }
}

void load_auth_alignment(const Entry& e, Policy& p) {
    const std::string value = e.value.IsScalar() ? e.value.Scalar() : std::string();
    if (value == "on" || value == "off")
        p.authentication.require_alignment = value == "on";
    else
        p.authentication.require_alignment = get_bool(e);
}

void load_auth_action(const Entry& e, Policy& p) {
    const std::string action = get_string(e);
    if (action == "reject")
        p.authentication.action = AuthenticationPolicy::Action::reject;
    else if (action == "quarantine")
        p.authentication.action = AuthenticationPolicy::Action::quarantine;
    else
        error_at(e.value.Mark(), "unknown action '" + action + "' (expected reject or quarantine)");
}

constexpr Key kAuthenticationKeys[] = {
    {"trusted_authserv_ids", false, load_auth_ids},
    {"require_alignment", false, load_auth_alignment},
    {"action", false, load_auth_action},
};

void load_authentication(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kAuthenticationKeys, p);
    if (p.authentication.require_alignment && p.authentication.trusted_authserv_ids.empty())
        error_at(e.value.Mark(), e.name +
                                     ": require_alignment needs trusted_authserv_ids (the MTA "
                                     "whose Authentication-Results are believed)");
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
    {"recipients", false, load_recipients},
    {"marketplace", false,
     [](const Entry& e, Policy& p) { load_marketplace_section(e, p.marketplace); }},
    {"malformed", false, load_malformed},
    {"authentication", false, load_authentication},
};

}  // namespace

Policy default_policy() {
    Policy p;
    p.version = "2026-11-23.1";
    p.headers = HeaderPolicy{};  // allow-list mode, see header_privacy.h
    p.bounce_action = BounceAction::rewrite;
    p.bounce_backscatter = BackscatterAction::reject;
    p.content = empty_content_policy();
    return p;
}

Result<std::shared_ptr<const Policy>> load_policy(const std::string& path) {
    try {
        auto loaded = yaml::load_file(path, kMaxPolicyBytes);
        if (!loaded) return loaded.error();
        const YAML::Node root = loaded.value();

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
