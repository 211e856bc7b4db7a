// `marketplace-milter report`: what the audit log says, for security teams.
//
// Three jobs, three files: cli_report_read.cc finds the log and its rotated
// siblings and streams their lines (gzip through zlib) into the Aggregator
// (cli_report_aggregate.cc), which keeps counts, never lines: memory grows
// with days, rules and sellers, not with the log, and keys that come from
// mail (link domains, attachment types, failure details) go through
// bounded top-N counters.  cli_report_text.cc and cli_report_html.cc render
// the ReportData.  cli_report.cc holds the two entry points of cli.h.
//
// Sellers are named by their party ids, as the log names them; the store
// says which party of a line is the seller.  No real address is in the log,
// so none can reach the report.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "alias/party.h"
#include "audit/audit_line.h"
#include "policy/verdict.h"
#include "util/result.h"

namespace mm::milter::report {

// The Space-Saving top-N counter: at most `capacity` keys.  Exact while no
// key was evicted; after that, each kept key's count overstates its true
// count by at most its `error`, and every key counted more often than
// total/capacity is still kept.
class TopCounter {
public:
    struct Entry {
        std::string key;
        std::uint64_t count = 0;
        std::uint64_t error = 0;
    };
    explicit TopCounter(std::size_t capacity = 1000) : capacity_(capacity) {}
    void add(const std::string& key, std::uint64_t n = 1);
    // The n largest, by count then key.
    std::vector<Entry> top(std::size_t n) const;
    bool exact() const { return evictions_ == 0; }
    std::uint64_t total() const { return total_; }

private:
    std::size_t capacity_;
    std::map<std::string, Entry> entries_;
    std::set<std::pair<std::uint64_t, std::string>> by_count_;
    std::uint64_t evictions_ = 0;
    std::uint64_t total_ = 0;
};

// Percentiles over at most `capacity` values: every value while there are
// that few, then a uniform sample (reservoir sampling, a fixed seed, so a
// report is reproducible).
class Sample {
public:
    explicit Sample(std::size_t capacity = 4096) : capacity_(capacity) {}
    void add(double v);
    std::uint64_t count() const { return seen_; }
    bool exact() const { return seen_ <= capacity_; }
    // p in [0, 1], interpolated as numpy does; nullopt when empty.
    std::optional<double> percentile(double p) const;

private:
    std::size_t capacity_;
    std::vector<double> values_;
    std::uint64_t seen_ = 0;
    std::uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
};

inline constexpr std::array<policy::Decision, 5> kDecisions = {
    policy::Decision::accept, policy::Decision::modify, policy::Decision::quarantine,
    policy::Decision::reject, policy::Decision::tempfail};

struct DecisionCounts {
    std::array<std::uint64_t, kDecisions.size()> n{};
    void add(policy::Decision d);
    std::uint64_t of(policy::Decision d) const;
    std::uint64_t total() const;
};

// One rule's lines.  refused, quarantined and tempfailed count the lines the
// rule decided (the reply's "(rule …)", else the last rule hit); stripped
// counts delivered lines on which the rule took something out.
struct RuleCounts {
    std::uint64_t hits = 0;
    std::uint64_t refused = 0;
    std::uint64_t stripped = 0;
    std::uint64_t quarantined = 0;
    std::uint64_t tempfailed = 0;
};

struct SellerStats {
    std::uint64_t sent = 0;  // lines with the seller as sender
    std::uint64_t refused = 0;
    std::uint64_t quarantined = 0;
    std::map<std::string, std::uint64_t> refused_by_rule;
    // [Important]: tagged = critical + misuse (each tagged message hits one);
    // over_threshold: held for the seller's daily number of tagged messages.
    std::uint64_t tagged = 0;
    std::uint64_t critical = 0;
    std::uint64_t misuse = 0;
    std::uint64_t over_threshold = 0;
    // First-reply times: from a delivered buyer message that waited for an
    // answer to the seller's next delivered message to that buyer.
    std::uint64_t buyer_messages = 0;
    std::uint64_t answered = 0;
    Sample reply_seconds;
};

struct BadLine {
    std::string where;  // file:line
    std::string why;
};

struct ReportData {
    std::vector<std::string> files;
    std::vector<std::string> file_errors;  // unreadable, or a gzip stream cut short
    std::uint64_t lines = 0;               // non-empty lines read
    std::uint64_t records = 0;             // lines parsed and within the dates
    std::uint64_t outside_dates = 0;
    std::uint64_t bad_lines = 0;
    std::vector<BadLine> bad_examples;       // the first kMaxBadExamples
    std::int64_t first_ms = 0, last_ms = 0;  // of the records; 0 if none
    DecisionCounts totals;
    std::map<std::string, DecisionCounts> per_day;  // YYYY-MM-DD
    std::map<std::string, RuleCounts> rules;
    std::map<std::string, std::map<std::string, std::uint64_t>> refusals_per_day;  // day, rule
    std::map<std::string, SellerStats> sellers;
    std::uint64_t unknown_parties = 0;  // lines naming a party the store does not know
    TopCounter attachments_stripped, attachments_refused;  // by detected type
    TopCounter link_domains;  // messages each domain's links were removed from
    std::uint64_t links_removed = 0, messages_with_links_removed = 0;
    std::map<std::string, std::uint64_t> tempfail_causes;  // deciding rule
    TopCounter tempfail_details;                           // "rule: detail"
};

inline constexpr std::size_t kMaxBadExamples = 20;

struct ReportOptions {
    std::optional<std::int64_t> since_ms;  // records at or after
    std::optional<std::int64_t> until_ms;  // records before
    std::string since, until;              // as given, for the heading
    std::string format = "text";           // text | json | html
    std::size_t top = 20;                  // rows of each top-N list
};

// The role of a party id: nullopt if the store does not know it.
using RoleOf = std::function<Result<std::optional<alias::Role>>(const std::string& party_id)>;

class Aggregator {
public:
    Aggregator(const ReportOptions& options, RoleOf role_of)
        : options_(options), role_of_(std::move(role_of)) {}
    // One line of `file` (number `line_no`); fails only when the store does.
    Result<void> add_line(std::string_view text, const std::string& file, std::uint64_t line_no);
    void file_error(std::string why) { data_.file_errors.push_back(std::move(why)); }
    void file_read(const std::string& file) { data_.files.push_back(file); }
    ReportData finish() { return std::move(data_); }

private:
    Result<void> add_record(const AuditLine& line);
    Result<std::optional<alias::Role>> role(const std::string& party);
    void add_rules(const AuditLine& line, const std::string& decided_by);
    void add_seller(const AuditLine& line, const std::string& seller, bool seller_sent,
                    const std::string& buyer, const std::string& decided_by);

