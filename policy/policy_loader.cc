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
#include "util/address.h"

namespace mm::policy {
namespace {

// A problem at a place in the file; turned into a Failure by load_policy.
class PolicyError : public std::runtime_error {
public:
    PolicyError(const YAML::Mark& mark, const std::string& message)
        : std::runtime_error(message), mark(mark) {}
    YAML::Mark mark;
};

[[noreturn]] void error_at(const YAML::Mark& mark, const std::string& message) {
    throw PolicyError(mark, message);
}

std::string where(const std::string& file, const YAML::Mark& mark) {
    int line = mark.is_null() ? 1 : mark.line + 1;
    int col = mark.is_null() ? 1 : mark.column + 1;
    return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

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

const char* type_name(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Scalar:
            return "a scalar";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

// One key/value pair, with the dotted name used in messages ("bounces.action").
struct Entry {
    std::string name;
    YAML::Node key;
    YAML::Node value;
};

std::string get_string(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsScalar())
        error_at(e.value.Mark(), e.name + ": expected a string, got " + type_name(e.value));
    return e.value.Scalar();
}

void expect_map(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsMap())
        error_at(e.value.Mark(), e.name + ": expected a mapping, got " + type_name(e.value));
}

void expect_list(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsSequence())
        error_at(e.value.Mark(), e.name + ": expected a list, got " + type_name(e.value));
}

using Loader = void (*)(const Entry& e, Policy& out);

struct Key {
    std::string_view name;
    bool required;
    Loader load;
};

// Walks a mapping against its table of known keys.  `section` is "" at the
// top level, else the enclosing key ("headers").
void load_mapping(const YAML::Node& map, std::string_view section, std::span<const Key> keys,
                  Policy& out) {
    const std::string in = section.empty() ? "" : " in '" + std::string(section) + "'";
    std::vector<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
        // Copies: it->first refers into a temporary that dies with the statement.
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar())
            error_at(k.Mark(), "expected a key name, got " + std::string(type_name(k)));
        const std::string& name = k.Scalar();
        auto spec = std::find_if(keys.begin(), keys.end(),
                                 [&](const Key& key) { return key.name == name; });
        if (spec == keys.end()) error_at(k.Mark(), "unknown key '" + name + "'" + in);
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
            error_at(k.Mark(), "duplicate key '" + name + "'" + in);
        seen.push_back(name);
        spec->load({section.empty() ? name : std::string(section) + "." + name, k, v}, out);
    }
    for (const Key& key : keys) {
        if (key.required && std::find(seen.begin(), seen.end(), key.name) == seen.end())
            error_at(map.Mark(), "missing required key '" + std::string(key.name) + "'" + in);
    }
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
    expect_map(e);
    load_mapping(e.value, e.name, kHeadersKeys, p);
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
    expect_map(e);
    load_mapping(e.value, e.name, kBouncesKeys, p);
}

// ---- the top level -------------------------------------------------------

constexpr Key kSections[] = {
    {"version", true, load_version},
    {"headers", false, load_headers},
    {"bounces", false, load_bounces},
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
            return fail(Errc::invalid, where(path, e.mark) + e.msg);
        }

        auto policy = std::make_shared<Policy>(default_policy());
        try {
            if (!root.IsMap())
                error_at(root.Mark(),
                         "expected a mapping of policy sections, got " +
                             std::string(root.IsNull() ? "an empty file" : type_name(root)));
            load_mapping(root, "", kSections, *policy);
        } catch (const PolicyError& e) {
            return fail(Errc::invalid, where(path, e.mark) + e.what());
        }
        return std::shared_ptr<const Policy>(std::move(policy));
    } catch (const std::exception& e) {
        return fail(Errc::invalid, path + ": " + e.what());
    }
}

}  // namespace mm::policy
