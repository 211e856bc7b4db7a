// load_config(): the daemon config schema.  Every error case asserts the
// exact "FILE:LINE:COL: message", so a change of wording or position is a
// deliberate change of this table.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "milter/config.h"
#include "tests/support/test_support.h"

namespace mm::milter {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

// The key as an operator installs it: readable by its owner only.
void write_key(const std::string& path, const std::string& text) {
    write_file(path, text);
    ::chmod(path.c_str(), 0600);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Replaces every "{dir}" by the temp dir.
std::string expand(std::string s, const std::string& dir) {
    for (auto pos = s.find("{dir}"); pos != std::string::npos; pos = s.find("{dir}", pos))
        s.replace(pos, 5, dir);
    return s;
}

// The smallest valid config, one key per line, in this order.
const char* const kBaseLines[] = {
    "domain: marketplace.example\n",  // 1
    "policy: policy.yaml\n",          // 2
    "store: {path: store.db}\n",      // 3
    "audit_log: audit.log\n",         // 4
    "hmac_key_file: hmac.key\n",      // 5
};

// The base config without the line of `omit` ("" keeps all five), then `extra`.
std::string base_config(const std::string& omit, const std::string& extra) {
    std::string text;
    for (const char* line : kBaseLines) {
        if (!omit.empty() && std::string(line).starts_with(omit + ":")) continue;
        text += line;
    }
    return text + extra;
}

// Every setting of a loaded config as text, by its name: a test states what
// it expects of a whole config as one table, and a failure names the setting.
std::map<std::string, std::string> settings(const Config& c) {
    auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
    auto octal = [](unsigned mode) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", mode);
        return std::string(buf);
    };
    return {
        {"path", c.path},
        {"domain", c.domain},
        {"policy_path", c.policy_path},
        {"store.type", c.store.type},
        {"store.path", c.store.path},
        {"store.busy_timeout_ms", std::to_string(c.store.busy_timeout_ms)},
        {"store.sync_full", flag(c.store.sync_full)},
        {"socket_mode", octal(c.socket_mode)},
        {"audit_log", c.audit_log},
        {"hmac_key_file", c.hmac_key_file},
        {"hmac_key", c.hmac_key},
        {"socket", c.socket},
        {"cache_ttl_ms", std::to_string(c.cache_ttl.count())},
        {"milter_timeout", std::to_string(c.milter_timeout)},
        {"log_stderr", flag(c.log_stderr)},
        {"spool.spill_threshold", std::to_string(c.spool.spill_threshold)},
        {"spool.spool_dir", c.spool.spool_dir},
        {"max_parallel_evaluations", std::to_string(c.max_parallel_evaluations)},
        {"realtime_priority", std::to_string(c.realtime_priority)},
        {"realtime_budget_ms", std::to_string(c.realtime_budget.count())},
        {"limits.max_header_count", std::to_string(c.limits.max_header_count)},
        {"limits.max_header_bytes", std::to_string(c.limits.max_header_bytes)},
        {"limits.max_mime_parts", std::to_string(c.limits.max_mime_parts)},
        {"limits.max_mime_depth", std::to_string(c.limits.max_mime_depth)},
        {"limits.max_text_words", std::to_string(c.limits.max_text_words)},
        {"limits.max_redactions", std::to_string(c.limits.max_redactions)},
        {"limits.cpu_budget_ms", std::to_string(c.limits.cpu_budget.count())},
        {"over_budget_tempfail", flag(c.over_budget_tempfail)},
        {"metrics.listen", c.metrics.listen},
        {"metrics.allow_remote", flag(c.metrics.allow_remote)},
    };
}

// One assertion a row of `expected`.
void expect_settings(const Config& c, const std::map<std::string, std::string>& expected) {
    const auto actual = settings(c);
    for (const auto& [name, value] : expected) {
        auto it = actual.find(name);
        ASSERT_NE(it, actual.end()) << "no setting " << name;
        EXPECT_EQ(it->second, value) << name;
    }
}

class ConfigTest : public ::testing::Test {
protected:
    void SetUp() override { write_key(dir_.file("hmac.key"), kKey + "\n"); }
    std::string dir() const { return dir_.path().string(); }
    std::string config_file(const std::string& text) {
        std::string path = dir_.file("marketplace-milter.yaml");
        write_file(path, text);
        return path;
    }

