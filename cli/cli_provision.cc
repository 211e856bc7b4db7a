#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "alias/alias_directory.h"
#include "alias/store_factory.h"
#include "cli/cli.h"
#include "cli/cli_support.h"
#include "milter/config.h"
#include "milter/service.h"
#include "util/address.h"
#include "util/utc_time.h"

namespace mm::milter {

namespace cli {

using nlohmann::json;

Result<Opened> open_store(const std::string& config_path) {
    auto rt = load_runtime(config_path);
    if (!rt) return rt.error();
    auto store = alias::make_store((*rt)->config.store);
    if (!store) return store.error();
    return Opened{std::move(rt.value()), std::move(store.value())};
}

json party_json(const alias::Party& p) {
    return {{"id", p.id},           {"role", alias::to_string(p.role)},
            {"address", p.address}, {"name", p.display_name},
            {"senders", p.senders}, {"attributes", p.attributes}};
}

std::string iso_time(std::int64_t t) {
    return format_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}

json pair_json(const alias::Pair& p, const std::string& domain) {
    return {{"pair_id", p.id},
            {"buyer", p.buyer_id},
            {"seller", p.seller_id},
            {"buyer_alias", p.buyer_alias + "@" + domain},
            {"seller_alias", p.seller_alias + "@" + domain},
            {"created", iso_time(p.created)}};
}

void print(const json& j) {
    std::cout << j.dump(2) << std::endl;
}

}  // namespace cli

namespace {

using namespace cli;

using nlohmann::json;

constexpr std::size_t kMaxAwayText = 4000;

void apply_args(const PartyArgs& args, alias::Party& p) {
    if (args.address) p.address = normalize_address(*args.address);
    if (args.name) p.display_name = *args.name;
    if (args.senders) {
        p.senders.clear();
        for (const auto& s : *args.senders) p.senders.push_back(normalize_address(s));
    }
    for (const auto& [k, v] : args.attributes) p.attributes[k] = v;
}

}  // namespace

int exit_code(const Failure& f) {
    switch (f.code) {
        case Errc::invalid:
        case Errc::not_found:
        case Errc::conflict:
            return 2;
        default:
            return 1;
    }
}

int report_failure(const Failure& f) {
    std::fprintf(stderr, "marketplace-milter: %s\n", f.message.c_str());
    return exit_code(f);
}

int cmd_check(const std::string& config_path) {
    auto rt = load_runtime(config_path);
    if (!rt) return report_failure(rt.error());
    const Config& c = (*rt)->config;
    std::printf("%s: ok (socket %s, domain %s, policy %s version %s)\n", config_path.c_str(),
                c.socket.c_str(), c.domain.c_str(), c.policy_path.c_str(),
                (*rt)->policy->version.c_str());
    return 0;
}

int cmd_migrate(const std::string& config_path) {
    auto config = load_config(config_path);
    if (!config) return report_failure(config.error());
    auto migrated = alias::migrate_store(config->store);
    if (!migrated) return report_failure(migrated.error());
    if (config->store.type == "sqlite")
        print({{"store", "sqlite"}, {"path", config->store.path}, {"migrated_at_open", true}});
    else
        print({{"store", config->store.type},
               {"dsn", alias::redact_dsn(config->store.postgres.dsn)},
               {"from", migrated->from},
               {"to", migrated->to}});
    return 0;
}

int cmd_party_add(const std::string& config_path, const PartyArgs& args) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto role = alias::parse_role(args.role);
    if (!role)
        return report_failure(
            fail(Errc::invalid, "unknown role '" + args.role + "' (expected buyer or seller)"));
    alias::Party p;
    p.id = args.id;
    p.role = *role;
    apply_args(args, p);
    if (auto r = opened->store->add_party(p); !r) return report_failure(r.error());
    auto stored = opened->store->find_party(p.id);
    if (!stored || !*stored) return report_failure(fail(Errc::internal, "party vanished"));
    print(party_json(**stored));
    return 0;
}

int cmd_party_set(const std::string& config_path, const PartyArgs& args) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto found = opened->store->find_party(args.id);
    if (!found) return report_failure(found.error());
    if (!*found) return report_failure(fail(Errc::not_found, "no party '" + args.id + "'"));
    alias::Party p = **found;
    if ((args.messaging || args.away_text) && p.role != alias::Role::seller)
        return report_failure(fail(Errc::invalid, "party '" + args.id +
                                                      "' is a buyer: --messaging and "
                                                      "--away-text are for sellers"));
    if (args.messaging && *args.messaging != "on" && *args.messaging != "off")
        return report_failure(
            fail(Errc::invalid, "--messaging '" + *args.messaging + "': expected on or off"));
    if (args.away_text &&
        (args.away_text->find('\0') != std::string::npos || args.away_text->size() > kMaxAwayText))
        return report_failure(fail(Errc::invalid, "--away-text holds NUL or is longer than " +
                                                      std::to_string(kMaxAwayText) + " bytes"));
    apply_args(args, p);
    if (args.messaging) p.attributes[alias::kAttrMessaging] = *args.messaging;
    if (args.away_text) {
        if (args.away_text->empty())
            p.attributes.erase(alias::kAttrAwayText);
        else
            p.attributes[alias::kAttrAwayText] = *args.away_text;
    }
    if (auto r = opened->store->update_party(p); !r) return report_failure(r.error());
    print(party_json(p));
    return 0;
}

int cmd_party_show(const std::string& config_path, const std::string& id) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto found = opened->store->find_party(id);
    if (!found) return report_failure(found.error());
    if (!*found) return report_failure(fail(Errc::not_found, "no party '" + id + "'"));
    print(party_json(**found));
    return 0;
}

int cmd_pair_add(const std::string& config_path, const std::string& buyer,
                 const std::string& seller) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    auto pair = opened->store->add_pair(buyer, seller);
    if (!pair) return report_failure(pair.error());
    print(pair_json(*pair, opened->runtime->config.domain));
    return 0;
}

int cmd_pair_show(const std::string& config_path, const std::string& buyer,
                  const std::string& seller, const std::string& alias_address) {
    auto opened = open_store(config_path);
    if (!opened) return report_failure(opened.error());
    const std::string& domain = opened->runtime->config.domain;
    Result<std::optional<alias::Pair>> found = std::optional<alias::Pair>{};
    if (!alias_address.empty()) {
        std::string a = normalize_address(alias_address);
        if (a.find('@') != std::string::npos && !iequals(domain_part(a), domain))
            return report_failure(
                fail(Errc::invalid, "'" + alias_address + "' is not in domain " + domain));
        found = opened->store->find_pair_by_alias(std::string(local_part(a)));
    } else if (!buyer.empty() && !seller.empty()) {
        found = opened->store->find_pair(buyer, seller);
    } else {
        return report_failure(fail(Errc::invalid, "give --buyer and --seller, or --alias"));
    }
    if (!found) return report_failure(found.error());
    if (!*found) return report_failure(fail(Errc::not_found, "no such pair"));
    print(pair_json(**found, domain));
    return 0;
}

}  // namespace mm::milter
