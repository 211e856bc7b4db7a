// Helpers the CLI subcommands share (defined in cli_provision.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "alias/party.h"
#include "alias/store.h"
#include "milter/service.h"
#include "util/result.h"

namespace mm::milter::cli {

struct Opened {
    std::shared_ptr<const Runtime> runtime;
    std::shared_ptr<alias::Store> store;
};

// Loads the config (and policy) and opens its store.
Result<Opened> open_store(const std::string& config_path);
nlohmann::json party_json(const alias::Party& p);
std::string iso_time(std::int64_t t);  // 2024-05-01T12:00:00Z
nlohmann::json pair_json(const alias::Pair& p, const std::string& domain);
void print(const nlohmann::json& j);  // pretty, on stdout

}  // namespace mm::milter::cli
