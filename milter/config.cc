// load_config: marketplace-milter.yaml -> Config.
//
// The schema is declared once, as tables of known keys (kTopLevel, kStoreKeys,
// kLimitsKeys): each entry names the key, says whether it is required and how
// its value is checked and stored.  Everything not in a table is an error, so
// a typo never silently falls back to a default.  Every error is
// "FILE:LINE:COL: message" (1-based), pointing at the key or value at fault.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "milter/metrics_server.h"
#include "policy/yaml_schema.h"
#include "util/address.h"
#include "util/file.h"

namespace mm::milter {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr size_t kMaxKeyBytes = 4096;
constexpr size_t kMinKeyBytes = 32;

using yaml::Entry;
using yaml::error_at;
using yaml::get_bool;
using yaml::get_int;
using yaml::get_nonempty_string;
using yaml::get_string;
using yaml::type_name;

// What the loaders fill in: the Config, and what load_config learns besides.
struct Build {
    Config config;
    fs::path dir;              // directory of the config file, absolute
    YAML::Mark key_file_mark;  // where hmac_key_file was given
    YAML::Mark listen_mark;    // where metrics.listen was given
};
using Key = yaml::Key<Build>;

// A path in the file, relative to the directory of the config file.
std::string get_path(const Entry& e, const Build& b) {
    fs::path p(get_nonempty_string(e));
    if (p.is_relative()) p = b.dir / p;
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

constexpr Key kStoreKeys[] = {
    {"type",
     false,
     [](const Entry& e, Build& b) {
         b.config.store.type = get_string(e);
         if (b.config.store.type != "sqlite" && b.config.store.type != "postgres")
             error_at(e.value.Mark(), e.name + ": unsupported store type '" + b.config.store.type +
                                          "' (expected sqlite or postgres)");
     },
     {"sqlite | postgres", "sqlite",
      "The store backend. sqlite: one file, one host. postgres: one database shared by several "
      "MTA hosts; its schema is applied by `marketplace-milter migrate -c CONFIG`, and checked, "
      "never changed, when the daemon starts."}},
    {"path",
     false,
     [](const Entry& e, Build& b) { b.config.store.path = get_path(e, b); },
     {"path", "",
      "sqlite (required): the SQLite database of parties, pairs, aliases, orders and thread state; "
      "created and migrated at start. Its directory must be writable by the daemon user."}},
    {"busy_timeout_ms",
     false,
     [](const Entry& e, Build& b) {
         b.config.store.busy_timeout_ms = static_cast<int>(get_int(e, 0, 600000));
     },
     {"integer, milliseconds (0-600000)", "5000",
      "sqlite: how long a lookup waits on a locked database before the message is tempfailed (451 "
      "4.3.0)."}},
    {"synchronous",
     false,
     [](const Entry& e, Build& b) {
         const std::string v = get_string(e);
         if (v != "normal" && v != "full")
             error_at(e.value.Mark(),
                      e.name + ": unknown value '" + v + "' (expected normal or full)");
         b.config.store.sync_full = v == "full";
     },
     {"normal | full", "normal",
      "sqlite: when commits reach the disk. normal: at WAL checkpoints; a power loss (not a crash "
      "of the "
      "daemon) may lose the thread state and Message-ID mappings of the last moments, never the "
      "database. full: an fsync per message."}},
    {"dsn",
     false,
     [](const Entry& e, Build& b) { b.config.store.postgres.dsn = get_nonempty_string(e); },
     {"libpq connection string or postgresql:// URI", "",
      "postgres (required): the database, e.g. \"host=db.example port=5432 dbname=marketplace "
      "user=milter sslmode=verify-full\". Keep the password out of it: use passfile. Never "
      "logged with its password."}},
    {"passfile",
     false,
     [](const Entry& e, Build& b) { b.config.store.postgres.passfile = get_path(e, b); },
     {"path", "~/.pgpass of the daemon user",
      "postgres: libpq's password file (host:port:database:user:password lines, mode 0600)."}},
    {"pool",
     false,
     [](const Entry& e, Build& b) {
         b.config.store.postgres.pool = static_cast<int>(get_int(e, 1, 1000));
     },
     {"integer (1-1000)", "max_parallel_evaluations",
      "postgres: connections to the database at most; a lookup that finds them all busy waits up "
      "to statement_timeout_ms, then the message is tempfailed (451 4.3.0)."}},
    {"statement_timeout_ms",
     false,
     [](const Entry& e, Build& b) {
         b.config.store.postgres.statement_timeout_ms = static_cast<int>(get_int(e, 1, 600000));
     },
     {"integer, milliseconds (1-600000)", "5000",
      "postgres: the server's statement_timeout on every connection, and how long a call waits "
      "for a free connection; over it the message is tempfailed (451 4.3.0)."}},
};

// What the store section needs besides each key on its own: the keys of
// its type, and none of the other type's.
void check_store(const Entry& e, const Build& b) {
    const alias::StoreConfig& s = b.config.store;
    const YAML::Node& map = e.value;
    const bool postgres = s.type == "postgres";
    static const char* const sqlite_keys[] = {"path", "busy_timeout_ms", "synchronous"};
    static const char* const postgres_keys[] = {"dsn", "passfile", "pool", "statement_timeout_ms"};
    const std::span<const char* const> others =
        postgres ? std::span<const char* const>(sqlite_keys) : postgres_keys;
    for (const char* key : others)
        if (map[key])
            error_at(map[key].Mark(),
                     e.name + "." + key + ": not a setting of store type " + s.type);
    if (postgres && s.postgres.dsn.empty())
        error_at(map.Mark(), "missing required key 'dsn' in '" + e.name + "' (type postgres)");
    if (!postgres && s.path.empty())
        error_at(map.Mark(), "missing required key 'path' in '" + e.name + "'");
}

constexpr Key kLimitsKeys[] = {
    {"max_header_count",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.max_header_count = static_cast<std::size_t>(get_int(e, 1, 10000000));
     },
     {"integer (1-10000000)", "1000",
      "Header fields of the message, counted as the MTA hands them over; past it none is kept and "
      "the message is refused at its end. Also the bound of each MIME part's and forwarded "
      "message's header."}},
    {"max_header_bytes",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.max_header_bytes = static_cast<std::size_t>(get_int(e, 1, 1LL << 30));
     },
     {"integer, bytes (1-1073741824)", "1048576",
      "Bytes of those header fields (\"Name: value\" and line end summed); also of each part's "
      "header, and of all parts' headers together."}},
    {"max_mime_parts",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.max_mime_parts = static_cast<std::size_t>(get_int(e, 1, 10000000));
     },
     {"integer (1-10000000)", "1000",
      "MIME parts and forwarded messages below the top one, counted by a linear pass over the body "
      "before the MIME parser builds anything."}},
    {"max_mime_depth",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.max_mime_depth = static_cast<std::size_t>(get_int(e, 1, 1000));
     },
     {"integer (1-1000)", "32",
      "How deep multiparts and forwarded messages nest, counted by the same pass. The policy's "
      "attachments.max_depth still applies on top of it."}},
    {"max_text_words",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.max_text_words = static_cast<std::size_t>(get_int(e, 1, 100000000));
     },
     {"integer (1-100000000)", "500000",
      "Words the content classifier reads in one message, counted as it reads them: the subject "
      "and text parts, each attachment's and document's text, and the text the contact reasons "
      "read. Each word costs it more memory than its bytes, so past it the message is refused "
      "rather than read in part."}},
    {"max_redactions",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.max_redactions = static_cast<std::size_t>(get_int(e, 1, 10000000));
     },
     {"integer (1-10000000)", "1000",
      "Email addresses and phone numbers the privacy rule replaces in one message, all parts "
      "together. Real mail has a few; each replacement is kept in memory until its part is "
      "rewritten, so past it the message is refused rather than redacted in part."}},
    {"cpu_budget_ms",
     false,
     [](const Entry& e, Build& b) {
         b.config.limits.cpu_budget = std::chrono::milliseconds(get_int(e, 0, 3600000));
     },
     {"integer, milliseconds (0-3600000)", "2000",
      "CPU time one evaluation may use, checked at every MIME part and between the steps of each "
      "text part; a message that needs more gets over_budget_action. 0: no budget."}},
    {"over_budget_action",
     false,
     [](const Entry& e, Build& b) {
         const std::string v = get_string(e);
         if (v != "reject" && v != "tempfail")
             error_at(e.value.Mark(),
                      e.name + ": unknown value '" + v + "' (expected reject or tempfail)");
         b.config.over_budget_tempfail = v == "tempfail";
     },
     {"reject | tempfail", "reject",
      "A message over cpu_budget_ms: reject (552 5.3.4) or tempfail (451 4.3.0, the MTA retries "
      "later)."}},
};