    mm::testing::TempDir dir_;
};

TEST_F(ConfigTest, MinimalConfigResolvesRelativePathsAndKeepsDefaults) {
    auto c = load_config(config_file(base_config("", "")));
    ASSERT_TRUE(c) << c.error().message;
    expect_settings(*c, {
                            {"path", dir_.file("marketplace-milter.yaml")},
                            {"domain", "marketplace.example"},
                            {"policy_path", dir_.file("policy.yaml")},
                            {"store.type", "sqlite"},
                            {"store.path", dir_.file("store.db")},
                            {"store.busy_timeout_ms", "5000"},
                            {"store.sync_full", "false"},
                            {"socket_mode", "0660"},
                            {"audit_log", dir_.file("audit.log")},
                            {"hmac_key_file", dir_.file("hmac.key")},
                            {"hmac_key", kKey},  // trailing newline stripped
                            {"socket", "unix:/run/marketplace-milter/milter.sock"},
                            {"cache_ttl_ms", "30000"},
                            {"milter_timeout", "300"},
                            {"log_stderr", "false"},
                            {"spool.spill_threshold", std::to_string(256 * 1024)},
                            {"spool.spool_dir", "/var/tmp"},
                            {"max_parallel_evaluations", "0"},
                            {"realtime_priority", "1"},
                            {"realtime_budget_ms", "20"},
                            {"limits.max_header_count", "1000"},
                            {"limits.max_header_bytes", "1048576"},
                            {"limits.max_mime_parts", "1000"},
                            {"limits.max_mime_depth", "32"},
                            {"limits.max_text_words", "500000"},
                            {"limits.max_redactions", "1000"},
                            {"limits.cpu_budget_ms", "2000"},
                            {"over_budget_tempfail", "false"},
                        });
    EXPECT_EQ(c->log_facility, LOG_MAIL);
    EXPECT_GE(parallel_evaluations(*c), 2);
}

TEST_F(ConfigTest, FullConfigWithEveryKey) {
    std::filesystem::create_directories(dir_.path() / "keys");
    write_key(dir_.file("keys/audit.key"), kKey + "\r\n");
    const std::string text =
        "socket: unix:/run/marketplace-milter/milter.sock\n"
        "domain: Marketplace.Example\n"
        "policy: rules/../rules/policy.yaml\n"
        "store:\n"
        "  type: sqlite\n"
        "  path: /var/lib/marketplace-milter/store.db\n"
        "  busy_timeout_ms: 250\n"
        "  synchronous: full\n"
        "audit_log: \"-\"\n"
        "hmac_key_file: keys/audit.key\n"
        "cache_ttl_ms: 0\n"
        "milter_timeout: 60\n"
        "log_stderr: true\n"
        "log:\n"
        "  facility: local3\n"
        "socket_mode: \"0666\"\n"
        "spill_threshold_bytes: 0\n"
        "spool_dir: spool\n"
        "max_parallel_evaluations: 3\n"
        "realtime_priority: 0\n"
        "realtime_budget_ms: 5\n"
        "limits:\n"
        "  max_header_count: 500\n"
        "  max_header_bytes: 65536\n"
        "  max_mime_parts: 200\n"
        "  max_mime_depth: 10\n"
        "  max_text_words: 20000\n"
        "  max_redactions: 50\n"
        "  cpu_budget_ms: 0\n"
        "  over_budget_action: tempfail\n"
        "metrics:\n"
        "  listen: \"[::1]:9464\"\n"
        "  allow_remote: false\n";
    auto c = load_config(config_file(text));
    ASSERT_TRUE(c) << c.error().message;
    expect_settings(*c, {
                            {"socket", "unix:/run/marketplace-milter/milter.sock"},
                            {"socket_mode", "0666"},
                            {"domain", "marketplace.example"},
                            {"policy_path", dir_.file("rules/policy.yaml")},
                            {"store.path", "/var/lib/marketplace-milter/store.db"},
                            {"store.busy_timeout_ms", "250"},
                            {"store.sync_full", "true"},
                            {"audit_log", "-"},
                            {"hmac_key_file", dir_.file("keys/audit.key")},
                            {"hmac_key", kKey},  // "\r\n" stripped
                            {"cache_ttl_ms", "0"},
                            {"milter_timeout", "60"},
                            {"log_stderr", "true"},
                            {"spool.spill_threshold", "0"},
                            // relative to the config file
                            {"spool.spool_dir", dir_.file("spool")},
                            {"max_parallel_evaluations", "3"},
                            {"realtime_priority", "0"},
                            {"realtime_budget_ms", "5"},
                            {"limits.max_header_count", "500"},
                            {"limits.max_header_bytes", "65536"},
                            {"limits.max_mime_parts", "200"},
                            {"limits.max_mime_depth", "10"},
                            {"limits.max_text_words", "20000"},
                            {"limits.max_redactions", "50"},
                            {"limits.cpu_budget_ms", "0"},
                            {"over_budget_tempfail", "true"},
                            {"metrics.listen", "[::1]:9464"},
                            {"metrics.allow_remote", "false"},
                        });
    EXPECT_EQ(c->log_facility, LOG_LOCAL3);
    EXPECT_EQ(parallel_evaluations(*c), 3);
}

TEST_F(ConfigTest, PostgresStoreWithItsKeysAndThePoolDefaultingToTheEvaluationSlots) {
    const std::string store =
        "store:\n"
        "  type: postgres\n"
        "  dsn: host=db.example dbname=marketplace user=milter\n"
        "  passfile: pgpass\n"
        "  statement_timeout_ms: 750\n";
    auto c =
        load_config(config_file(base_config("store", store + "max_parallel_evaluations: 6\n")));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->store.type, "postgres");
    EXPECT_EQ(c->store.postgres.dsn, "host=db.example dbname=marketplace user=milter");
    EXPECT_EQ(c->store.postgres.passfile, dir_.file("pgpass"));  // relative to the config file
    EXPECT_EQ(c->store.postgres.statement_timeout_ms, 750);
    EXPECT_EQ(c->store.postgres.pool, 6);
    EXPECT_TRUE(c->store.path.empty());