    const ReportOptions& options_;
    RoleOf role_of_;
    ReportData data_;
    std::map<std::string, std::optional<alias::Role>> roles_;
    // buyer id + '\n' + seller id -> when the oldest unanswered buyer message went out.
    std::map<std::string, std::int64_t> waiting_;
};

// The rule that decided a line: the reply's "(rule …)" when it names one of
// the line's hits, else the last hit; "(none)" without hits.
std::string deciding_rule(const AuditLine& line);

// --- reading (cli_report_read.cc) ---

// `path` and its rotated siblings that exist (path.1, path.2.gz, path-20260101.gz
// ...), oldest first.
std::vector<std::string> rotated_logs(const std::string& path);
// Sorts rotated names of one log oldest first; other names keep their order.
void oldest_first(std::vector<std::string>& paths);
// Calls `each` with every line of `path` (gzip or plain, without its
// newline) and its number.  A line over kMaxLineBytes is passed cut to that
// length (it will not parse).  Fails if the file cannot be opened, or (after
// the lines before it) if a gzip stream is cut short or corrupt.
inline constexpr std::size_t kMaxLineBytes = 1 << 20;
Result<void> for_each_line(
    const std::string& path,
    const std::function<Result<void>(std::string_view, std::uint64_t)>& each);

// --- rendering ---

// One section of the report as rows of text: the text and HTML outputs both
// draw from these, so they cannot disagree.
struct Table {
    std::string id;     // html anchor, "per-day"
    std::string title;  // "Decisions per day"
    std::string note;   // one line under the title; may be empty
    std::vector<std::string> headers;
    std::vector<bool> numeric;  // per column: right-aligned, sorted as numbers
    std::vector<std::vector<std::string>> rows;
    std::string empty = "(none)";
};
std::vector<Table> report_tables(const ReportData& data, const ReportOptions& options);
// Rules by how often they refused, stripped, quarantined or tempfailed.
std::vector<std::pair<std::string, RuleCounts>> rules_by_weight(const ReportData& data);
// Sellers with refusals, most refused first.
std::vector<std::pair<std::string, const SellerStats*>> sellers_by_refusals(const ReportData& data);
std::string iso_ms(std::int64_t ms);  // 2026-11-23T12:00:00Z
std::string render_text(const ReportData& data, const ReportOptions& options);
std::string render_json(const ReportData& data, const ReportOptions& options);
std::string render_html(const ReportData& data, const ReportOptions& options);

// Seconds as "3.2 h" style text for the text and HTML outputs.
std::string hours_text(std::optional<double> seconds);

}  // namespace mm::milter::report