// The facilities an MTA's neighbours log under: mail (Postfix and OpenDKIM's
// default), daemon, or a local one the syslog daemon routes elsewhere.
constexpr std::pair<std::string_view, int> kFacilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

constexpr Key kLogKeys[] = {
    {"facility",
     false,
     [](const Entry& e, Build& b) {
         const std::string v = get_string(e);
         for (const auto& [name, facility] : kFacilities) {
             if (v != name) continue;
             b.config.log_facility = facility;
             return;
         }
         error_at(e.value.Mark(), e.name + ": unknown facility '" + v +
                                      "' (expected mail, daemon, user or local0 to local7)");
     },
     {"mail | daemon | user | local0-local7", "mail",
      "The syslog facility of the daemon's log lines, as Postfix and OpenDKIM use mail. Lines "
      "about one message start with its queue id (\"4XbQ1: reject: ...\"). Read at start only."}},
};

constexpr Key kMetricsKeys[] = {
    {"listen",
     false,
     [](const Entry& e, Build& b) {
         b.config.metrics.listen = get_string(e);
         b.listen_mark = e.value.Mark();
         if (b.config.metrics.listen.empty()) return;
         auto where = parse_listen(b.config.metrics.listen);
         if (!where || where->port == 0)
             error_at(e.value.Mark(),
                      e.name + ": " +
                          (where ? "port 0 is not a port to scrape" : where.error().message));
     },
     {"IP:PORT, e.g. \"127.0.0.1:9464\" or \"[::1]:9464\"", "",
      "Serve Prometheus metrics over HTTP at GET /metrics on this address (IP literals only). "
      "Empty or absent: no endpoint. A non-loopback address is refused unless allow_remote is "
      "true. If the address cannot be bound the daemon does not start. Read at start only."}},
    {"allow_remote",
     false,
     [](const Entry& e, Build& b) { b.config.metrics.allow_remote = get_bool(e); },
     {"true | false", "false",
      "Allow a listen address other than loopback. The endpoint has no authentication and the "
      "numbers tell whoever reads them the mail volume and which rules fire: firewall it."}},
};