    c = load_config(config_file(base_config("store", store + "  pool: 3\n")));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->store.postgres.pool, 3);
}

TEST_F(ConfigTest, RelativeConfigPathResolvesAgainstItsDirectoryNotTheCwd) {
    std::string path = config_file(base_config("", ""));
    auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir_.path().parent_path());
    auto c = load_config(dir_.path().filename().string() + "/marketplace-milter.yaml");
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->policy_path, dir_.file("policy.yaml"));
    EXPECT_EQ(c->hmac_key, kKey);
}

// ---- errors: one row per case --------------------------------------------

struct ErrorCase {
    const char* name;
    std::string omit;      // base line left out ("" for none)
    std::string extra;     // appended after the base lines
    std::string expected;  // after "FILE:"; "{dir}" is the temp dir
};
void PrintTo(const ErrorCase& c, std::ostream* os) {
    *os << c.name;
}

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ConfigErrorTest, ReportsFileLineColumnAndMessage) {
    const ErrorCase& tc = GetParam();
    std::string path = config_file(base_config(tc.omit, tc.extra));
    auto c = load_config(path);
    ASSERT_FALSE(c) << "loaded although it should fail:\n" << base_config(tc.omit, tc.extra);
    EXPECT_EQ(c.error().code, Errc::invalid);
    EXPECT_EQ(c.error().message, path + ":" + expand(tc.expected, dir()));
}

