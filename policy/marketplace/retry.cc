#include "policy/marketplace/retry.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <utility>

#include "util/json_text.h"

namespace mm::policy {
namespace {

using nlohmann::json;

constexpr std::int64_t kDefaultRetryWindowS = 72 * 3600;

constexpr std::array kDecisions{Decision::accept, Decision::modify, Decision::reject,
                                Decision::tempfail, Decision::quarantine};

std::optional<Decision> decision_named(const std::string& name) {
    for (Decision d : kDecisions)
        if (name == to_string(d)) return d;
    return std::nullopt;
}

json update_json(const alias::ThreadUpdate& u) {
    return {{"allowed", u.allowed},
            {"writer", alias::to_string(u.writer)},
            {"counts_as_buyer_message", u.counts_as_buyer_message},
            {"unsolicited", u.unsolicited},
            {"fingerprint", u.fingerprint},
            {"important_used", u.important_used},
            {"counts_as_reply", u.counts_as_reply}};
}

std::optional<alias::ThreadUpdate> update_of(const json& j) {
    auto writer = alias::parse_role(j.at("writer").get<std::string>());
    if (!writer) return std::nullopt;
    alias::ThreadUpdate u;
    u.allowed = j.at("allowed").get<bool>();
    u.writer = *writer;
    u.counts_as_buyer_message = j.at("counts_as_buyer_message").get<bool>();
    u.unsolicited = j.at("unsolicited").get<bool>();
    u.fingerprint = j.at("fingerprint").get<std::string>();
    u.important_used = j.at("important_used").get<bool>();
    u.counts_as_reply = j.at("counts_as_reply").get<bool>();
    return u;
}

bool all_ascii(const MarketplaceDecision& d) {
    if (!json_ascii(d.smtp_code) || !json_ascii(d.enhanced_code) || !json_ascii(d.reply_text) ||
        !json_ascii(d.update.fingerprint))
        return false;
    for (const auto& r : d.rules)
        if (!json_ascii(r.id) || !json_ascii(r.detail)) return false;
    return std::all_of(d.contact_reasons.begin(), d.contact_reasons.end(),
                       [](const std::string& s) { return json_ascii(s); });
}

void put_bool(std::string& out, bool b) {
    out += b ? "true" : "false";
}

}  // namespace

std::string encode_outcome_by_library(const MarketplaceDecision& d) {
    json rules = json::array();
    for (const auto& r : d.rules) rules.push_back({{"id", r.id}, {"detail", r.detail}});
    const json j{{"update", update_json(d.update)},
                 {"decision", to_string(d.decision)},
                 {"smtp_code", d.smtp_code},
                 {"enhanced_code", d.enhanced_code},
                 {"reply_text", d.reply_text},
                 {"rules", std::move(rules)},
                 {"contact_reasons", d.contact_reasons}};
    return j.dump();
}

std::int64_t retry_window_s(const MarketplacePolicy& policy) {
    return policy.repeat_window_hours > 0
               ? static_cast<std::int64_t>(policy.repeat_window_hours) * 3600
               : kDefaultRetryWindowS;
}

std::string encode_outcome(const MarketplaceDecision& d) {
    // nlohmann's writer rejects invalid UTF-8 with its own exception: text
    // that is not ASCII goes through it, so its verdict on that text stays.
    if (!all_ascii(d)) return encode_outcome_by_library(d);
    std::string out;
    out.reserve(256 + d.reply_text.size());
    out += "{\"contact_reasons\":[";
    for (std::size_t i = 0; i < d.contact_reasons.size(); ++i) {
        if (i > 0) out += ',';
        json_put_string(out, d.contact_reasons[i]);
    }
    out += "],\"decision\":";
    json_put_string(out, to_string(d.decision));
    out += ",\"enhanced_code\":";
    json_put_string(out, d.enhanced_code);
    out += ",\"reply_text\":";
    json_put_string(out, d.reply_text);
    out += ",\"rules\":[";
    for (std::size_t i = 0; i < d.rules.size(); ++i) {
        out += i > 0 ? ",{\"detail\":" : "{\"detail\":";
        json_put_string(out, d.rules[i].detail);
        out += ",\"id\":";
        json_put_string(out, d.rules[i].id);
        out += '}';
    }
    out += "],\"smtp_code\":";
    json_put_string(out, d.smtp_code);
    const alias::ThreadUpdate& u = d.update;
    out += ",\"update\":{\"allowed\":";
    put_bool(out, u.allowed);
    out += ",\"counts_as_buyer_message\":";
    put_bool(out, u.counts_as_buyer_message);
    out += ",\"counts_as_reply\":";
    put_bool(out, u.counts_as_reply);
    out += ",\"fingerprint\":";
    json_put_string(out, u.fingerprint);
    out += ",\"important_used\":";
    put_bool(out, u.important_used);
    out += ",\"unsolicited\":";
    put_bool(out, u.unsolicited);
    out += ",\"writer\":";
    json_put_string(out, alias::to_string(u.writer));
    out += "}}";
    return out;
}

std::optional<MarketplaceDecision> decode_outcome(std::string_view text) {
    try {
        const json j = json::parse(text);
        auto update = update_of(j.at("update"));
        auto decision = decision_named(j.at("decision").get<std::string>());
        if (!update || !decision) return std::nullopt;
        MarketplaceDecision d;
        d.update = std::move(*update);
        d.decision = *decision;
        d.smtp_code = j.at("smtp_code").get<std::string>();
        d.enhanced_code = j.at("enhanced_code").get<std::string>();
        d.reply_text = j.at("reply_text").get<std::string>();
        for (const auto& r : j.at("rules"))
            d.rules.push_back({r.at("id").get<std::string>(), r.at("detail").get<std::string>()});
        d.contact_reasons = j.at("contact_reasons").get<std::vector<std::string>>();
        return d;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

}  // namespace mm::policy
