// marketplace-milter: one binary, subcommands (CLI11).  See README.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/cli.h"
#include "milter/cli_reference.h"
#include "milter/daemon.h"
#include "milter/version.h"
#include "milter_build_info.h"
#include "policy/mime/gmime_ptr.h"

namespace {

constexpr const char* kDefaultConfig = MM_DEFAULT_CONFIG;

void add_party_options(CLI::App* cmd, mm::milter::PartyArgs& a, bool with_role) {
    cmd->add_option("--id", a.id, "party id")->required();
    if (with_role)
        cmd->add_option("--role", a.role, "buyer or seller")
            ->required()
            ->check(CLI::IsMember({"buyer", "seller"}));
    cmd->add_option("--address", a.address, "delivery address");
    cmd->add_option("--name", a.name, "display name shown to the other side");
    cmd->add_option("--sender", a.senders,
                    "approved sender address (repeatable; replaces the list)");
    cmd->add_option_function<std::vector<std::string>>(
        "--attr",
        [&a](const std::vector<std::string>& kvs) {
            for (const auto& kv : kvs) {
                auto eq = kv.find('=');
                if (eq == std::string::npos || eq == 0)
                    throw CLI::ValidationError("--attr", "expected KEY=VALUE, got '" + kv + "'");
                a.attributes[kv.substr(0, eq)] = kv.substr(eq + 1);
            }
        },
        "attribute KEY=VALUE (repeatable)");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"marketplace-milter: buyer-seller messaging through aliases, as a milter"};
    app.require_subcommand(1);
    app.set_version_flag(
        "--version", [] { return mm::milter::version_report(); },
        "print the version, the git commit and the linked libraries' versions");
    std::string config = kDefaultConfig;
    // A subcommand that reads the daemon config (-c).
    auto command = [&config](CLI::App& parent, const char* name, const char* about) {
        CLI::App* cmd = parent.add_subcommand(name, about);
        cmd->add_option("-c,--config", config, "daemon config file")->capture_default_str();
        return cmd;
    };
    // A group of subcommands, one of which must be named.
    auto group = [&app](const char* name, const char* about) {
        CLI::App* g = app.add_subcommand(name, about);
        g->require_subcommand(1);
        return g;
    };

    auto* run = command(app, "run", "run the milter daemon in the foreground");
    auto* check = command(app, "check", "validate config and policy, then exit");
    auto* migrate = command(app, "migrate", "bring the store's schema to this version, then exit");

    mm::milter::TestArgs test_args;
    auto* test = command(app, "test", "dry run: print the JSON verdict for one message");
    test->add_option("--from", test_args.from, "envelope sender")->required();
    test->add_option("--rcpt", test_args.rcpts, "envelope recipient (repeatable)")->required();
    test->add_option("--client", test_args.client, "client address")->capture_default_str();
    test->add_option("--auth", test_args.auth_sender, "SASL login of the client, if any");
    test->add_option("--out", test_args.out, "write the message as it would be delivered");
    test->add_option("message", test_args.message, "message file (.eml), - for stdin")->required();

    mm::milter::ClassifyArgs classify_args;
    auto* classify = command(
        app, "classify", "the content rules' and contact reasons' verdict for messages or texts");
    classify->add_flag("--json", classify_args.json, "one JSON object per file");
    classify->add_flag("--explain", classify_args.explain, "concepts, words and excerpts");
    classify->add_option("--lang", classify_args.lang,
                         "scan with this language only (en, de, ...)");
    classify->add_option("--from", classify_args.from, "seller | buyer (default: X-Direction)");
    classify->add_option("--policy", classify_args.policy,
                         "policy file to use instead of the config's (the config is not read)");
    classify->add_option("files", classify_args.files, "message (.eml) or text files")->required();