const std::string kForms = "(expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path)";

// clang-format off
const ErrorCase kErrorCases[] = {
    {"UnknownKey", "", "sokcet: inet:8891@127.0.0.1\n", "6:1: unknown key 'sokcet'"},
    {"DuplicateKey", "", "domain: other.example\n", "6:1: duplicate key 'domain'"},
    {"KeyIsNotAName", "", "[a, b]: 1\n", "6:1: expected a key name, got a list"},
    {"MissingDomain", "domain", "", "1:1: missing required key 'domain'"},
    {"MissingPolicy", "policy", "", "1:1: missing required key 'policy'"},
    {"MissingStore", "store", "", "1:1: missing required key 'store'"},
    {"MissingAuditLog", "audit_log", "", "1:1: missing required key 'audit_log'"},
    {"MissingKeyFile", "hmac_key_file", "", "1:1: missing required key 'hmac_key_file'"},
    {"InvalidDomain", "domain", "domain: not_a_domain\n",
     "5:9: domain: invalid domain 'not_a_domain'"},
    {"DomainTrailingDot", "domain", "domain: marketplace.example.\n",
     "5:9: domain: invalid domain 'marketplace.example.'"},
    {"DomainIsAList", "domain", "domain: [a, b]\n", "5:9: domain: expected a string, got a list"},
    {"DomainEmpty", "domain", "domain: \"\"\n", "5:9: domain: must not be empty"},
    {"PolicyWithoutValue", "policy", "policy:\n", "5:1: policy: missing value"},
    {"AuditLogEmpty", "audit_log", "audit_log: ''\n", "5:12: audit_log: must not be empty"},
    {"SocketPortZero", "", "socket: inet:0@127.0.0.1\n",
     "6:9: socket: port '0' must be a number from 1 to 65535"},
    {"SocketPortTooBig", "", "socket: inet:65536@127.0.0.1\n",
     "6:9: socket: port '65536' must be a number from 1 to 65535"},
    {"SocketPortName", "", "socket: inet:milter@127.0.0.1\n",
     "6:9: socket: port 'milter' must be a number from 1 to 65535"},
    {"SocketPostfixSyntax", "", "socket: inet:127.0.0.1:8891\n",
     "6:9: socket: 'inet:127.0.0.1:8891' is Postfix syntax; libmilter writes inet:8891@127.0.0.1"},
    {"SocketNoHost", "", "socket: inet:8891\n",
     "6:9: socket: 'inet:8891': expected inet:PORT@HOST"},
    {"SocketUnknownType", "", "socket: tcp:8891@127.0.0.1\n",
     "6:9: socket: unknown socket type 'tcp' " + kForms},
    {"SocketNoScheme", "", "socket: /run/milter.sock\n",
     "6:9: socket: '/run/milter.sock' is not a libmilter socket " + kForms},
    {"SocketBadIPv4", "", "socket: inet:8891@127.0.0.256\n",
     "6:9: socket: invalid host '127.0.0.256'"},
    {"SocketBadHostname", "", "socket: inet:8891@bad_host\n",
     "6:9: socket: invalid host 'bad_host'"},
    {"SocketEmptyHost", "", "socket: inet:8891@\n", "6:9: socket: invalid host ''"},
    {"SocketBadIPv6", "", "socket: inet6:8891@::zz\n", "6:9: socket: invalid host '::zz'"},
    {"SocketRelativeUnix", "", "socket: unix:milter.sock\n",
     "6:9: socket: unix socket path 'milter.sock' must be absolute"},
    {"SocketUnixTooLong", "", "socket: unix:/" + std::string(120, 'x') + "\n",
     "6:9: socket: unix socket path is too long (121 bytes, max 107)"},
    {"StoreTypeUnsupported", "store", "store:\n  type: postgresql\n  path: x.db\n",
     "6:9: store.type: unsupported store type 'postgresql' (expected sqlite or postgres)"},
    {"StoreUnknownKey", "store", "store:\n  path: x.db\n  pth: y.db\n",
     "7:3: unknown key 'pth' in 'store'"},
    {"StoreMissingPath", "store", "store:\n  type: sqlite\n",
     "6:3: missing required key 'path' in 'store'"},
    {"StorePostgresMissingDsn", "store", "store:\n  type: postgres\n",
     "6:3: missing required key 'dsn' in 'store' (type postgres)"},
    {"StorePostgresWithPath", "store", "store:\n  type: postgres\n  dsn: dbname=x\n  path: x.db\n",
     "8:9: store.path: not a setting of store type postgres"},
    {"StoreSqliteWithDsn", "store", "store:\n  path: x.db\n  dsn: dbname=x\n",
     "7:8: store.dsn: not a setting of store type sqlite"},
    {"StorePoolZero", "store", "store:\n  type: postgres\n  dsn: dbname=x\n  pool: 0\n",
     "8:9: store.pool: 0 is out of range (1 to 1000)"},
    {"StoreIsAScalar", "store", "store: sqlite\n", "5:8: store: expected a mapping, got a scalar"},
    {"StoreWithoutValue", "store", "store:\n", "5:1: store: missing value"},
    {"BusyTimeoutNegative", "store", "store:\n  path: x.db\n  busy_timeout_ms: -1\n",
     "7:20: store.busy_timeout_ms: -1 is out of range (0 to 600000)"},
    {"SocketModeNotOctal", "", "socket_mode: \"0669\"\n",
     "6:14: socket_mode: '0669' is not an octal file mode (such as \"0660\")"},
    {"SocketModeTooLarge", "", "socket_mode: \"1777\"\n",
     "6:14: socket_mode: '1777' is not an octal file mode (such as \"0660\")"},
    {"SynchronousUnknown", "store", "store:\n  path: x.db\n  synchronous: off\n",
     "7:16: store.synchronous: unknown value 'off' (expected normal or full)"},
    {"CacheTtlNotANumber", "", "cache_ttl_ms: abc\n",
     "6:15: cache_ttl_ms: expected an integer, got 'abc'"},
    {"CacheTtlFloat", "", "cache_ttl_ms: 1.5\n",
     "6:15: cache_ttl_ms: expected an integer, got '1.5'"},
    {"CacheTtlHuge", "", "cache_ttl_ms: 99999999999999999999\n",
     "6:15: cache_ttl_ms: 99999999999999999999 is out of range (0 to 86400000)"},
    {"MilterTimeoutZero", "", "milter_timeout: 0\n",
     "6:17: milter_timeout: 0 is out of range (1 to 86400)"},
    {"MilterTimeoutList", "", "milter_timeout: [1]\n",
     "6:17: milter_timeout: expected an integer, got a list"},
    {"LogStderrYes", "", "log_stderr: yes\n",
     "6:13: log_stderr: expected true or false, got 'yes'"},
    {"LogFacilityUnknown", "", "log:\n  facility: kern\n",
     "7:13: log.facility: unknown facility 'kern' (expected mail, daemon, user or local0 to local7)"},
    {"LogUnknownKey", "", "log:\n  level: info\n", "7:3: unknown key 'level' in 'log'"},
    {"MalformedFlowList", "", "socket: [inet:8891@127.0.0.1\n",
     "7:1: end of sequence flow not found"},
    {"SpillThresholdNegative", "", "spill_threshold_bytes: -1\n",
     "6:24: spill_threshold_bytes: -1 is out of range (0 to 1073741824)"},
    {"SpoolDirEmpty", "", "spool_dir: \"\"\n", "6:12: spool_dir: must not be empty"},
    {"MaxParallelTooLarge", "", "max_parallel_evaluations: 5000\n",
     "6:27: max_parallel_evaluations: 5000 is out of range (0 to 4096)"},
    {"RealtimePriorityTooLarge", "", "realtime_priority: 100\n",
     "6:20: realtime_priority: 100 is out of range (0 to 99)"},
    {"RealtimeBudgetZero", "", "realtime_budget_ms: 0\n",
     "6:21: realtime_budget_ms: 0 is out of range (1 to 10000)"},
    {"MalformedIndent", "", "cache_ttl_ms: 1\n  milter_timeout: 2\n", "7:17: illegal map value"},
    {"LimitsUnknownKey", "", "limits:\n  max_headers: 5\n",
     "7:3: unknown key 'max_headers' in 'limits'"},
    {"LimitsHeaderCountZero", "", "limits:\n  max_header_count: 0\n",
     "7:21: limits.max_header_count: 0 is out of range (1 to 10000000)"},
    {"LimitsDepthTooLarge", "", "limits:\n  max_mime_depth: 1001\n",
     "7:19: limits.max_mime_depth: 1001 is out of range (1 to 1000)"},
    {"LimitsBudgetNegative", "", "limits:\n  cpu_budget_ms: -5\n",
     "7:18: limits.cpu_budget_ms: -5 is out of range (0 to 3600000)"},
    {"LimitsOverBudgetUnknown", "", "limits:\n  over_budget_action: bounce\n",
     "7:23: limits.over_budget_action: unknown value 'bounce' (expected reject or tempfail)"},
    {"LimitsIsAScalar", "", "limits: 5\n", "6:9: limits: expected a mapping, got a scalar"},
    {"MetricsNotLoopback", "", "metrics:\n  listen: 0.0.0.0:9464\n",
     "7:11: metrics.listen: 0.0.0.0:9464 is not a loopback address; the endpoint has no "
     "authentication (set metrics.allow_remote: true to listen there anyway)"},
    {"MetricsNotLoopbackV6", "", "metrics: {allow_remote: false, listen: \"[2001:db8::1]:9464\"}\n",
     "6:40: metrics.listen: [2001:db8::1]:9464 is not a loopback address; the endpoint has no "
     "authentication (set metrics.allow_remote: true to listen there anyway)"},
    {"MetricsHostName", "", "metrics:\n  listen: localhost:9464\n",
     "7:11: metrics.listen: 'localhost:9464': 'localhost' is not an IPv4 address (no host names) "
     "(expected IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)"},
    {"MetricsNoPort", "", "metrics:\n  listen: 127.0.0.1\n",
     "7:11: metrics.listen: '127.0.0.1': no port (expected IP:PORT, e.g. 127.0.0.1:9464 or "
     "[::1]:9464)"},
    {"MetricsBadPort", "", "metrics:\n  listen: 127.0.0.1:99999\n",
     "7:11: metrics.listen: '127.0.0.1:99999': port '99999' is not a number from 0 to 65535 "
     "(expected IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)"},
    {"MetricsPortZero", "", "metrics:\n  listen: 127.0.0.1:0\n",
     "7:11: metrics.listen: port 0 is not a port to scrape"},
    {"MetricsIPv6WithoutBrackets", "", "metrics:\n  listen: \"::1:9464\"\n",
     "7:11: metrics.listen: '::1:9464': an IPv6 address goes in brackets (expected IP:PORT, e.g. "
     "127.0.0.1:9464 or [::1]:9464)"},
    {"MetricsUnknownKey", "", "metrics:\n  port: 9464\n",
     "7:3: unknown key 'port' in 'metrics'"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Errors, ConfigErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigTest, MetricsOffByDefaultAndRemoteOnlyWhenAllowed) {
    auto off = load_config(config_file(base_config("", "")));
    ASSERT_TRUE(off) << off.error().message;
    expect_settings(*off, {{"metrics.listen", ""}, {"metrics.allow_remote", "false"}});
    auto empty = load_config(config_file(base_config("", "metrics: {listen: \"\"}\n")));
    ASSERT_TRUE(empty) << empty.error().message;
    expect_settings(*empty, {{"metrics.listen", ""}});
    // allow_remote after listen: the check waits for the whole section.
    auto remote = load_config(
        config_file(base_config("", "metrics:\n  listen: 0.0.0.0:9464\n  allow_remote: true\n")));
    ASSERT_TRUE(remote) << remote.error().message;
    expect_settings(*remote,
                    {{"metrics.listen", "0.0.0.0:9464"}, {"metrics.allow_remote", "true"}});
    auto loopback =
        load_config(config_file(base_config("", "metrics: {listen: 127.1.2.3:9464}\n")));
    ASSERT_TRUE(loopback) << loopback.error().message;
    expect_settings(*loopback, {{"metrics.listen", "127.1.2.3:9464"}});
}

TEST_F(ConfigTest, TopLevelMustBeAMapping) {
    std::string path = config_file("- socket\n- domain\n");
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":1:1: expected a mapping of settings, got a list");
}