// metrics.listen off loopback only when allow_remote says so (in either
// order of the two keys).
void load_metrics(const Entry& e, Build& b) {
    yaml::load_section<Build>(e, kMetricsKeys, b);
    const auto& m = b.config.metrics;
    if (m.listen.empty() || m.allow_remote) return;
    if (auto where = parse_listen(m.listen); where && !where->loopback)
        error_at(b.listen_mark, "metrics.listen: " + m.listen +
                                    " is not a loopback address; the endpoint has no "
                                    "authentication (set metrics.allow_remote: true to listen "
                                    "there anyway)");
}

constexpr Key kTopLevel[] = {
    {"socket",
     false,
     [](const Entry& e, Build& b) {
         b.config.socket = get_nonempty_string(e);
         if (auto problem = socket_problem(b.config.socket))
             error_at(e.value.Mark(), "socket: " + *problem);
     },
     {"libmilter socket: unix:/path, inet:PORT@HOST, inet6:PORT@HOST",
      "unix:/run/marketplace-milter/milter.sock",
      "Where the milter listens. Postfix writes an inet socket as inet:HOST:PORT in main.cf. "
      "Prefer the unix socket: on an inet socket any local process can speak the milter protocol "
      "and learn real addresses from the recipient edits. With a chrooted smtpd the socket must "
      "lie inside the chroot."}},
    {"domain",
     true,
     [](const Entry& e, Build& b) {
         b.config.domain = to_lower(get_nonempty_string(e));
         if (!valid_hostname(b.config.domain))
             error_at(e.value.Mark(), "domain: invalid domain '" + e.value.Scalar() + "'");
     },
     {"domain name", "", "The marketplace mail domain; aliases are <16 hex digits>@domain."}},
    {"policy",
     true,
     [](const Entry& e, Build& b) { b.config.policy_path = get_path(e, b); },
     {"path", "", "The policy file, marketplace-milter-policy(5)."}},
    {"store",
     true,
     [](const Entry& e, Build& b) {
         yaml::load_section<Build>(e, kStoreKeys, b);
         check_store(e, b);
     },
     {"mapping", "", "Where parties, pairs and aliases are stored.",
      +[] { return yaml::describe<Build>(kStoreKeys); }}},
    {"audit_log",
     true,
     [](const Entry& e, Build& b) {
         b.config.audit_log = get_nonempty_string(e) == "-" ? "-" : get_path(e, b);
     },
     {"path, or - for stdout", "",
      "The audit log: one JSON line per decision, with party ids, never real addresses. Reopened "
      "on SIGUSR1 (reload) and SIGUSR2 (logrotate)."}},
    {"hmac_key_file",
     true,
     [](const Entry& e, Build& b) {
         b.config.hmac_key_file = get_path(e, b);
         b.key_file_mark = e.value.Mark();
     },
     {"path", "",
      "The secret (at least 32 bytes; one trailing newline is ignored) for the HMAC of the "
      "X-Marketplace-Audit header. Refused if readable by others or writable by group or others."}},
    {"cache_ttl_ms",
     false,
     [](const Entry& e, Build& b) {
         b.config.cache_ttl = std::chrono::milliseconds(get_int(e, 0, 86400000));
     },
     {"integer, milliseconds (0-86400000)", "30000",
      "How long aliases (with their parties) and orders, found or not, are cached in the daemon; a "
      "change made with the command line reaches the daemon within this time. 0 disables the "
      "cache."}},
    {"milter_timeout",
     false,
     [](const Entry& e, Build& b) {
         b.config.milter_timeout = static_cast<int>(get_int(e, 1, 86400));
     },
     {"integer, seconds (1-86400)", "300",
      "libmilter's I/O timeout towards the MTA. Keep it at least as long as Postfix's "
      "milter_content_timeout."}},
    {"log_stderr",
     false,
     [](const Entry& e, Build& b) { b.config.log_stderr = get_bool(e); },
     {"true | false", "false",
      "Also log to stderr, besides syslog (stderr alone when there is no /dev/log at start, e.g. "
      "in a container)."}},
    {"log",
     false,
     [](const Entry& e, Build& b) { yaml::load_section<Build>(e, kLogKeys, b); },
     {"mapping", "", "Logging to syslog.", +[] { return yaml::describe<Build>(kLogKeys); }}},
    {"socket_mode",
     false,
     [](const Entry& e, Build& b) {
         const std::string v = get_string(e);
         char* end = nullptr;
         const unsigned long mode = std::strtoul(v.c_str(), &end, 8);
         if (v.empty() || *end != '\0' || mode > 0777)
             error_at(e.value.Mark(),
                      e.name + ": '" + v + "' is not an octal file mode (such as \"0660\")");
         b.config.socket_mode = static_cast<unsigned>(mode);
     },
     {"octal file mode, quoted", "\"0660\"",
      "Permissions of a unix socket. The MTA's user must be able to write to it: put postfix in "
      "the daemon's group."}},
    {"spill_threshold_bytes",
     false,
     [](const Entry& e, Build& b) {
         b.config.spool.spill_threshold = static_cast<std::size_t>(get_int(e, 0, 1LL << 30));
     },
     {"integer, bytes (0-1073741824)", "262144",
      "Bodies larger than this go to an unnamed temporary file in spool_dir and are parsed from "
      "it; 0 spools every body."}},
    {"spool_dir",
     false,
     [](const Entry& e, Build& b) { b.config.spool.spool_dir = get_path(e, b); },
     {"path", "/var/tmp",
      "Directory for those files, on disk (not tmpfs). Checked at start and reload: a file must be "
      "creatable there, else the daemon does not start and a reload keeps the old config. Full or "
      "gone later: the message is tempfailed. The shipped config sets "
      "/var/lib/marketplace-milter/spool."}},
    {"max_parallel_evaluations",
     false,
     [](const Entry& e, Build& b) {
         b.config.max_parallel_evaluations = static_cast<int>(get_int(e, 0, 4096));
     },
     {"integer (0-4096)", "0",
      "Messages evaluated at once; the rest wait at end of message (at most milter_timeout/2, then "
      "451). 0: twice the CPUs, at least 2. Read at start only."}},
    {"realtime_priority",
     false,
     [](const Entry& e, Build& b) {
         b.config.realtime_priority = static_cast<int>(get_int(e, 0, 99));
     },
     {"integer (0-99)", "1",
      "SCHED_FIFO priority for the end-of-message work on messages held in memory (up to "
      "spill_threshold_bytes). Needs CAP_SYS_NICE or RLIMIT_RTPRIO (the unit sets LimitRTPRIO=1), "
      "else logged and off. 0: off. Read at start only."}},
    {"realtime_budget_ms",
     false,
     [](const Entry& e, Build& b) {
         b.config.realtime_budget = std::chrono::milliseconds(get_int(e, 1, 10000));
     },
     {"integer, milliseconds (1-10000)", "20",
      "CPU time one end of message may use under realtime_priority; past it the message finishes "
      "at the normal priority and the daemon logs so. Read at start only."}},
    {"limits",
     false,
     [](const Entry& e, Build& b) { yaml::load_section<Build>(e, kLimitsKeys, b); },
     {"mapping", "",
      "Bounds every message meets as it arrives and while it is evaluated; a message over one is "
      "refused with the bound named (e.g. 552 5.3.4 ... (limit limits.max_header_count)) and one "
      "audit line with the rule limits.<key>. Re-read on reload.",
      +[] { return yaml::describe<Build>(kLimitsKeys); }}},
    {"metrics",
     false,
     load_metrics,
     {"mapping", "",
      "The Prometheus endpoint: decisions by outcome and by rule, time in the filter, the "
      "evaluation gate, the store and its caches, reloads (README.md, \"Metrics\"). Off unless "
      "listen is set.",
      +[] { return yaml::describe<Build>(kMetricsKeys); }}},
};