    mm::milter::AuditVerifyArgs verify_args;
    auto* audit = group("audit", "the audit trail");
    auto* audit_verify = command(
        *audit, "verify", "check a delivered message's X-Marketplace-Audit against the message");
    audit_verify->add_option("--rcpt", verify_args.rcpts,
                             "envelope recipient (repeatable; default: Delivered-To, "
                             "X-Original-To, To)");
    audit_verify->add_flag("--json", verify_args.json, "JSON instead of text");
    audit_verify->add_option("message", verify_args.message, "message file (.eml), - for stdin")
        ->required();

    mm::milter::PartyArgs party_args;
    auto* party = group("party", "provision buyers and sellers");
    auto* party_add = command(*party, "add", "add a party");
    add_party_options(party_add, party_args, true);
    party_add->get_option("--address")->required();
    auto* party_set = command(*party, "set", "change a party");
    add_party_options(party_set, party_args, false);
    auto* party_show = command(*party, "show", "show a party");
    party_show->add_option("--id", party_args.id, "party id")->required();

    std::string buyer, seller, alias;
    auto* pair = group("pair", "create and show buyer/seller pairs");
    auto* pair_add = command(*pair, "add", "create a pair and print both aliases");
    pair_add->add_option("--buyer", buyer, "buyer party id")->required();
    pair_add->add_option("--seller", seller, "seller party id")->required();
    auto* pair_show = command(*pair, "show", "show a pair by parties or by alias");
    pair_show->add_option("--buyer", buyer, "buyer party id");
    pair_show->add_option("--seller", seller, "seller party id");
    pair_show->add_option("--alias", alias, "either alias of the pair");

    // Marketplace rules: per-party settings, orders, the response-time report.
    auto* party_set_messaging = party_set->add_option("--messaging", party_args.messaging,
                                                      "seller: on, or off while away (vacation)");
    party_set_messaging->check(CLI::IsMember({"on", "off"}));
    party_set->add_option("--away-text", party_args.away_text,
                          "seller: the notice buyers get while messaging is off (\"\" removes it)");

    std::string optout_party, optout_value;
    auto* optout = group("optout", "buyers' opt-out of unsolicited seller messages");
    auto* optout_set = command(*optout, "set", "set a buyer's opt-out");
    optout_set->add_option("--party", optout_party, "buyer party id")->required();
    optout_set->add_option("value", optout_value, "on or off")
        ->required()
        ->check(CLI::IsMember({"on", "off"}));
    auto* optout_show = command(*optout, "show", "show a buyer's opt-out");
    optout_show->add_option("--party", optout_party, "buyer party id")->required();

    mm::milter::OrderArgs order_args;
    auto* order = group("order", "record and show orders");
    auto* order_add = command(*order, "add", "record an order of a pair");
    order_add->add_option("--id", order_args.id, "order id")->required();
    auto* order_pair = order_add->add_option("--pair", order_args.pair_id, "pair id");
    auto* order_buyer = order_add->add_option("--buyer", order_args.buyer, "buyer party id");
    auto* order_seller = order_add->add_option("--seller", order_args.seller, "seller party id");
    order_pair->excludes(order_buyer)->excludes(order_seller);
    order_buyer->needs(order_seller);
    order_seller->needs(order_buyer);
    order_add->add_option("--kind", order_args.kind, "standard|handmade|custom|wine|gift-return")
        ->required()
        ->check(CLI::IsMember({"standard", "handmade", "custom", "wine", "gift-return"}));
    order_add->add_option("--fulfilment", order_args.fulfilment, "fba or fbm")
        ->required()
        ->check(CLI::IsMember({"fba", "fbm"}));
    auto* order_show = command(*order, "show", "show an order");
    order_show->add_option("--id", order_args.id, "order id")->required();

