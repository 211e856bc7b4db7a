// `report` and `report audit-id`: the entry points (cli.h); reading,
// counting and rendering live in the other cli_report_*.cc files.
#include "cli/cli_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "alias/store_factory.h"
#include "cli/cli.h"
#include "milter/config.h"

namespace mm::milter {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

// The files to read: those named, else the config's log and its rotations.
Result<std::vector<std::string>> log_files(const Config& config, std::vector<std::string> named) {
    if (!named.empty()) {
        for (const std::string& f : named)
            if (!std::filesystem::is_regular_file(f))
                return fail(Errc::invalid, "audit log " + f + ": no such file");
        report::oldest_first(named);
        return named;
    }
    if (config.audit_log == "-")
        return fail(Errc::invalid,
                    config.path + ": audit_log is stdout; name the audit log files to read");
    auto found = report::rotated_logs(config.audit_log);
    if (found.empty())
        return fail(Errc::invalid, "no audit log at " + config.audit_log + " (nor rotated ones)");
    return found;
}

Result<void> write_output(const std::string& out, const std::string& text) {
    if (out.empty() || out == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
        return {};
    }
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) return fail(Errc::unavailable, "--out " + out + ": cannot write");
    return {};
}

Result<report::ReportOptions> report_options(const AuditReportArgs& args) {
    report::ReportOptions o;
    o.since = args.since;
    o.until = args.until;
    o.format = args.format;
    o.top = args.top;
    if (args.format != "text" && args.format != "json" && args.format != "html")
        return fail(Errc::invalid, "--format '" + args.format + "': expected text, json or html");
    if (!args.since.empty()) {
        auto t = parse_utc_date(args.since);
        if (!t) return fail(Errc::invalid, "--since '" + args.since + "': expected YYYY-MM-DD");
        o.since_ms = *t * 1000;
    }
    if (!args.until.empty()) {
        auto t = parse_utc_date(args.until);
        if (!t) return fail(Errc::invalid, "--until '" + args.until + "': expected YYYY-MM-DD");
        o.until_ms = *t * 1000 + kDayMs;  // the whole of that day
    }
    if (o.since_ms && o.until_ms && *o.since_ms >= *o.until_ms)
        return fail(Errc::invalid, "--since " + args.since + " is after --until " + args.until);
    return o;
}

// The store, to tell sellers from buyers.  Not created when missing: a
// report must not leave an empty database behind.
Result<std::shared_ptr<alias::Store>> open_roles(const Config& config) {
    if (config.store.type == "sqlite" && !std::filesystem::exists(config.store.path))
        return fail(Errc::unavailable, "store " + config.store.path +
                                           ": no such file (the report reads party roles there)");
    return alias::make_store(config.store);
}

}  // namespace

int cmd_report(const std::string& config_path, const AuditReportArgs& args) {
    auto options = report_options(args);
    if (!options) return report_failure(options.error());
    auto config = load_config(config_path);
    if (!config) return report_failure(config.error());
    auto files = log_files(*config, args.files);
    if (!files) return report_failure(files.error());
    auto store = open_roles(*config);
    if (!store) return report_failure(store.error());
    report::Aggregator aggregator(
        *options, [&store](const std::string& id) -> Result<std::optional<alias::Role>> {
            auto p = (*store)->find_party(id);
            if (!p) return p.error();
            if (!*p) return std::optional<alias::Role>{};
            return std::optional<alias::Role>((*p)->role);
        });
    for (const std::string& file : *files) {
        aggregator.file_read(file);
        std::optional<Failure> store_failure;
        auto read = report::for_each_line(
            file, [&](std::string_view line, std::uint64_t n) -> Result<void> {
                auto added = aggregator.add_line(line, file, n);
                if (!added) store_failure = added.error();
                return added;
            });
        if (store_failure) return report_failure(*store_failure);
        if (!read) aggregator.file_error(read.error().message);
    }
    const report::ReportData data = aggregator.finish();
    std::string text = options->format == "json"   ? report::render_json(data, *options)
                       : options->format == "html" ? report::render_html(data, *options)
                                                   : report::render_text(data, *options);
    if (auto w = write_output(args.out, text); !w) return report_failure(w.error());
    return 0;
}

int cmd_report_audit_id(const std::string& config_path, const std::string& audit_id,
                        std::vector<std::string> named) {
    using json = nlohmann::ordered_json;
    if (audit_id.empty()) return report_failure(fail(Errc::invalid, "empty audit id"));
    auto config = load_config(config_path);
    if (!config) return report_failure(config.error());
    auto files = log_files(*config, std::move(named));
    if (!files) return report_failure(files.error());
    json records = json::array();
    for (const std::string& file : *files) {
        auto read = report::for_each_line(
            file, [&](std::string_view line, std::uint64_t n) -> Result<void> {
                if (line.find(audit_id) == std::string_view::npos) return {};
                auto parsed = parse_audit_line(line);
                if (!parsed || parsed->audit_id != audit_id) return {};
                records.push_back(
                    {{"file", file}, {"line", n}, {"record", json::parse(line, nullptr, false)}});
                return {};
            });
        if (!read) std::fprintf(stderr, "marketplace-milter: %s\n", read.error().message.c_str());
    }
    if (records.empty())
        return report_failure(fail(Errc::not_found, "no audit line with id '" + audit_id + "' in " +
                                                        std::to_string(files->size()) +
                                                        " file(s)"));
    const json out = {{"audit_id", audit_id}, {"records", std::move(records)}};
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
    return 0;
}

}  // namespace mm::milter
