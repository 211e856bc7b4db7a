// load_config: marketplace-milter.yaml -> Config.
//
// The schema is declared once, as tables of known keys (kTopLevel, kStoreKeys):
// each entry names the key, says whether it is required and how its value is
// checked and stored.  Everything not in a table is an error, so a typo never
// silently falls back to a default.  Every error is "FILE:LINE:COL: message"
// (1-based), pointing at the key or value at fault.
//
// Order of work: parse, validate every key, then do the one piece of I/O (the
// HMAC key file), so a config with several problems reports a syntax problem
// before a missing file.
//
// SECURITY: runs as the daemon user at start-up and on SIGUSR1.  The HMAC key
// is read with a size cap (a mistyped path such as /dev/zero must not hang or
// exhaust memory) and is never echoed in a message.
#include "milter/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "util/address.h"

namespace mm::milter {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxKeyBytes = 4096;
constexpr size_t kMinKeyBytes = 32;

// A problem at a place in the file; turned into a Failure by load_config.
class ConfigError : public std::runtime_error {
public:
    ConfigError(const YAML::Mark& mark, const std::string& message)
        : std::runtime_error(message), mark(mark) {}
    YAML::Mark mark;
};

[[noreturn]] void error_at(const YAML::Mark& mark, const std::string& message) {
    throw ConfigError(mark, message);
}

// "FILE:LINE:COL: " with 1-based numbers; a node without a position (an empty
// document) is reported at 1:1.
std::string where(const std::string& file, const YAML::Mark& mark) {
    int line = mark.is_null() ? 1 : mark.line + 1;
    int col = mark.is_null() ? 1 : mark.column + 1;
    return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

// Reads a whole file of at most `max` bytes.  On failure returns
// "cannot open: <strerror>", "cannot read: <strerror>" or "too large".
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

// One key/value pair of a mapping, with the dotted name used in messages.
struct Entry {
    std::string name;  // "cache_ttl_ms", "store.path"
    YAML::Node key;
    YAML::Node value;
};

// What load_config learns besides the Config itself.
struct Context {
    fs::path dir;              // directory of the config file, absolute
    YAML::Mark key_file_mark;  // where hmac_key_file was given
};

// ---- typed values --------------------------------------------------------

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

std::string get_string(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsScalar())
        error_at(e.value.Mark(), e.name + ": expected a string, got " + type_name(e.value));
    return e.value.Scalar();
}

std::string get_nonempty_string(const Entry& e) {
    std::string s = get_string(e);
    if (s.empty()) error_at(e.value.Mark(), e.name + ": must not be empty");
    return s;
}

// A decimal integer in [min, max]; no hex, octal, floats or units.
long long get_int(const Entry& e, long long min, long long max) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsScalar())
        error_at(e.value.Mark(), e.name + ": expected an integer, got " + type_name(e.value));
    const std::string& s = e.value.Scalar();
    long long v = 0;
    const char* first = s.data();
    const char* last = s.data() + s.size();
    if (first != last && *first == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && ptr == last && (v < min || v > max)))
        error_at(e.value.Mark(), e.name + ": " + s + " is out of range (" + std::to_string(min) +
                                     " to " + std::to_string(max) + ")");
    if (ec != std::errc() || ptr != last || s.empty())
        error_at(e.value.Mark(), e.name + ": expected an integer, got '" + s + "'");
    return v;
}

// YAML 1.2 core booleans only: yes/no/on/off are too easy to misread.
bool get_bool(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (e.value.IsScalar()) {
        const std::string& s = e.value.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
        error_at(e.value.Mark(), e.name + ": expected true or false, got '" + s + "'");
    }
    error_at(e.value.Mark(), e.name + ": expected true or false, got " + type_name(e.value));
}

// A path in the file, relative to the directory of the config file.
std::string get_path(const Entry& e, const Context& ctx) {
    fs::path p(get_nonempty_string(e));
    if (p.is_relative()) p = ctx.dir / p;
    return p.lexically_normal().string();
}

// ---- checks of single values ---------------------------------------------

// Host names as libmilter resolves them: LDH labels.  IP literals are checked
// by the callers with inet_pton.
bool valid_hostname(std::string_view host) {
    // Reuse the one definition of a domain in util/: an address with it parses.
    return !host.empty() && is_valid_address("postmaster@" + std::string(host));
}

