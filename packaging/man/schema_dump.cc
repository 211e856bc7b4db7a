// mm_schema_dump: the keys marketplace-milter.yaml and policy.yaml accept,
// with their documentation, as JSON on stdout.  Read from the tables the
// loaders check files against (policy/yaml_schema.h), so the manual pages
// make_man.py writes from it cannot miss a key.  A build tool, not installed.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "milter/config.h"
#include "policy/policy.h"
#include "policy/yaml_schema.h"

namespace {

nlohmann::json keys_json(const std::vector<mm::yaml::KeyInfo>& keys) {
    auto out = nlohmann::json::array();
    for (const mm::yaml::KeyInfo& key : keys) {
        nlohmann::json k = {
            {"name", std::string(key.name)},
            {"required", key.required},
            {"type", std::string(key.doc.type)},
            {"default", std::string(key.doc.default_value)},
            {"description", std::string(key.doc.description)},
        };
        if (key.doc.section != nullptr) k["keys"] = keys_json(key.doc.section());
        out.push_back(std::move(k));
    }
    return out;
}

}  // namespace

int main() {
    const nlohmann::json schema = {
        {"config", keys_json(mm::milter::config_schema())},
        {"policy", keys_json(mm::policy::policy_schema())},
    };
    std::puts(schema.dump(2).c_str());
    return 0;
}
