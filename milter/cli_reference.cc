#include "milter/cli_reference.h"

#include <nlohmann/json.hpp>

namespace mm::milter {
namespace {

nlohmann::json option_json(const CLI::Option& opt) {
    const bool positional = !opt.nonpositional();
    return {
        {"names", positional ? opt.get_name(true, false) : opt.get_name(false, true)},
        {"type", opt.get_type_name()},
        {"required", opt.get_required()},
        {"positional", positional},
        {"repeatable", opt.get_items_expected_max() > 1},
        {"default", opt.get_default_str()},
        {"description", opt.get_description()},
    };
}

nlohmann::json app_json(const CLI::App& app) {
    nlohmann::json out = {{"name", app.get_name()}, {"description", app.get_description()}};
    out["options"] = nlohmann::json::array();
    // Help and hidden options (no group) are not part of the reference.
    for (const CLI::Option* opt : app.get_options([&app](const CLI::Option* o) {
             return o != app.get_help_ptr() && !o->get_group().empty();
         }))
        out["options"].push_back(option_json(*opt));
    out["subcommands"] = nlohmann::json::array();
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        out["subcommands"].push_back(app_json(*sub));
    return out;
}

}  // namespace

std::string cli_reference_json(const CLI::App& app) {
    return app_json(app).dump(2);
}

}  // namespace mm::milter
