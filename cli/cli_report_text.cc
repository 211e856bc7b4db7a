// The report as tables (text and HTML share them) and as JSON.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_report.h"

namespace mm::milter::report {
namespace {

using json = nlohmann::ordered_json;
using policy::Decision;

std::string num(std::uint64_t n) {
    return std::to_string(n);
}

std::string top_note(const TopCounter& c) {
    return c.exact() ? ""
                     : "more distinct values than kept: counts are upper bounds (the error "
                       "column says by how much at most)";
}

std::string rules_text(const std::map<std::string, std::uint64_t>& by_rule) {
    std::vector<std::pair<std::string, std::uint64_t>> v(by_rule.begin(), by_rule.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::string out;
    for (const auto& [rule, n] : v) out += (out.empty() ? "" : ", ") + rule + " " + num(n);
    return out;
}

Table top_table(std::string id, std::string title, std::string key_header,
                const TopCounter& counter, std::size_t n) {
    Table t{std::move(id),     std::move(title),
            top_note(counter), {key_header, "messages"},
            {false, true},     {},
            "(none)"};
    if (!counter.exact()) {
        t.headers.push_back("error");
        t.numeric.push_back(true);
    }
    for (const auto& e : counter.top(n)) {
        t.rows.push_back({e.key, num(e.count)});
        if (!counter.exact()) t.rows.back().push_back(num(e.error));
    }
    return t;
}

json top_json(const TopCounter& counter, std::size_t n, const char* key_name) {
    json list = json::array();
    for (const auto& e : counter.top(n)) {
        json row = {{key_name, e.key}, {"count", e.count}};
        if (!counter.exact()) row["error"] = e.error;
        list.push_back(std::move(row));
    }
    return list;
}

// Text from the log as a terminal shows it, without control characters: a
// rule detail may carry an escape sequence that came with a message.
std::string terminal_safe(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) {
            out += '?';
        } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) <= 0x9f) {
            out += '?';  // a C1 control, U+0080..U+009F
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

json seconds_json(std::optional<double> s) {
    return s ? json(*s) : json(nullptr);
}

}  // namespace

std::string iso_ms(std::int64_t ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string hours_text(std::optional<double> seconds) {
    if (!seconds) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f h", *seconds / 3600.0);
    return buf;
}

std::vector<std::pair<std::string, RuleCounts>> rules_by_weight(const ReportData& data) {
    std::vector<std::pair<std::string, RuleCounts>> v(data.rules.begin(), data.rules.end());
    auto weight = [](const RuleCounts& c) {
        return c.refused + c.stripped + c.quarantined + c.tempfailed;
    };
    std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
        if (weight(a.second) != weight(b.second)) return weight(a.second) > weight(b.second);
        if (a.second.hits != b.second.hits) return a.second.hits > b.second.hits;
        return a.first < b.first;
    });
    return v;
}

std::vector<std::pair<std::string, const SellerStats*>> sellers_by_refusals(
    const ReportData& data) {
    std::vector<std::pair<std::string, const SellerStats*>> v;
    for (const auto& [id, s] : data.sellers)
        if (s.refused > 0) v.emplace_back(id, &s);
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.second->refused != b.second->refused ? a.second->refused > b.second->refused
                                                      : a.first < b.first;
    });
    return v;
}