TEST_F(ConfigTest, EmptyFile) {
    std::string path = config_file("# nothing but a comment\n");
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":1:1: expected a mapping of settings, got an empty file");
}

TEST_F(ConfigTest, MissingConfigFile) {
    std::string path = dir_.file("nope.yaml");
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, Errc::invalid);
    EXPECT_EQ(c.error().message, path + ": cannot open: No such file or directory");
}

// ---- the HMAC key file ---------------------------------------------------

TEST_F(ConfigTest, KeyTooShort) {
    write_key(dir_.file("hmac.key"), std::string(31, 'k') + "\n");
    std::string path = config_file(base_config("", ""));
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":5:16: hmac_key_file: " + dir_.file("hmac.key") +
                                     ": key too short (31 bytes, need >= 32)");
}

TEST_F(ConfigTest, KeyReadableByOthersIsRefused) {
    write_file(dir_.file("hmac.key"), kKey + "\n");
    ::chmod(dir_.file("hmac.key").c_str(), 0644);
    std::string path = config_file(base_config("", ""));
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":5:16: hmac_key_file: " + dir_.file("hmac.key") +
                                     ": unsafe permissions 0644 (readable by others or writable "
                                     "by group or others); chmod 0600 or 0640");
}

TEST_F(ConfigTest, KeyWritableByGroupIsRefused) {
    ::chmod(dir_.file("hmac.key").c_str(), 0660);
    auto c = load_config(config_file(base_config("", "")));
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("unsafe permissions 0660"), std::string::npos);
}