// Reads the HMAC key; one trailing newline ("\n" or "\r\n") is not part of it.
void load_key(Build& b) {
    Config& c = b.config;
    const std::string prefix = "hmac_key_file: " + c.hmac_key_file + ": ";
    auto data = read_file_bounded(c.hmac_key_file, kMaxKeyBytes);
    if (!data) error_at(b.key_file_mark, prefix + data.error().message);
    // As OpenDKIM refuses an unsafe private key: whoever can read the key can
    // forge an audit header, whoever can write it can swap it.
    struct stat st {};
    if (::stat(c.hmac_key_file.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP))) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        error_at(b.key_file_mark, prefix + "unsafe permissions " + mode +
                                      " (readable by others or writable by group or others); "
                                      "chmod 0600 or 0640");
    }
    std::string key = std::move(data.value());
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key.size() < kMinKeyBytes)
        error_at(b.key_file_mark, prefix + "key too short (" + std::to_string(key.size()) +
                                      " bytes, need >= " + std::to_string(kMinKeyBytes) + ")");
    c.hmac_key = std::move(key);
}

}  // namespace

int parallel_evaluations(const Config& config) {
    if (config.max_parallel_evaluations > 0) return config.max_parallel_evaluations;
    // Evaluation is CPU-bound: more at once than the CPUs can run only adds
    // parse trees in memory, not throughput.
    return std::max(2, 2 * static_cast<int>(std::thread::hardware_concurrency()));
}

