// The CLI subcommands other than `run`.  Each prints JSON on stdout and
// errors on stderr, and returns the process exit code: 0 success, 2 bad
// input (unknown party, duplicate id, malformed address, invalid config),
// 1 anything else (store unavailable, internal error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace mm::milter {

int exit_code(const Failure& f);
int report_failure(const Failure& f);  // prints "marketplace-milter: msg", returns exit_code

int cmd_check(const std::string& config_path);
// `migrate`: applies the store's missing schema versions (PostgreSQL, under
// an advisory lock; SQLite migrates whenever it opens) and prints the
// versions before and after as JSON.
int cmd_migrate(const std::string& config_path);

struct PartyArgs {
    std::string id;
    std::string role;
    std::optional<std::string> address;
    std::optional<std::string> name;
    std::optional<std::vector<std::string>> senders;
    std::map<std::string, std::string> attributes;
    // Sellers only (party set): "on" | "off", and the vacation notice ("" removes it).
    std::optional<std::string> messaging;
    std::optional<std::string> away_text;
};
int cmd_party_add(const std::string& config_path, const PartyArgs& args);
int cmd_party_set(const std::string& config_path, const PartyArgs& args);
int cmd_party_show(const std::string& config_path, const std::string& id);

int cmd_pair_add(const std::string& config_path, const std::string& buyer,
                 const std::string& seller);
// By parties, or by either alias address.
int cmd_pair_show(const std::string& config_path, const std::string& buyer,
                  const std::string& seller, const std::string& alias);

struct TestArgs {
    std::string from;
    std::vector<std::string> rcpts;
    std::string client = "127.0.0.1";
    std::string auth_sender;  // SASL login, as Postfix's {auth_authen}
    std::string out;          // write the message as delivered, if set
    std::string message;      // path, "-" for stdin
};
int cmd_test(const std::string& config_path, const TestArgs& args);

// `classify` (cli_classify.cc): the content rules' and contact reasons'
// verdict per file; 0 whatever the verdict, 2 on a bad config or policy or
// an unreadable file (the other files are still classified).  With `policy`
// set the daemon config is not read; otherwise the config's policy is used
// and its HMAC key file is not read (nothing is signed).
struct ClassifyArgs {
    std::vector<std::string> files;
    bool json = false;     // one JSON object per file and line
    bool explain = false;  // concepts, words, excerpts
    std::string lang;      // only this language's lexicon ("" = chosen per message)
    std::string from;      // seller | buyer ("" = X-Direction, else seller)
    std::string policy;    // a policy.yaml to use instead of the config's
};
int cmd_classify(const std::string& config_path, const ClassifyArgs& args);

// `audit verify` (cli_audit.cc): prints each check; returns 0 valid, 1
// invalid, 2 unreadable (config, message file, no X-Marketplace-Audit).
struct AuditVerifyArgs {
    std::vector<std::string> rcpts;  // the envelope recipients; none: from the message
    bool json = false;
    std::string message;  // path, "-" for stdin
};
int cmd_audit_verify(const std::string& config_path, const AuditVerifyArgs& args);

// Marketplace rules (cli_marketplace.cc).
// Buyers only; value "on" | "off".
int cmd_optout_set(const std::string& config_path, const std::string& party,
                   const std::string& value);
int cmd_optout_show(const std::string& config_path, const std::string& party);

struct OrderArgs {
    std::string id;
    std::optional<std::int64_t> pair_id;  // or buyer + seller
    std::string buyer;
    std::string seller;
    std::string kind = "standard";
    std::string fulfilment = "fbm";
};
int cmd_order_add(const std::string& config_path, const OrderArgs& args);
int cmd_order_show(const std::string& config_path, const std::string& id);

struct ReportArgs {
    std::string seller;  // "" = every seller
    std::string since;   // YYYY-MM-DD (UTC), "" = everything
    double within_hours = 24;
    bool json = false;
};
int cmd_report_response_times(const std::string& config_path, const ReportArgs& args);

// `report` over the audit log (cli_report*.cc): text, JSON or one HTML page.
// Files: the config's audit_log and its rotated siblings unless named; read
// oldest first.  Returns 0 (bad lines and cut gzip streams are counted in
// the report), 2 bad arguments or no log, 1 store failure or unwritable --out.
struct AuditReportArgs {
    std::string since;            // YYYY-MM-DD (UTC), inclusive; "" = from the start
    std::string until;            // YYYY-MM-DD (UTC), inclusive; "" = to the end
    std::string format = "text";  // text | json | html
    std::string out;              // "" = stdout
    std::size_t top = 20;         // rows of each top-N list
    std::vector<std::string> files;
};
int cmd_report(const std::string& config_path, const AuditReportArgs& args);
// `report audit-id ID`: every audit line of one message, across the files,
// as JSON.  0 found, 2 not found (or no log), 1 unreadable.
int cmd_report_audit_id(const std::string& config_path, const std::string& audit_id,
                        std::vector<std::string> files);

// `export` and `import` (cli_transfer.cc): the whole store as JSON Lines
// (store_jsonl.h).  export writes to `out_path` ("" or "-": stdout) and then
// prints the counts; import reads `in_path` ("" or "-": stdin) into an empty
// store, all or nothing, and prints the counts.  2 on a bad file (the
// message names FILE:LINE), a store that is not empty or of another schema
// version; 1 store unavailable.
int cmd_export(const std::string& config_path, const std::string& out_path);
int cmd_import(const std::string& config_path, const std::string& in_path);

// "YYYY-MM-DD" as unix seconds at 00:00 UTC; nullopt if malformed or not a
// calendar date.
std::optional<std::int64_t> parse_utc_date(const std::string& s);

}  // namespace mm::milter