TEST_F(ConfigTest, KeyReadableByGroupIsAccepted) {
    ::chmod(dir_.file("hmac.key").c_str(), 0640);
    auto c = load_config(config_file(base_config("", "")));
    ASSERT_TRUE(c) << c.error().message;
}

TEST_F(ConfigTest, KeyOfExactly32BytesIsEnough) {
    write_key(dir_.file("hmac.key"), std::string(32, 'k'));
    auto c = load_config(config_file(base_config("", "")));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->hmac_key, std::string(32, 'k'));
}

TEST_F(ConfigTest, KeyIsBinaryAndOnlyOneNewlineIsStripped) {
    std::string key = std::string("\0\x01\xff", 3) + std::string(29, 'k') + "\n";
    write_key(dir_.file("hmac.key"), key + "\n");
    auto c = load_config(config_file(base_config("", "")));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->hmac_key, key);
}

TEST_F(ConfigTest, KeyFileMissing) {
    std::filesystem::remove(dir_.file("hmac.key"));
    std::string path = config_file(base_config("", ""));
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":5:16: hmac_key_file: " + dir_.file("hmac.key") +
                                     ": cannot open: No such file or directory");
}

TEST_F(ConfigTest, KeyFileUnreadable) {
    std::filesystem::remove(dir_.file("hmac.key"));
    std::filesystem::create_directory(dir_.file("hmac.key"));  // read() fails: EISDIR
    std::string path = config_file(base_config("", ""));
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":5:16: hmac_key_file: " + dir_.file("hmac.key") +
                                     ": cannot read: Is a directory");
}