namespace {

Table per_day_table(const ReportData& data) {
    Table days{"per-day", "Decisions per day", "one audit line per decision", {"day"}, {false},
               {},        "(no records)"};
    for (Decision d : kDecisions) {
        days.headers.push_back(policy::to_string(d));
        days.numeric.push_back(true);
    }
    days.headers.push_back("total");
    days.numeric.push_back(true);
    for (const auto& [day, c] : data.per_day) {
        std::vector<std::string> row{day};
        for (Decision d : kDecisions) row.push_back(num(c.of(d)));
        row.push_back(num(c.total()));
        days.rows.push_back(std::move(row));
    }
    return days;
}

Table rules_table(const ReportData& data) {
    Table rules{"rules",
                "Refusals, strips and quarantines by rule",
                "refused, quarantined, tempfailed: lines the rule decided; stripped: delivered "
                "with something taken out",
                {"rule", "refused", "stripped", "quarantined", "tempfailed", "hits"},
                {false, true, true, true, true, true},
                {}};
    for (const auto& [id, c] : rules_by_weight(data))
        rules.rows.push_back({id, num(c.refused), num(c.stripped), num(c.quarantined),
                              num(c.tempfailed), num(c.hits)});
    return rules;
}

Table sellers_refused_table(const ReportData& data, std::size_t top) {
    Table sellers{"sellers-refused",
                  "Top sellers refused",
                  "messages the seller sent",
                  {"seller", "refused", "sent", "quarantined", "refused by rule"},
                  {false, true, true, true, false},
                  {}};
    auto refused = sellers_by_refusals(data);
    for (std::size_t i = 0; i < refused.size() && i < top; ++i) {
        const SellerStats& s = *refused[i].second;
        sellers.rows.push_back({refused[i].first, num(s.refused), num(s.sent), num(s.quarantined),
                                rules_text(s.refused_by_rule)});
    }
    return sellers;
}

Table important_table(const ReportData& data) {
    Table important{"important",
                    "[Important] use and misuse per seller",
                    "tagged = critical + misuse; over threshold: held for the daily number",
                    {"seller", "tagged", "critical", "misuse", "over threshold"},
                    {false, true, true, true, true},
                    {}};
    for (const auto& [id, s] : data.sellers)
        if (s.tagged > 0 || s.over_threshold > 0)
            important.rows.push_back(
                {id, num(s.tagged), num(s.critical), num(s.misuse), num(s.over_threshold)});
    return important;
}

Table tempfail_causes_table(const ReportData& data) {
    Table causes{"tempfails",
                 "Tempfails and their causes",
                 num(data.totals.of(Decision::tempfail)) + " tempfail(s)",
                 {"cause", "tempfails"},
                 {false, true},
                 {}};
    std::vector<std::pair<std::string, std::uint64_t>> cv(data.tempfail_causes.begin(),
                                                          data.tempfail_causes.end());
    std::sort(cv.begin(), cv.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    for (const auto& [cause, n] : cv) causes.rows.push_back({cause, num(n)});
    return causes;
}

Table response_times_table(const ReportData& data) {
    Table response{"response-times",
                   "Response times per seller",
                   "first reply to a delivered buyer message that waited for one",
                   {"seller", "buyer messages", "answered", "median", "p90"},
                   {false, true, true, true, true},
                   {}};
    for (const auto& [id, s] : data.sellers)
        if (s.buyer_messages > 0 || s.answered > 0)
            response.rows.push_back({id, num(s.buyer_messages), num(s.answered),
                                     hours_text(s.reply_seconds.percentile(0.5)),
                                     hours_text(s.reply_seconds.percentile(0.9))});
    return response;
}

}  // namespace

std::vector<Table> report_tables(const ReportData& data, const ReportOptions& options) {
    std::vector<Table> out;
    out.push_back(per_day_table(data));
    out.push_back(rules_table(data));
    out.push_back(sellers_refused_table(data, options.top));
    out.push_back(important_table(data));
    out.push_back(top_table("attachments-stripped", "Attachment types stripped", "detected type",
                            data.attachments_stripped, options.top));
    out.push_back(top_table("attachments-refused", "Attachment types in refused messages",
                            "detected type", data.attachments_refused, options.top));
    Table links =
        top_table("link-domains", "Link domains removed", "domain", data.link_domains, options.top);
    links.note = num(data.links_removed) + " link(s) removed from " +
                 num(data.messages_with_links_removed) + " message(s)" +
                 (links.note.empty() ? "" : "; " + links.note);
    out.push_back(std::move(links));
    out.push_back(tempfail_causes_table(data));
    out.push_back(top_table("tempfail-details", "Tempfail details", "rule: detail",
                            data.tempfail_details, options.top));
    out.push_back(response_times_table(data));
    return out;
}

std::string render_text(const ReportData& data, const ReportOptions& options) {
    std::ostringstream out;
    out << "marketplace-milter audit report\n";
    out << "period: " << (options.since.empty() ? "(start)" : options.since) << " .. "
        << (options.until.empty() ? "(end)" : options.until);
    if (data.records > 0)
        out << "  (records " << iso_ms(data.first_ms) << " .. " << iso_ms(data.last_ms) << ")";
    out << "\nfiles: " << data.files.size() << ", lines: " << data.lines
        << ", records: " << data.records << ", outside the dates: " << data.outside_dates
        << ", bad lines: " << data.bad_lines << "\n";
    out << "decisions:";
    for (Decision d : kDecisions) out << " " << policy::to_string(d) << " " << data.totals.of(d);
    out << "\n";
    if (data.unknown_parties > 0)
        out << "lines naming a party the store does not know: " << data.unknown_parties << "\n";
    for (const std::string& e : data.file_errors) out << "file error: " << terminal_safe(e) << "\n";
    for (const BadLine& b : data.bad_examples)
        out << "bad line: " << terminal_safe(b.where) << ": " << terminal_safe(b.why) << "\n";
    if (data.bad_lines > data.bad_examples.size())
        out << "(" << data.bad_lines - data.bad_examples.size() << " more bad lines)\n";

    for (Table& t : report_tables(data, options)) {
        for (auto& row : t.rows)
            for (std::string& cell : row) cell = terminal_safe(cell);
        out << "\n== " << t.title << " ==\n";
        if (!t.note.empty()) out << terminal_safe(t.note) << "\n";
        if (t.rows.empty()) {
            out << t.empty << "\n";
            continue;
        }
        std::vector<std::size_t> width(t.headers.size());
        for (std::size_t c = 0; c < t.headers.size(); ++c) width[c] = t.headers[c].size();
        for (const auto& row : t.rows)
            for (std::size_t c = 0; c < row.size(); ++c)
                width[c] = std::max(width[c], row[c].size());
        auto line = [&](const std::vector<std::string>& cells) {
            std::string s;
            for (std::size_t c = 0; c < cells.size(); ++c) {
                const std::string pad(width[c] - cells[c].size(), ' ');
                const bool last = c + 1 == cells.size();
                s += t.numeric[c] ? pad + cells[c] : cells[c] + (last ? "" : pad);
                if (!last) s += "  ";
            }
            out << s << "\n";
        };
        line(t.headers);
        for (const auto& row : t.rows) line(row);
    }
    return out.str();
}

namespace {

json input_json(const ReportData& data) {
    json bad = json::array();
    for (const BadLine& b : data.bad_examples) bad.push_back({{"where", b.where}, {"why", b.why}});
    return {{"files", data.files},
            {"file_errors", data.file_errors},
            {"lines", data.lines},
            {"records", data.records},
            {"outside_dates", data.outside_dates},
            {"bad_lines", data.bad_lines},
            {"bad_examples", bad},
            {"unknown_parties", data.unknown_parties}};
}

json counts_json(const DecisionCounts& c) {
    json o;
    for (Decision d : kDecisions) o[policy::to_string(d)] = c.of(d);
    o["total"] = c.total();
    return o;
}

json per_day_json(const ReportData& data) {
    json days = json::array();
    for (const auto& [day, c] : data.per_day) {
        json o = {{"day", day}};
        o.update(counts_json(c));
        days.push_back(std::move(o));
    }
    return days;
}

json rules_json(const ReportData& data) {
    json rules = json::array();
    for (const auto& [id, c] : rules_by_weight(data))
        rules.push_back({{"rule", id},
                         {"refused", c.refused},
                         {"stripped", c.stripped},
                         {"quarantined", c.quarantined},
                         {"tempfailed", c.tempfailed},
                         {"hits", c.hits}});
    return rules;
}

json sellers_refused_json(const ReportData& data, std::size_t top) {
    json sellers = json::array();
    auto refused = sellers_by_refusals(data);
    for (std::size_t i = 0; i < refused.size() && i < top; ++i) {
        const SellerStats& s = *refused[i].second;
        sellers.push_back({{"seller", refused[i].first},
                           {"refused", s.refused},
                           {"sent", s.sent},
                           {"quarantined", s.quarantined},
                           {"rules", s.refused_by_rule}});
    }
    return sellers;
}

}  // namespace

std::string render_json(const ReportData& data, const ReportOptions& options) {
    json j;
    j["period"] = {{"since", options.since.empty() ? json(nullptr) : json(options.since)},
                   {"until", options.until.empty() ? json(nullptr) : json(options.until)},
                   {"first", data.records ? json(iso_ms(data.first_ms)) : json(nullptr)},
                   {"last", data.records ? json(iso_ms(data.last_ms)) : json(nullptr)}};
    j["input"] = input_json(data);
    j["decisions"] = counts_json(data.totals);
    j["per_day"] = per_day_json(data);
    j["rules"] = rules_json(data);
    json refusals = json::array();
    for (const auto& [day, by_rule] : data.refusals_per_day)
        refusals.push_back({{"day", day}, {"rules", by_rule}});
    j["refusals_per_day"] = std::move(refusals);
    j["sellers_refused"] = sellers_refused_json(data, options.top);
    json important = json::array();
    json response = json::array();
    for (const auto& [id, s] : data.sellers) {
        if (s.tagged > 0 || s.over_threshold > 0)
            important.push_back({{"seller", id},
                                 {"tagged", s.tagged},
                                 {"critical", s.critical},
                                 {"misuse", s.misuse},
                                 {"over_threshold", s.over_threshold}});
        if (s.buyer_messages > 0 || s.answered > 0)
            response.push_back({{"seller", id},
                                {"buyer_messages", s.buyer_messages},
                                {"answered", s.answered},
                                {"median_seconds", seconds_json(s.reply_seconds.percentile(0.5))},
                                {"p90_seconds", seconds_json(s.reply_seconds.percentile(0.9))},
                                {"sampled", !s.reply_seconds.exact()}});
    }
    j["important"] = std::move(important);
    j["attachments"] = {
        {"stripped", top_json(data.attachments_stripped, options.top, "type")},
        {"refused", top_json(data.attachments_refused, options.top, "type")},
        {"exact", data.attachments_stripped.exact() && data.attachments_refused.exact()}};
    j["links"] = {{"removed", data.links_removed},
                  {"messages", data.messages_with_links_removed},
                  {"domains", top_json(data.link_domains, options.top, "domain")},
                  {"exact", data.link_domains.exact()}};
    j["tempfails"] = {{"total", data.totals.of(Decision::tempfail)},
                      {"causes", data.tempfail_causes},
                      {"details", top_json(data.tempfail_details, options.top, "detail")},
                      {"exact", data.tempfail_details.exact()}};
    j["response_times"] = std::move(response);
    return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace mm::milter::report
