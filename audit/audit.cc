// The audit trail: X-Marketplace-Audit header values with their HMAC, JSON
// lines and the log file they go to.  See audit.h for the contract.
//
// SECURITY: the header is added to mail that leaves us, so every field is
// reduced to printable ASCII without ';' (and without ',' in rule ids) before
// it is signed: no header injection, and the signed text parses back the same
// way.  The JSON line is built by nlohmann::json; bytes from the outside
// (queue id, client, reply) that are not UTF-8 are replaced, never thrown on.
#include "audit/audit.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string_view>

#include "util/hex.h"

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

// "id=…; decision=…; rules=…; policy=…" with each value non-empty and free
// of ';', the decision one of ours.
bool well_formed(std::string_view s) {
    static constexpr std::string_view kFields[] = {"id=", "decision=", "rules=", "policy="};
    for (size_t i = 0; i < std::size(kFields); ++i) {
        if (i > 0) {
            if (s.substr(0, 2) != "; ") return false;
            s.remove_prefix(2);
        }
        if (s.substr(0, kFields[i].size()) != kFields[i]) return false;
        s.remove_prefix(kFields[i].size());
        size_t end = s.find(';');
        std::string_view value = s.substr(0, end);
        if (value.empty() || value.find_first_of(" \t\r\n") != std::string_view::npos) return false;
        if (i == 1 && !is_decision_name(value)) return false;
        s.remove_prefix(value.size());
    }
    return s.empty();
}

// RFC 3339, UTC, milliseconds: 2026-11-23T12:00:00.123Z.
std::string rfc3339_now() {
    using namespace std::chrono;
    auto now = time_point_cast<milliseconds>(system_clock::now());
    auto ms = static_cast<int>(now.time_since_epoch().count() % 1000);
    std::time_t secs = system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", ms < 0 ? 0 : ms);
    return buf;
}

// Opens `path` for appending, creating it with mode 0640 (before umask).
std::FILE* open_append(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return nullptr;
    std::FILE* f = ::fdopen(fd, "a");
    if (f == nullptr) {
        int err = errno;
        ::close(fd);
        errno = err;
        return nullptr;
    }
    return f;
}

}  // namespace

std::string new_audit_id() {
    return random_hex(8);
}

std::string audit_header_value(const std::string& audit_id, policy::Decision decision,
                               const std::vector<policy::RuleHit>& rules,
                               const std::string& policy_version, const std::string& key) {
    std::string ids;
    for (const auto& r : rules) {
        if (!ids.empty()) ids += ',';
        ids += header_safe(r.id, ",");
    }
    std::string value =
        "id=" + header_safe(audit_id) + "; decision=" + policy::to_string(decision) +
        "; rules=" + (ids.empty() ? "none" : ids) + "; policy=" + header_safe(policy_version);
    std::string mac = hmac_sha256_hex(key, value);
    value += kHmacSep;
    value += mac;
    return value;
}

bool verify_audit_header(const std::string& value, const std::string& key) {
    if (key.empty()) return false;
    std::string_view v = value;
    // Tolerate the white space a header line may carry around its value.
    while (!v.empty() && std::string_view(" \t\r\n").find(v.front()) != std::string_view::npos)
        v.remove_prefix(1);
    while (!v.empty() && std::string_view(" \t\r\n").find(v.back()) != std::string_view::npos)
        v.remove_suffix(1);
    auto pos = v.rfind(kHmacSep);
    if (pos == std::string_view::npos) return false;
    std::string_view signed_part = v.substr(0, pos);
    std::string_view mac = v.substr(pos + kHmacSep.size());
    if (mac.size() != kHmacHexLen || !well_formed(signed_part)) return false;
    try {
        std::string expected = hmac_sha256_hex(key, signed_part);
        return expected.size() == mac.size() &&
               CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) == 0;
    } catch (const std::exception&) {
        return false;
    }
}

std::string audit_json_line(const AuditRecord& record) {
    nlohmann::ordered_json rules = nlohmann::ordered_json::array();
    for (const auto& r : record.rules) rules.push_back({{"id", r.id}, {"detail", r.detail}});
    nlohmann::ordered_json j;
    j["time"] = rfc3339_now();
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
    // Compact (one line: control characters are escaped), invalid UTF-8 replaced by U+FFFD.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
    std::unique_ptr<AuditLog> log(new AuditLog(path));
    if (path == "-") {
        log->file_ = stdout;
        return log;
    }
    log->file_ = open_append(path);
    if (log->file_ == nullptr)
        return fail(Errc::unavailable, "audit log " + path + ": " + std::strerror(errno));
    return log;
}

AuditLog::~AuditLog() {
    if (file_ == nullptr) return;
    if (file_ == stdout) {
        std::fflush(file_);
    } else {
        std::fclose(file_);
    }
}

void AuditLog::write(const AuditRecord& record) {
    std::string line = audit_json_line(record);
    line += '\n';
    std::lock_guard lock(mu_);
    if (file_ == nullptr) return;
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
}

Result<void> AuditLog::reopen() {
    if (path_ == "-") return {};
    // Open the new file first: if that fails, keep writing to the old one.
    std::FILE* fresh = open_append(path_);
    if (fresh == nullptr)
        return fail(Errc::unavailable, "audit log " + path_ + ": " + std::strerror(errno));
    std::FILE* old = nullptr;
    {
        std::lock_guard lock(mu_);
        old = file_;
        file_ = fresh;
    }
    if (old != nullptr && old != stdout) std::fclose(old);
    return {};
}

}  // namespace mm::milter