TEST_F(ConfigTest, KeyFileTooLarge) {
    write_key(dir_.file("hmac.key"), std::string(5000, 'k'));
    std::string path = config_file(base_config("", ""));
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":5:16: hmac_key_file: " + dir_.file("hmac.key") +
                                     ": too large (more than 4096 bytes)");
}

TEST_F(ConfigTest, SchemaErrorsAreReportedBeforeTheKeyFile) {
    std::filesystem::remove(dir_.file("hmac.key"));
    std::string path = config_file(base_config("", "log_stderr: maybe\n"));
    auto c = load_config(path);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message, path + ":6:13: log_stderr: expected true or false, got 'maybe'");
}

// ---- sockets libmilter accepts -------------------------------------------

class SocketTest : public ConfigTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(SocketTest, Accepted) {
    auto c =
        load_config(config_file(base_config("", std::string("socket: \"") + GetParam() + "\"\n")));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->socket, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Forms, SocketTest,
                         ::testing::Values("inet:8891@127.0.0.1", "inet:1@localhost",
                                           "inet:65535@mx.marketplace.example", "INET:8891@0.0.0.0",
                                           "inet6:8891@::1", "inet6:8891@2001:db8::25",
                                           "inet6:8891@localhost",
                                           "unix:/run/marketplace-milter/milter.sock",
                                           "local:/var/spool/postfix/milter/mm.sock"));

