// Config: the daemon's marketplace-milter.yaml, validated.
//
// Relative paths in the file are resolved against the directory of the file
// itself, so a config and its policy, key and database can travel together.
// Unknown keys are errors: "marketplace-milter.yaml:7:3: unknown key ...".
#pragma once

#include <chrono>
#include <string>

#include "alias/store_factory.h"
#include "util/result.h"

namespace mm::milter {

struct Config {
    std::string path;                            // the file this came from
    std::string socket = "inet:8891@127.0.0.1";  // libmilter socket spec
    unsigned socket_mode = 0660;                 // permissions of a unix socket
    std::string domain;                          // marketplace domain, lower case
    alias::StoreConfig store;
    std::string policy_path;    // policy.yaml
    std::string audit_log;      // JSON lines; "-" for stdout
    std::string hmac_key_file;  // secret for the X-Marketplace-Audit HMAC
    std::string hmac_key;       // its contents, loaded by load_config
    std::chrono::milliseconds cache_ttl{30000};
    int milter_timeout = 300;  // seconds, libmilter smfi_settimeout
    bool log_stderr = false;   // also log to stderr (foreground / containers)
};

// Loads, validates and reads the HMAC key (which must be >= 32 bytes).
Result<Config> load_config(const std::string& path);

}  // namespace mm::milter