// libmilter socket specs (see smfi_setconn(3)): inet:PORT@HOST,
// inet6:PORT@HOST, unix:/path, local:/path.  The scheme is case-insensitive,
// as in libmilter.  Returns a message, or nothing if the spec is fine.
std::optional<std::string> socket_problem(std::string_view spec) {
    const std::string forms = "expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path";
    auto colon = spec.find(':');
    if (colon == std::string_view::npos)
        return "'" + std::string(spec) + "' is not a libmilter socket (" + forms + ")";
    std::string scheme = to_lower(spec.substr(0, colon));
    std::string_view rest = spec.substr(colon + 1);

    if (scheme == "unix" || scheme == "local") {
        if (rest.empty() || rest.front() != '/')
            return "unix socket path '" + std::string(rest) + "' must be absolute";
        if (rest.size() >= sizeof(sockaddr_un::sun_path))
            return "unix socket path is too long (" + std::to_string(rest.size()) + " bytes, max " +
                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) + ")";
        return std::nullopt;
    }
    if (scheme != "inet" && scheme != "inet6")
        return "unknown socket type '" + std::string(spec.substr(0, colon)) + "' (" + forms + ")";

    auto at = rest.find('@');
    if (at == std::string_view::npos) {
        // Postfix writes inet:HOST:PORT in main.cf; libmilter wants PORT@HOST.
        auto last = rest.rfind(':');
        if (scheme == "inet" && last != std::string_view::npos)
            return "'" + std::string(spec) + "' is Postfix syntax; libmilter writes " + scheme +
                   ":" + std::string(rest.substr(last + 1)) + "@" +
                   std::string(rest.substr(0, last));
        return "'" + std::string(spec) + "': expected " + scheme + ":PORT@HOST";
    }
    std::string_view port = rest.substr(0, at);
    std::string_view host = rest.substr(at + 1);
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535)
        return "port '" + std::string(port) + "' must be a number from 1 to 65535";

    std::string h(host);
    unsigned char addr[sizeof(in6_addr)];
    bool ok = false;
    if (scheme == "inet") {
        // libmilter takes anything starting with a digit as a dotted quad.
        ok = (!h.empty() && h.front() >= '0' && h.front() <= '9')
                 ? inet_pton(AF_INET, h.c_str(), addr) == 1
                 : valid_hostname(h);
    } else {
        ok = h.find(':') != std::string::npos ? inet_pton(AF_INET6, h.c_str(), addr) == 1
                                              : valid_hostname(h);
    }
    if (!ok) return "invalid host '" + h + "'";
    return std::nullopt;
}

// ---- the schema ----------------------------------------------------------

template <class T>
struct Key {
    std::string_view name;
    bool required;
    void (*load)(const Entry& e, T& out, Context& ctx);
};

// Walks a mapping against its table of keys: unknown and duplicate keys are
// errors, required keys must be there.  `section` is "" at the top level or
// the name of the enclosing key ("store").
template <class T>
void load_mapping(const YAML::Node& map, std::string_view section, std::span<const Key<T>> keys,
                  T& out, Context& ctx) {
    std::vector<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
        // Copies: it->first refers into a temporary that dies with the statement.
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar())
            error_at(k.Mark(), "expected a key name, got " + std::string(type_name(k)));
        const std::string& name = k.Scalar();
        const std::string in = section.empty() ? "" : " in '" + std::string(section) + "'";
        auto spec = std::find_if(keys.begin(), keys.end(),
                                 [&](const Key<T>& key) { return key.name == name; });
        if (spec == keys.end()) error_at(k.Mark(), "unknown key '" + name + "'" + in);
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
            error_at(k.Mark(), "duplicate key '" + name + "'" + in);
        seen.push_back(name);
        Entry e{section.empty() ? name : std::string(section) + "." + name, k, v};
        spec->load(e, out, ctx);
    }
    for (const Key<T>& key : keys) {
        if (key.required && std::find(seen.begin(), seen.end(), key.name) == seen.end())
            error_at(map.Mark(), "missing required key '" + std::string(key.name) + "'" +
                                     (section.empty() ? "" : " in '" + std::string(section) + "'"));
    }
}

