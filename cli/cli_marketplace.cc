// CLI subcommands for the marketplace rules: buyers' opt-out, orders, and the
// response-time report (see cli.h).  Party attributes "optout", "messaging"
// and "away_text" (alias/party.h) hold the per-party settings.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alias/response_report.h"
#include "cli/cli.h"
#include "cli/cli_support.h"

namespace mm::milter {
namespace {

using nlohmann::json;
using namespace cli;

std::int64_t unix_now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

// The party, which must exist and be a buyer.
Result<alias::Party> buyer_party(alias::Store& store, const std::string& id) {
    auto found = store.find_party(id);
    if (!found) return found.error();
    if (!*found) return fail(Errc::not_found, "no party '" + id + "'");
    if ((*found)->role != alias::Role::buyer)
        return fail(Errc::invalid, "party '" + id + "' is a seller: opt-out is for buyers");
    return std::move(**found);
}

std::string optout_of(const alias::Party& p) {
    auto it = p.attributes.find(alias::kAttrOptout);
    return it != p.attributes.end() && it->second == "on" ? "on" : "off";
}

json order_json(const alias::Order& o, const std::optional<alias::Pair>& pair) {
    json j = {{"id", o.id},
              {"pair_id", o.pair_id},
              {"kind", o.kind},
              {"fulfilment", o.fulfilment},
              {"created", iso_time(o.created)}};
    if (pair) {
        j["buyer"] = pair->buyer_id;
        j["seller"] = pair->seller_id;
    }
    return j;
}

json maybe_hours(const std::optional<double>& s) {
    return s ? json(alias::hours_1dp(*s)) : json(nullptr);
}

std::string fixed1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

}  // namespace

std::optional<std::int64_t> parse_utc_date(const std::string& s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
    std::tm tm{};
    tm.tm_year = std::stoi(s.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(s.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(s.substr(8, 2));
    const int year = tm.tm_year, mon = tm.tm_mon, day = tm.tm_mday;
    if (mon < 0 || mon > 11 || day < 1 || day > 31) return std::nullopt;
    const std::time_t t = timegm(&tm);  // normalises 02-30 to 03-01: compare back
    if (tm.tm_year != year || tm.tm_mon != mon || tm.tm_mday != day) return std::nullopt;
    return static_cast<std::int64_t>(t);
}

int cmd_optout_set(const std::string& config_path, const std::string& party,
                   const std::string& value) {
    if (value != "on" && value != "off")
        return report_failure(fail(Errc::invalid, "opt-out '" + value + "': expected on or off"));
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto p = buyer_party(*opened->store, party);
    if (!p) return report_failure(p.error());
    p->attributes[alias::kAttrOptout] = value;
    if (auto r = opened->store->update_party(*p); !r) return report_failure(r.error());
    print(party_json(*p));
    return 0;
}

int cmd_optout_show(const std::string& config_path, const std::string& party) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto p = buyer_party(*opened->store, party);
    if (!p) return report_failure(p.error());
    print({{"party", p->id}, {"optout", optout_of(*p)}});
    return 0;
}

int cmd_order_add(const std::string& config_path, const OrderArgs& args) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    alias::Store& store = *opened->store;
    std::optional<alias::Pair> pair;
    alias::Order o;
    o.id = args.id;
    o.kind = args.kind;
    o.fulfilment = args.fulfilment;
    o.created = unix_now();
    if (args.pair_id) {
        if (!args.buyer.empty() || !args.seller.empty())
            return report_failure(
                fail(Errc::invalid, "give --pair, or --buyer and --seller, not both"));
        o.pair_id = *args.pair_id;
    } else if (!args.buyer.empty() && !args.seller.empty()) {
        auto found = store.find_pair(args.buyer, args.seller);
        if (!found) return report_failure(found.error());
        if (!*found)
            return report_failure(fail(Errc::not_found, "no pair of buyer '" + args.buyer +
                                                            "' and seller '" + args.seller + "'"));
        pair = **found;
        o.pair_id = pair->id;
    } else {
        return report_failure(fail(Errc::invalid, "give --pair, or --buyer and --seller"));
    }
    if (auto r = store.add_order(o); !r) return report_failure(r.error());
    print(order_json(o, pair));
    return 0;
}

int cmd_order_show(const std::string& config_path, const std::string& id) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto found = opened->store->find_order(id);
    if (!found) return report_failure(found.error());
    if (!*found) return report_failure(fail(Errc::not_found, "no order '" + id + "'"));
    print(order_json(**found, std::nullopt));
    return 0;
}

