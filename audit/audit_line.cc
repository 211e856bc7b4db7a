// The audit line's reader (audit_line.h).  nlohmann-json parses; the checks
// here only hold the fields to the types audit_json_line writes.
#include "audit/audit_line.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

namespace mm::milter {
namespace {

using json = nlohmann::json;

std::optional<policy::Decision> decision_named(std::string_view s) {
    for (auto d : {policy::Decision::accept, policy::Decision::modify, policy::Decision::reject,
                   policy::Decision::tempfail, policy::Decision::quarantine}) {
        if (s == policy::to_string(d)) return d;
    }
    return std::nullopt;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

// A string field the writer always writes.
Result<std::string> text_field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end()) return fail(Errc::invalid, std::string("no field '") + name + "'");
    if (!it->is_string()) return fail(Errc::invalid, std::string("field '") + name + "' not text");
    return it->get<std::string>();
}

Result<std::uint64_t> count_field(const json& j, const char* name) {
    auto it = j.find(name);
    if (it == j.end()) return fail(Errc::invalid, std::string("no field '") + name + "'");
    if (!it->is_number_unsigned())
        return fail(Errc::invalid, std::string("field '") + name + "' not a count");
    return it->get<std::uint64_t>();
}

Result<std::vector<policy::RuleHit>> rules_field(const json& j) {
    auto it = j.find("rules");
    if (it == j.end()) return fail(Errc::invalid, "no field 'rules'");
    if (!it->is_array()) return fail(Errc::invalid, "field 'rules' not a list");
    std::vector<policy::RuleHit> out;
    for (const json& r : *it) {
        if (!r.is_object()) return fail(Errc::invalid, "a rule is not an object");
        auto id = text_field(r, "id");
        if (!id) return id.error();
        auto detail = text_field(r, "detail");
        if (!detail) return detail.error();
        out.push_back({std::move(*id), std::move(*detail)});
    }
    return out;
}

}  // namespace

bool parse_rfc3339_ms(std::string_view s, std::int64_t& out_ms) {
    int year, mon, day, hour, min, sec;
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!digits(s, 0, 4, year) || !digits(s, 5, 2, mon) || !digits(s, 8, 2, day) ||
        !digits(s, 11, 2, hour) || !digits(s, 14, 2, min) || !digits(s, 17, 2, sec))
        return false;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return false;
    std::size_t pos = 19;
    int ms = 0;
    if (pos < s.size() && s[pos] == '.') {
        std::size_t end = ++pos;
        while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        if (end == pos) return false;
        for (std::size_t i = pos; i < pos + 3; ++i) ms = ms * 10 + (i < end ? s[i] - '0' : 0);
        pos = end;
    }
    int offset_min = 0;
    const std::string_view zone = s.substr(pos);
    if (zone == "Z" || zone == "z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
        int oh, om;
        if (!digits(zone, 1, 2, oh) || !digits(zone, 4, 2, om) || oh > 23 || om > 59) return false;
        offset_min = (zone[0] == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
        return false;
    }
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    const std::time_t t = timegm(&tm);
    if (tm.tm_mon != mon - 1 || tm.tm_mday != day) return false;  // 02-30 normalised
    out_ms = (static_cast<std::int64_t>(t) - offset_min * 60) * 1000 + ms;
    return true;
}

Result<AuditLine> parse_audit_line(std::string_view line) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return fail(Errc::invalid, "not JSON (cut short or garbled)");
    if (!j.is_object()) return fail(Errc::invalid, "not a JSON object");
    AuditLine out;
    auto time = text_field(j, "time");
    if (!time) return time.error();
    if (!parse_rfc3339_ms(*time, out.time_ms))
        return fail(Errc::invalid, "time '" + time->substr(0, 40) + "': not RFC 3339");
    const std::time_t secs = static_cast<std::time_t>(out.time_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char day[16];
    std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
    out.day = day;

    auto decision = text_field(j, "decision");
    if (!decision) return decision.error();
    auto d = decision_named(*decision);
    if (!d) return fail(Errc::invalid, "unknown decision '" + decision->substr(0, 40) + "'");
    out.decision = *d;

    struct Text {
        const char* name;
        std::string AuditLine::*field;
    };
    static constexpr Text kTexts[] = {{"audit_id", &AuditLine::audit_id},
                                      {"queue_id", &AuditLine::queue_id},
                                      {"client", &AuditLine::client},
                                      {"reply", &AuditLine::reply},
                                      {"sender_party", &AuditLine::sender_party},
                                      {"recipient_party", &AuditLine::recipient_party},
                                      {"policy", &AuditLine::policy_version}};
    for (const Text& t : kTexts) {
        auto v = text_field(j, t.name);
        if (!v) return v.error();
        out.*t.field = std::move(*v);
    }
    struct Count {
        const char* name;
        std::uint64_t AuditLine::*field;
    };
    static constexpr Count kCounts[] = {{"size", &AuditLine::size},
                                        {"elapsed_us", &AuditLine::elapsed_us},
                                        {"milter_us", &AuditLine::milter_us},
                                        {"milter_cpu_us", &AuditLine::milter_cpu_us}};
    for (const Count& c : kCounts) {
        auto v = count_field(j, c.name);
        if (!v) return v.error();
        out.*c.field = *v;
    }
    auto rules = rules_field(j);
    if (!rules) return rules.error();
    out.rules = std::move(*rules);
    return out;
}

}  // namespace mm::milter