constexpr Key<alias::StoreConfig> kStoreKeys[] = {
    {"type", false,
     [](const Entry& e, alias::StoreConfig& s, Context&) {
         s.type = get_string(e);
         if (s.type != "sqlite")
             error_at(e.value.Mark(),
                      e.name + ": unsupported store type '" + s.type + "' (expected sqlite)");
     }},
    {"path", true,
     [](const Entry& e, alias::StoreConfig& s, Context& ctx) { s.path = get_path(e, ctx); }},
    {"busy_timeout_ms", false,
     [](const Entry& e, alias::StoreConfig& s, Context&) {
         s.busy_timeout_ms = static_cast<int>(get_int(e, 0, 600000));
     }},
};

constexpr Key<Config> kTopLevel[] = {
    {"socket", false,
     [](const Entry& e, Config& c, Context&) {
         c.socket = get_nonempty_string(e);
         if (auto problem = socket_problem(c.socket))
             error_at(e.value.Mark(), "socket: " + *problem);
     }},
    {"domain", true,
     [](const Entry& e, Config& c, Context&) {
         c.domain = to_lower(get_nonempty_string(e));
         if (!valid_hostname(c.domain))
             error_at(e.value.Mark(), "domain: invalid domain '" + e.value.Scalar() + "'");
     }},
    {"policy", true,
     [](const Entry& e, Config& c, Context& ctx) { c.policy_path = get_path(e, ctx); }},
    {"store", true,
     [](const Entry& e, Config& c, Context& ctx) {
         if (e.value.IsNull()) error_at(e.key.Mark(), "store: missing value");
         if (!e.value.IsMap())
             error_at(e.value.Mark(),
                      "store: expected a mapping, got " + std::string(type_name(e.value)));
         load_mapping<alias::StoreConfig>(e.value, "store", kStoreKeys, c.store, ctx);
     }},
    {"audit_log", true,
     [](const Entry& e, Config& c, Context& ctx) {
         c.audit_log = get_nonempty_string(e) == "-" ? "-" : get_path(e, ctx);
     }},
    {"hmac_key_file", true,
     [](const Entry& e, Config& c, Context& ctx) {
         c.hmac_key_file = get_path(e, ctx);
         ctx.key_file_mark = e.value.Mark();
     }},
    {"cache_ttl_ms", false,
     [](const Entry& e, Config& c, Context&) {
         c.cache_ttl = std::chrono::milliseconds(get_int(e, 0, 86400000));
     }},
    {"milter_timeout", false,
     [](const Entry& e, Config& c, Context&) {
         c.milter_timeout = static_cast<int>(get_int(e, 1, 86400));
     }},
    {"log_stderr", false, [](const Entry& e, Config& c, Context&) { c.log_stderr = get_bool(e); }},
};

// Reads the HMAC key; one trailing newline ("\n" or "\r\n") is not part of it.
void load_key(Config& c, const Context& ctx) {
    const std::string prefix = "hmac_key_file: " + c.hmac_key_file + ": ";
    auto data = read_file(c.hmac_key_file, kMaxKeyBytes);
    if (!data) error_at(ctx.key_file_mark, prefix + data.error().message);
    std::string key = std::move(data.value());
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key.size() < kMinKeyBytes)
        error_at(ctx.key_file_mark, prefix + "key too short (" + std::to_string(key.size()) +
                                        " bytes, need >= " + std::to_string(kMinKeyBytes) + ")");
    c.hmac_key = std::move(key);
}

}  // namespace

Result<Config> load_config(const std::string& path) {
    try {
        auto text = read_file(path, kMaxConfigBytes);
        if (!text) return fail(Errc::invalid, path + ": " + text.error().message);

        YAML::Node root;
        try {
            root = YAML::Load(text.value());
        } catch (const YAML::Exception& e) {
            return fail(Errc::invalid, where(path, e.mark) + e.msg);
        }

        Config config;
        config.path = path;
        Context ctx;
        ctx.dir = fs::absolute(fs::path(path)).parent_path();
        try {
            if (!root.IsMap())
                error_at(root.Mark(),
                         "expected a mapping of settings, got " +
                             std::string(root.IsNull() ? "an empty file" : type_name(root)));
            load_mapping<Config>(root, "", kTopLevel, config, ctx);
            load_key(config, ctx);
        } catch (const ConfigError& e) {
            return fail(Errc::invalid, where(path, e.mark) + e.what());
        }
        return config;
    } catch (const std::exception& e) {
        // yaml-cpp conversions, filesystem or allocation: still an answer, never a throw.
        return fail(Errc::invalid, path + ": " + e.what());
    }
}

}  // namespace mm::milter