    mm::milter::ReportArgs report_args;
    mm::milter::AuditReportArgs audit_report;
    auto* report =
        command(app, "report",
                "the audit log for security teams: decisions, rules, sellers (text|json|html)");
    report->add_option("--since", audit_report.since, "from this day (YYYY-MM-DD, UTC)");
    report->add_option("--until", audit_report.until, "through this day (YYYY-MM-DD, UTC)");
    report->add_option("--format", audit_report.format, "text, json or html")
        ->capture_default_str()
        ->check(CLI::IsMember({"text", "json", "html"}));
    report->add_option("--out", audit_report.out, "write the report to this file");
    report->add_option("--top", audit_report.top, "rows of each top list")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    report->add_option("files", audit_report.files,
                       "audit log files, gzip or plain (default: the config's audit_log and "
                       "its rotated files)");
    std::string audit_id;
    std::vector<std::string> audit_id_files;
    auto* report_id = command(*report, "audit-id",
                              "every audit line of one message, across rotated files (JSON)");
    report_id->add_option("id", audit_id, "the audit id (X-Marketplace-Audit id=, SMTP reply)")
        ->required();
    report_id->add_option("files", audit_id_files, "audit log files (default: as report)");
    auto* report_rt =
        command(*report, "response-times",
                "per seller: median and p90 first-reply time, share answered in time");
    report_rt->add_option("--seller", report_args.seller, "only this seller");
    report_rt->add_option("--since", report_args.since, "buyer messages from this day (UTC)");
    report_rt
        ->add_option("--within-hours", report_args.within_hours,
                     "the window for the share answered in time")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    report_rt->add_flag("--json", report_args.json, "JSON instead of a table");

    // The whole store as JSON Lines: moving it between backends, backups.
    std::string transfer_file;
    auto* store_export = command(app, "export", "write the whole store as JSON Lines");
    store_export->add_option("--out", transfer_file, "write to this file instead of stdout");
    auto* store_import =
        command(app, "import", "read an export into an empty store (all or nothing)");
    store_import->add_option("file", transfer_file, "the export (JSON Lines), - for stdin");

    // For the manual page (milter/cli_reference.h); hidden from --help.
    app.add_flag_callback(
           "--cli-reference",
           [&app] {
               std::puts(mm::milter::cli_reference_json(app).c_str());
               throw CLI::Success();
           },
           "print the command line's subcommands and options as JSON")
        ->group("");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }

    try {
        mm::policy::ensure_gmime();
        if (*run) return mm::milter::run_daemon(config);
        if (*check) return mm::milter::cmd_check(config);
        if (*migrate) return mm::milter::cmd_migrate(config);
        if (*test) return mm::milter::cmd_test(config, test_args);
        if (*classify) return mm::milter::cmd_classify(config, classify_args);
        if (*audit_verify) return mm::milter::cmd_audit_verify(config, verify_args);
        if (*party_add) return mm::milter::cmd_party_add(config, party_args);
        if (*party_set) return mm::milter::cmd_party_set(config, party_args);
        if (*party_show) return mm::milter::cmd_party_show(config, party_args.id);
        if (*pair_add) return mm::milter::cmd_pair_add(config, buyer, seller);
        if (*pair_show) return mm::milter::cmd_pair_show(config, buyer, seller, alias);
        if (*optout_set) return mm::milter::cmd_optout_set(config, optout_party, optout_value);
        if (*optout_show) return mm::milter::cmd_optout_show(config, optout_party);
        if (*order_add) return mm::milter::cmd_order_add(config, order_args);
        if (*order_show) return mm::milter::cmd_order_show(config, order_args.id);
        if (*report_rt) return mm::milter::cmd_report_response_times(config, report_args);
        if (*report_id) return mm::milter::cmd_report_audit_id(config, audit_id, audit_id_files);
        if (*report) return mm::milter::cmd_report(config, audit_report);
        if (*store_export) return mm::milter::cmd_export(config, transfer_file);
        if (*store_import) return mm::milter::cmd_import(config, transfer_file);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "marketplace-milter: internal error: %s\n", e.what());
        return 1;
    }
    return 2;
}