// ---- the committed example -----------------------------------------------

// etc/marketplace-milter.yaml is valid as shipped: copied beside a generated
// key (the shipped one points at /etc, and no key is ever committed) it loads.
TEST_F(ConfigTest, CommittedExampleLoads) {
    std::string text = read_file(std::string(MM_SOURCE_DIR) + "/etc/marketplace-milter.yaml");
    ASSERT_FALSE(text.empty());
    auto start = text.find("\nhmac_key_file: ");
    ASSERT_NE(start, std::string::npos);
    auto end = text.find('\n', start + 1);
    text.replace(start + 1, end - start - 1, "hmac_key_file: hmac.key");
    auto c = load_config(config_file(text));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->socket, "unix:/run/marketplace-milter/milter.sock");
    EXPECT_EQ(c->domain, "marketplace.example");
    EXPECT_EQ(c->policy_path, dir_.file("policy.yaml"));
    EXPECT_EQ(c->store.type, "sqlite");
    EXPECT_EQ(c->store.path, "/var/lib/marketplace-milter/store.db");
    EXPECT_EQ(c->store.busy_timeout_ms, 5000);
    EXPECT_EQ(c->audit_log, "/var/log/marketplace-milter/audit.log");
    EXPECT_EQ(c->cache_ttl, std::chrono::milliseconds(30000));
    EXPECT_EQ(c->milter_timeout, 300);
    EXPECT_FALSE(c->log_stderr);
    EXPECT_EQ(c->spool.spill_threshold, 262144u);
    EXPECT_EQ(c->spool.spool_dir, "/var/lib/marketplace-milter/spool");
    EXPECT_EQ(c->max_parallel_evaluations, 0);
    EXPECT_EQ(c->realtime_priority, 1);
    EXPECT_EQ(c->realtime_budget, std::chrono::milliseconds(20));
    EXPECT_EQ(c->limits.max_header_count, 1000u);
    EXPECT_EQ(c->limits.max_header_bytes, 1048576u);
    EXPECT_EQ(c->limits.max_mime_parts, 1000u);
    EXPECT_EQ(c->limits.max_mime_depth, 32u);
    EXPECT_EQ(c->limits.cpu_budget, std::chrono::milliseconds(2000));
    EXPECT_FALSE(c->over_budget_tempfail);
}

}  // namespace
}  // namespace mm::milter
