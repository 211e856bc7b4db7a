// `export` and `import`: the whole store as JSON Lines (store_jsonl.h).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "alias/store_factory.h"
#include "cli/cli.h"
#include "cli/cli_support.h"
#include "cli/store_jsonl.h"
#include "milter/service.h"

namespace mm::milter {

namespace {

nlohmann::ordered_json counts_json(const alias::TableCounts& counts) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const auto& t : alias::transfer_tables()) {
        auto it = counts.find(t.name);
        out[std::string(t.name)] = it == counts.end() ? 0 : it->second;
    }
    return out;
}

// `exporting`: a SQLite file that is not there is a mistyped path, not an
// empty store to create and export.
Result<std::unique_ptr<alias::StoreTransfer>> open_transfer(const std::string& config_path,
                                                            bool exporting) {
    auto rt = load_runtime(config_path);
    if (!rt) return rt.error();
    const alias::StoreConfig& store = (*rt)->config.store;
    std::error_code ec;
    if (exporting && store.type == "sqlite" && !std::filesystem::exists(store.path, ec))
        return fail(Errc::not_found, config_path + ": store.path: sqlite database '" + store.path +
                                         "' does not exist: nothing to export");
    return alias::make_store_transfer(store);
}

}  // namespace

int cmd_export(const std::string& config_path, const std::string& out_path) {
    auto transfer = open_transfer(config_path, true);
    if (!transfer) return report_failure(transfer.error());
    if (out_path.empty() || out_path == "-") {
        auto written = export_jsonl(**transfer, std::cout);
        return written ? 0 : report_failure(written.error());
    }
    // Written beside the target and renamed at the end: a failed export
    // never leaves a file that looks complete.
    const std::string partial = out_path + ".partial";
    Result<alias::TableCounts> written = fail(Errc::unavailable, "");
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        if (!out) return report_failure(fail(Errc::unavailable, "cannot create " + partial));
        written = export_jsonl(**transfer, out);
    }
    std::error_code ec;
    if (written) std::filesystem::rename(partial, out_path, ec);
    if (!written || ec) {
        std::filesystem::remove(partial, ec);
        return report_failure(
            written ? fail(Errc::unavailable, "cannot rename " + partial + " to " + out_path)
                    : written.error());
    }
    std::cout << nlohmann::ordered_json{{"out", out_path}, {"counts", counts_json(*written)}}.dump(
                     2)
              << std::endl;
    return 0;
}

int cmd_import(const std::string& config_path, const std::string& in_path) {
    auto transfer = open_transfer(config_path, false);
    if (!transfer) return report_failure(transfer.error());
    Result<alias::TableCounts> imported = fail(Errc::internal, "");
    if (in_path.empty() || in_path == "-") {
        imported = import_jsonl(**transfer, std::cin, "<stdin>");
    } else {
        std::ifstream in(in_path, std::ios::binary);
        if (!in) return report_failure(fail(Errc::invalid, "cannot open " + in_path));
        imported = import_jsonl(**transfer, in, in_path);
    }
    if (!imported) return report_failure(imported.error());
    std::cout << nlohmann::ordered_json{{"imported", counts_json(*imported)}}.dump(2) << std::endl;
    return 0;
}

}  // namespace mm::milter
