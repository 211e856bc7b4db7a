// The audit trail: X-Marketplace-Audit header values with their HMAC, JSON
// lines and the log file they go to.  See audit.h for the contract.
//
// SECURITY: the header is added to mail that leaves us, so every field is
// reduced to printable ASCII without ';' (and without ',' in rule ids) before
// it is signed: no header injection, and the signed text parses back the same
// way.  The JSON line is nlohmann::json's (written by hand for ASCII text,
// the same bytes); bytes from the outside (queue id, client, reply) that are
// not UTF-8 are replaced, never thrown on.
#include "audit/audit.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "util/hex.h"
#include "util/json_text.h"
#include "util/utc_time.h"

namespace mm::milter {
namespace {

constexpr std::string_view kHmacSep = "; hmac=";
constexpr size_t kHmacHexLen = 64;  // SHA-256

// Printable ASCII except ';' and the characters in `also`; anything else
// becomes '_'.
std::string header_safe(std::string_view s, std::string_view also = {}) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        bool ok = c >= 0x21 && c <= 0x7e && c != ';' && also.find(ch) == std::string_view::npos;
        out.push_back(ok ? ch : '_');
    }
    return out.empty() ? "_" : out;
}

bool is_decision_name(std::string_view s) {
    for (auto d : {policy::Decision::accept, policy::Decision::modify, policy::Decision::reject,
                   policy::Decision::tempfail, policy::Decision::quarantine}) {
        if (s == policy::to_string(d)) return true;
    }
    return false;
}

bool is_lower_hex(std::string_view s) {
    return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// "msgid:<tag>,rcpt:<tag>,date:<tag>,body:<tag>", names in that order.
bool is_bind_value(std::string_view s) {
    for (size_t i = 0; i < kBoundFieldNames.size(); ++i) {
        if (i > 0) {
            if (s.substr(0, 1) != ",") return false;
            s.remove_prefix(1);
        }
        const std::string_view name = kBoundFieldNames[i];
        if (s.substr(0, name.size()) != name || s.substr(name.size(), 1) != ":") return false;
        s.remove_prefix(name.size() + 1);
        if (s.size() < kBindTagHexLen || !is_lower_hex(s.substr(0, kBindTagHexLen))) return false;
        s.remove_prefix(kBindTagHexLen);
    }
    return s.empty();
}

// The signed part of a header value, split into its fields.
struct SignedFields {
    std::string_view id, decision, rules, bind, policy;
};

// "id=…; decision=…; rules=…; bind=…; policy=…" with each value non-empty
// and free of ';' and white space, the decision one of ours, bind= well
// formed.
std::optional<SignedFields> parse_signed(std::string_view s) {
    static constexpr std::string_view kFields[] = {
        "id=", "decision=", "rules=", "bind=", "policy="};
    std::string_view values[std::size(kFields)];
    for (size_t i = 0; i < std::size(kFields); ++i) {
        if (i > 0) {
            if (s.substr(0, 2) != "; ") return std::nullopt;
            s.remove_prefix(2);
        }
        if (s.substr(0, kFields[i].size()) != kFields[i]) return std::nullopt;
        s.remove_prefix(kFields[i].size());
        size_t end = s.find(';');
        std::string_view value = s.substr(0, end);
        if (value.empty() || value.find_first_of(" \t\r\n") != std::string_view::npos)
            return std::nullopt;
        values[i] = value;
        s.remove_prefix(value.size());
    }
    if (!s.empty() || !is_decision_name(values[1]) || !is_bind_value(values[3]))
        return std::nullopt;
    return SignedFields{values[0], values[1], values[2], values[3], values[4]};
}

bool same_secret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The value split at "; hmac=", after unfolding; nullopt if there is no
// 64-digit HMAC at its end.
std::optional<std::pair<std::string, std::string>> split_mac(const std::string& value) {
    const std::string v = canonical_field(value);
    auto pos = v.rfind(kHmacSep);
    if (pos == std::string::npos) return std::nullopt;
    std::string mac = v.substr(pos + kHmacSep.size());
    if (mac.size() != kHmacHexLen) return std::nullopt;
    return std::make_pair(v.substr(0, pos), std::move(mac));
}

bool mac_matches(const std::string& signed_part, const std::string& mac, const std::string& key) {
    if (key.empty()) return false;
    try {
        return same_secret(hmac_sha256_hex(key, signed_part), mac);
    } catch (const std::exception&) {
        return false;
    }
}

// RFC 3339, UTC, milliseconds: 2026-11-23T12:00:00.123Z.
std::string rfc3339_now() {
    using namespace std::chrono;
    auto now = time_point_cast<milliseconds>(system_clock::now());
    auto ms = static_cast<int>(now.time_since_epoch().count() % 1000);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", ms < 0 ? 0 : ms);
    return format_utc(system_clock::to_time_t(now), "%Y-%m-%dT%H:%M:%S") + frac;
}

bool ascii_record(const AuditRecord& r, const std::string& time) {
    for (const std::string* s : {&time, &r.audit_id, &r.queue_id, &r.client_addr, &r.smtp_reply,
                                 &r.sender_party, &r.recipient_party, &r.policy_version})
        if (!json_ascii(*s)) return false;
    return std::all_of(r.rules.begin(), r.rules.end(), [](const policy::RuleHit& h) {
        return json_ascii(h.id) && json_ascii(h.detail);
    });
}

// Opens `path` for appending, creating it with mode 0640 (before umask).
int open_append(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

// Writes all of `data`; false (errno set) if any of it did not go in, with
// `written` the bytes that did.
bool write_all(int fd, std::string_view data, size_t& written) {
    written = 0;
    while (written < data.size()) {
        const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) {
            errno = EIO;
            return false;
        }
        written += static_cast<size_t>(n);
    }
    return true;
}

// The rules= list: every hit in order while that stays short; past
// kMaxListedRuleBytes each id once, in order of its first hit, with its
// count ("attachment.type*4800"), and past kMaxRuleSummaryBytes the ids that
// do not fit as "+N".  Thousands of stripped parts or encoded files would
// otherwise push the header past what libmilter sends (65535 bytes) and the
// message would be tempfailed on every retry; the audit line keeps every hit.
constexpr std::size_t kMaxListedRuleBytes = 4096;
constexpr std::size_t kMaxRuleSummaryBytes = 8192;

std::string header_rule_ids(const std::vector<policy::RuleHit>& rules) {
    std::string ids;
    for (const auto& r : rules) {
        if (!ids.empty()) ids += ',';
        ids += header_safe(r.id, ",");
        if (ids.size() > kMaxListedRuleBytes) break;
    }
    if (ids.size() <= kMaxListedRuleBytes) return ids.empty() ? "none" : ids;
    std::vector<std::pair<std::string, std::size_t>> counted;
    for (const auto& r : rules) {
        std::string id = header_safe(r.id, ",");
        auto it = std::find_if(counted.begin(), counted.end(),
                               [&](const auto& c) { return c.first == id; });
        if (it == counted.end())
            counted.emplace_back(std::move(id), 1);
        else
            ++it->second;
    }
    ids.clear();
    std::size_t shown = 0;
    for (const auto& [id, n] : counted) {
        std::string entry = n == 1 ? id : id + "*" + std::to_string(n);
        if (ids.size() + entry.size() + 1 > kMaxRuleSummaryBytes) break;
        if (!ids.empty()) ids += ',';
        ids += entry;
        ++shown;
    }
    if (shown < counted.size())
        ids += (ids.empty() ? "+" : ",+") + std::to_string(counted.size() - shown);
    return ids;
}

}  // namespace