std::vector<yaml::KeyInfo> config_schema() {
    return yaml::describe<Build>(kTopLevel);
}

Result<Config> load_config(const std::string& path, KeyFile key) {
    try {
        auto loaded = yaml::load_file(path, kMaxConfigBytes);
        if (!loaded) return loaded.error();
        const YAML::Node root = loaded.value();

        Build b;
        b.config.path = path;
        b.dir = fs::absolute(fs::path(path)).parent_path();
        try {
            if (!root.IsMap())
                error_at(root.Mark(),
                         "expected a mapping of settings, got " +
                             std::string(root.IsNull() ? "an empty file" : type_name(root)));
            yaml::load_mapping<Build>(root, "", kTopLevel, b);
            if (key == KeyFile::read) load_key(b);
            // One connection per evaluation slot: the commit of every message
            // evaluated at once gets one without waiting.
            if (b.config.store.postgres.pool <= 0)
                b.config.store.postgres.pool = parallel_evaluations(b.config);
        } catch (const yaml::SchemaError& e) {
            return fail(Errc::invalid, yaml::where(path, e.mark) + e.what());
        }
        return std::move(b.config);
    } catch (const std::exception& e) {
        // yaml-cpp conversions, filesystem or allocation: still an answer, never a throw.
        return fail(Errc::invalid, path + ": " + e.what());
    }
}

}  // namespace mm::milter