int cmd_report_response_times(const std::string& config_path, const ReportArgs& args) {
    std::int64_t since = 0;
    if (!args.since.empty()) {
        auto t = parse_utc_date(args.since);
        if (!t)
            return report_failure(
                fail(Errc::invalid, "--since '" + args.since + "': expected a date YYYY-MM-DD"));
        since = *t;
    }
    if (!(args.within_hours > 0) || !std::isfinite(args.within_hours))
        return report_failure(fail(Errc::invalid, "--within-hours must be a positive number"));
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    alias::Store& store = *opened->store;
    std::vector<std::string> always;
    if (!args.seller.empty()) {
        auto found = store.find_party(args.seller);
        if (!found) return report_failure(found.error());
        if (!*found) return report_failure(fail(Errc::not_found, "no party '" + args.seller + "'"));
        if ((*found)->role != alias::Role::seller)
            return report_failure(
                fail(Errc::invalid, "party '" + args.seller + "' is a buyer, not a seller"));
        always.push_back(args.seller);
    }
    auto log = store.response_times(args.seller, since);
    if (!log) return report_failure(log.error());
    const auto within_s = static_cast<std::int64_t>(std::llround(args.within_hours * 3600));
    const auto now = unix_now();
    auto stats = alias::response_report(*log, within_s, now, always);

    const std::string within_label = fixed1(args.within_hours);
    if (args.json) {
        json sellers = json::array();
        for (const auto& s : stats)
            sellers.push_back(
                {{"seller", s.seller_id},
                 {"buyer_messages", s.buyer_messages},
                 {"answered", s.answered},
                 {"answered_within", s.answered_within},
                 {"pending", s.pending},
                 {"median_hours", maybe_hours(s.median_s)},
                 {"p90_hours", maybe_hours(s.p90_s)},
                 {"share_within", s.share_within ? json(*s.share_within) : json(nullptr)}});
        print({{"since", since != 0 ? json(args.since) : json(nullptr)},
               {"within_hours", args.within_hours},
               {"generated", iso_time(now)},
               {"sellers", sellers}});
        return 0;
    }
    int width = 6;
    for (const auto& s : stats) width = std::max(width, static_cast<int>(s.seller_id.size()));
    std::ostringstream out;
    char line[512];
    std::snprintf(line, sizeof line, "%-*s %8s %8s %8s %9s %8s %10s\n", width, "seller", "messages",
                  "answered", "pending", "median_h", "p90_h", ("<=" + within_label + "h").c_str());
    out << line;
    for (const auto& s : stats) {
        const std::string median = s.median_s ? fixed1(alias::hours_1dp(*s.median_s)) : "-";
        const std::string p90 = s.p90_s ? fixed1(alias::hours_1dp(*s.p90_s)) : "-";
        const std::string share = s.share_within ? fixed1(*s.share_within * 100) + "%" : "-";
        std::snprintf(line, sizeof line, "%-*s %8d %8d %8d %9s %8s %10s\n", width,
                      s.seller_id.c_str(), s.buyer_messages, s.answered, s.pending, median.c_str(),
                      p90.c_str(), share.c_str());
        out << line;
    }
    if (stats.empty())
        out << "(no buyer messages" << (since != 0 ? " since " + args.since : "") << ")\n";
    std::cout << out.str() << std::flush;
    return 0;
}

}  // namespace mm::milter