std::string new_audit_id() {
    return random_hex(8);
}

std::string audit_header_value(const std::string& audit_id, policy::Decision decision,
                               const std::vector<policy::RuleHit>& rules,
                               const std::string& policy_version, const BoundFields& bound,
                               const std::string& key) {
    const std::string ids = header_rule_ids(rules);
    std::string value = "id=" + header_safe(audit_id) +
                        "; decision=" + policy::to_string(decision) + "; rules=" + ids +
                        "; bind=" + bind_value(bound, key) +
                        "; policy=" + header_safe(policy_version);
    std::string mac = hmac_sha256_hex(key, value);
    value += kHmacSep;
    value += mac;
    return value;
}

bool verify_audit_header(const std::string& value, const std::string& key) {
    auto split = split_mac(value);
    return split && parse_signed(split->first) && mac_matches(split->first, split->second, key);
}

bool AuditCheck::valid() const {
    if (!well_formed || !hmac_ok || fields.empty()) return false;
    return std::all_of(fields.begin(), fields.end(), [](const Field& f) { return f.ok; });
}

AuditCheck check_audit_header(const std::string& value, const std::string& key,
                              const BoundFields& delivered) {
    AuditCheck check;
    auto split = split_mac(value);
    auto fields = split ? parse_signed(split->first) : std::nullopt;
    if (!fields) return check;
    check.well_formed = true;
    check.audit_id = fields->id;
    check.decision = fields->decision;
    check.rules = fields->rules;
    check.policy = fields->policy;
    check.hmac_ok = mac_matches(split->first, split->second, key);
    std::string_view bind = fields->bind;
    for (std::string_view name : kBoundFieldNames) {
        // Well formed: "<name>:<tag>" then "," or the end.
        const std::string_view tag = bind.substr(name.size() + 1, kBindTagHexLen);
        bind.remove_prefix(std::min(bind.size(), name.size() + 1 + kBindTagHexLen + 1));
        const std::string& mine = bound_value(delivered, name);
        bool ok = false;
        try {
            ok = !key.empty() && same_secret(bind_tag(name, mine, key), tag);
        } catch (const std::exception&) {
        }
        check.fields.push_back({std::string(name), mine, ok});
    }
    return check;
}

