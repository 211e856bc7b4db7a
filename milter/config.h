// Config: the daemon's marketplace-milter.yaml, validated.
//
// Relative paths in the file are resolved against the directory of the file
// itself, so a config and its policy, key and database can travel together.
// Unknown keys are errors: "marketplace-milter.yaml:7:3: unknown key ...".
#pragma once

#include <syslog.h>

#include <chrono>
#include <string>
#include <vector>

#include "alias/store_factory.h"
#include "policy/limits.h"
#include "policy/mime/message_body.h"
#include "util/result.h"

namespace mm::yaml {
struct KeyInfo;
}

namespace mm::milter {

struct Config {
    std::string path;                                                 // the file this came from
    std::string socket = "unix:/run/marketplace-milter/milter.sock";  // libmilter socket spec
    unsigned socket_mode = 0660;  // permissions of a unix socket
    std::string domain;           // marketplace domain, lower case
    alias::StoreConfig store;
    std::string policy_path;    // policy.yaml
    std::string audit_log;      // JSON lines; "-" for stdout
    std::string hmac_key_file;  // secret for the X-Marketplace-Audit HMAC
    std::string hmac_key;       // its contents, loaded by load_config
    std::chrono::milliseconds cache_ttl{30000};
    int milter_timeout = 300;     // seconds, libmilter smfi_settimeout
    bool log_stderr = false;      // also log to stderr (foreground / containers)
    int log_facility = LOG_MAIL;  // log.facility; read at start only
    // Message bodies over spool.spill_threshold bytes go to an unlinked file
    // in spool.spool_dir (spill_threshold_bytes, spool_dir).
    policy::SpoolOptions spool{256 * 1024, "/var/tmp"};
    // At most this many messages evaluated at once; 0: twice the CPUs (min 2).
    // Read at start only.
    int max_parallel_evaluations = 0;
    // SCHED_FIFO priority for the end of message of messages held in memory
    // (milter/realtime.h); 0: never.  Read at start only.
    int realtime_priority = 1;
    // The CPU time one end of message may use under it before it continues at
    // the normal priority.  Read at start only.
    std::chrono::milliseconds realtime_budget{20};
    // Bounds every message meets as it arrives and while it is evaluated
    // (policy/limits.h); a message over one is refused, never evaluated.
    policy::MessageLimits limits = default_limits();
    // A message over limits.cpu_budget: refused (552 5.3.4), or tempfailed
    // (451 4.3.0) so the MTA retries it.
    bool over_budget_tempfail = false;
    // The Prometheus endpoint (milter/metrics_server.h); listen empty: off.
    // Read at start only.
    struct Metrics {
        std::string listen;         // IP:PORT, checked by parse_listen
        bool allow_remote = false;  // a listen address that is not loopback
    } metrics;

    // The `limits:` defaults: Postfix's own header bounds are per field
    // (header_size_limit 102400) and per hop count (hopcount_limit 50);
    // these leave real mail, with tens of fields and parts, far inside.
    static policy::MessageLimits default_limits() {
        policy::MessageLimits l;
        l.max_header_count = 1000;
        l.max_header_bytes = 1 << 20;
        l.max_mime_parts = 1000;
        l.max_mime_depth = 32;
        l.max_text_words = 500000;
        l.max_redactions = 1000;
        l.cpu_budget = std::chrono::milliseconds(2000);
        return l;
    }
};

// max_parallel_evaluations with 0 resolved: twice the CPUs, at least 2.
int parallel_evaluations(const Config& config);

// Whether load_config reads the HMAC key: `classify` and other tools that
// sign nothing run as operators who may not be able to read it.
enum class KeyFile { read, skip };

// Loads, validates and reads the HMAC key (which must be >= 32 bytes) unless
// told to skip it (hmac_key stays empty).
Result<Config> load_config(const std::string& path, KeyFile key = KeyFile::read);

// The keys load_config accepts, with their documentation (policy/yaml_schema.h).
std::vector<yaml::KeyInfo> config_schema();

}  // namespace mm::milter