std::string audit_json_line(const AuditRecord& record) {
    return audit_json_line(record, rfc3339_now());
}

std::string audit_json_line(const AuditRecord& record, const std::string& time) {
    if (!ascii_record(record, time)) return audit_json_line_by_library(record, time);
    std::string out;
    out.reserve(320 + record.smtp_reply.size() + 48 * record.rules.size());
    const auto field = [&out](std::string_view name, std::string_view value) {
        out += ",\"";
        out += name;
        out += "\":";
        json_put_string(out, value);
    };
    const auto number = [&out](std::string_view name, std::uint64_t value) {
        out += ",\"";
        out += name;
        out += "\":";
        out += std::to_string(value);
    };
    out += "{\"time\":";
    json_put_string(out, time);
    field("audit_id", record.audit_id);
    field("queue_id", record.queue_id);
    field("client", record.client_addr);
    field("decision", policy::to_string(record.decision));
    field("reply", record.smtp_reply);
    out += ",\"rules\":[";
    for (std::size_t i = 0; i < record.rules.size(); ++i) {
        out += i > 0 ? ",{\"id\":" : "{\"id\":";
        json_put_string(out, record.rules[i].id);
        out += ",\"detail\":";
        json_put_string(out, record.rules[i].detail);
        out += '}';
    }
    out += ']';
    field("sender_party", record.sender_party);
    field("recipient_party", record.recipient_party);
    field("policy", record.policy_version);
    number("size", record.size);
    number("elapsed_us", record.elapsed_us);
    number("milter_us", record.milter_us);
    number("milter_cpu_us", record.milter_cpu_us);
    out += '}';
    return out;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path, Reporter reporter) {
    std::unique_ptr<AuditLog> log(new AuditLog(path, std::move(reporter)));
    if (path == "-") {
        log->fd_ = STDOUT_FILENO;
        return log;
    }
    log->fd_ = open_append(path);
    if (log->fd_ < 0)
        return fail(Errc::unavailable, "audit log " + path + ": " + std::strerror(errno));
    return log;
}

AuditLog::~AuditLog() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
}

Result<void> AuditLog::write(const AuditRecord& record) {
    auto written = write_line(record);
    if (observer_) observer_(record, written.ok());
    return written;
}

Result<void> AuditLog::write_line(const AuditRecord& record) {
    std::string line = audit_json_line(record);
    line += '\n';
    std::lock_guard lock(mu_);
    // The fragment a failed write left ends here, so this line parses.
    const bool ends_fragment = torn_;
    if (ends_fragment) line.insert(line.begin(), '\n');
    size_t written = 0;
    if (write_all(fd_, line, written)) {
        torn_ = false;
        if (failing_.exchange(false))
            report(Health::recovered, "audit log " + path_ + ": written again");
        return {};
    }
    const std::string why = "audit log " + path_ + ": cannot write: " + std::strerror(errno);
    // Part of this line went in, unless all that did was the fragment's end.
    if (written > 0) torn_ = !(ends_fragment && written == 1);
    if (!failing_.exchange(true)) report(Health::failing, why);
    return fail(Errc::unavailable, why);
}

void AuditLog::report(Health health, const std::string& detail) {
    if (reporter_) {
        reporter_(health, detail);
        return;
    }
    std::fprintf(stderr, "marketplace-milter: %s\n", detail.c_str());
}

Result<void> AuditLog::reopen() {
    if (path_ == "-") return {};
    // Open the new file first: if that fails, keep writing to the old one.
    const int fresh = open_append(path_);
    if (fresh < 0)
        return fail(Errc::unavailable, "audit log " + path_ + ": " + std::strerror(errno));
    int old = -1;
    {
        std::lock_guard lock(mu_);
        old = fd_;
        fd_ = fresh;
        torn_ = false;  // a new file starts clean
    }
    if (old >= 0 && old != STDOUT_FILENO) ::close(old);
    return {};
}

std::string audit_json_line_by_library(const AuditRecord& record, const std::string& time) {
    nlohmann::ordered_json rules = nlohmann::ordered_json::array();
    for (const auto& r : record.rules) rules.push_back({{"id", r.id}, {"detail", r.detail}});
    nlohmann::ordered_json j;
    j["time"] = time;
    j["audit_id"] = record.audit_id;
    j["queue_id"] = record.queue_id;
    j["client"] = record.client_addr;
    j["decision"] = policy::to_string(record.decision);
    j["reply"] = record.smtp_reply;
    j["rules"] = std::move(rules);
    j["sender_party"] = record.sender_party;
    j["recipient_party"] = record.recipient_party;
    j["policy"] = record.policy_version;
    j["size"] = record.size;
    j["elapsed_us"] = record.elapsed_us;
    j["milter_us"] = record.milter_us;
    j["milter_cpu_us"] = record.milter_cpu_us;
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace mm::milter
