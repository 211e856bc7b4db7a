// marketplace-milter: one binary, subcommands (CLI11).  See README.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

// The command line being built: the daemon config every subcommand reads
// (-c), and what each subcommand runs.  After parsing, the first subcommand
// in `actions` that was named runs: a group's subcommands come before the
// group's own action.
struct Commands {
    explicit Commands(CLI::App& a) : app(a) {}

    CLI::App& app;
    std::string config = kDefaultConfig;
    std::vector<std::pair<CLI::App*, std::function<int()>>> actions;

    // A subcommand that reads the daemon config (-c).
    CLI::App* command(CLI::App& parent, const char* name, const char* about) {
        CLI::App* cmd = parent.add_subcommand(name, about);
        cmd->add_option("-c,--config", config, "daemon config file")->capture_default_str();
        return cmd;
    }
    // A group of subcommands, one of which must be named.
    CLI::App* group(const char* name, const char* about) {
        CLI::App* g = app.add_subcommand(name, about);
        g->require_subcommand(1);
        return g;
    }
    void on(CLI::App* cmd, std::function<int()> action) {
        actions.emplace_back(cmd, std::move(action));
    }
};

void add_daemon_commands(Commands& c) {
    auto* run = c.command(c.app, "run", "run the milter daemon in the foreground");
    c.on(run, [&c] { return mm::milter::run_daemon(c.config); });
    auto* check = c.command(c.app, "check", "validate config and policy, then exit");
    c.on(check, [&c] { return mm::milter::cmd_check(c.config); });
    auto* migrate =
        c.command(c.app, "migrate", "bring the store's schema to this version, then exit");
    c.on(migrate, [&c] { return mm::milter::cmd_migrate(c.config); });
}

void add_test_command(Commands& c) {
    auto a = std::make_shared<mm::milter::TestArgs>();
    auto* test = c.command(c.app, "test", "dry run: print the JSON verdict for one message");
    test->add_option("--from", a->from, "envelope sender")->required();
    test->add_option("--rcpt", a->rcpts, "envelope recipient (repeatable)")->required();
    test->add_option("--client", a->client, "client address")->capture_default_str();
    test->add_option("--auth", a->auth_sender, "SASL login of the client, if any");
    test->add_option("--out", a->out, "write the message as it would be delivered");
    test->add_option("message", a->message, "message file (.eml), - for stdin")->required();
    c.on(test, [&c, a] { return mm::milter::cmd_test(c.config, *a); });
}

void add_classify_command(Commands& c) {
    auto a = std::make_shared<mm::milter::ClassifyArgs>();
    auto* classify = c.command(
        c.app, "classify", "the content rules' and contact reasons' verdict for messages or texts");
    classify->add_flag("--json", a->json, "one JSON object per file");
    classify->add_flag("--explain", a->explain, "concepts, words and excerpts");
    classify->add_option("--lang", a->lang, "scan with this language only (en, de, ...)");
    classify->add_option("--from", a->from, "seller | buyer (default: X-Direction)");
    classify->add_option("--policy", a->policy,
                         "policy file to use instead of the config's (the config is not read)");
    classify->add_option("files", a->files, "message (.eml) or text files")->required();
    c.on(classify, [&c, a] { return mm::milter::cmd_classify(c.config, *a); });
}

void add_audit_commands(Commands& c) {
    auto a = std::make_shared<mm::milter::AuditVerifyArgs>();
    auto* audit = c.group("audit", "the audit trail");
    auto* verify = c.command(*audit, "verify",
                             "check a delivered message's X-Marketplace-Audit against the message");
    verify->add_option("--rcpt", a->rcpts,
                       "envelope recipient (repeatable; default: Delivered-To, "
                       "X-Original-To, To)");
    verify->add_flag("--json", a->json, "JSON instead of text");
    verify->add_option("message", a->message, "message file (.eml), - for stdin")->required();
    c.on(verify, [&c, a] { return mm::milter::cmd_audit_verify(c.config, *a); });
}

// Parties, with the marketplace rules' per-party settings.
void add_party_commands(Commands& c) {
    auto a = std::make_shared<mm::milter::PartyArgs>();
    auto* party = c.group("party", "provision buyers and sellers");
    auto* add = c.command(*party, "add", "add a party");
    add_party_options(add, *a, true);
    add->get_option("--address")->required();
    c.on(add, [&c, a] { return mm::milter::cmd_party_add(c.config, *a); });
    auto* set = c.command(*party, "set", "change a party");
    add_party_options(set, *a, false);
    set->add_option("--messaging", a->messaging, "seller: on, or off while away (vacation)")
        ->check(CLI::IsMember({"on", "off"}));
    set->add_option("--away-text", a->away_text,
                    "seller: the notice buyers get while messaging is off (\"\" removes it)");
    c.on(set, [&c, a] { return mm::milter::cmd_party_set(c.config, *a); });
    auto* show = c.command(*party, "show", "show a party");
    show->add_option("--id", a->id, "party id")->required();
    c.on(show, [&c, a] { return mm::milter::cmd_party_show(c.config, a->id); });
}

void add_pair_commands(Commands& c) {
    struct Args {
        std::string buyer, seller, alias;
    };
    auto a = std::make_shared<Args>();
    auto* pair = c.group("pair", "create and show buyer/seller pairs");
    auto* add = c.command(*pair, "add", "create a pair and print both aliases");
    add->add_option("--buyer", a->buyer, "buyer party id")->required();
    add->add_option("--seller", a->seller, "seller party id")->required();
    c.on(add, [&c, a] { return mm::milter::cmd_pair_add(c.config, a->buyer, a->seller); });
    auto* show = c.command(*pair, "show", "show a pair by parties or by alias");
    show->add_option("--buyer", a->buyer, "buyer party id");
    show->add_option("--seller", a->seller, "seller party id");
    show->add_option("--alias", a->alias, "either alias of the pair");
    c.on(show,
         [&c, a] { return mm::milter::cmd_pair_show(c.config, a->buyer, a->seller, a->alias); });
}

void add_optout_commands(Commands& c) {
    struct Args {
        std::string party, value;
    };
    auto a = std::make_shared<Args>();
    auto* optout = c.group("optout", "buyers' opt-out of unsolicited seller messages");
    auto* set = c.command(*optout, "set", "set a buyer's opt-out");
    set->add_option("--party", a->party, "buyer party id")->required();
    set->add_option("value", a->value, "on or off")
        ->required()
        ->check(CLI::IsMember({"on", "off"}));
    c.on(set, [&c, a] { return mm::milter::cmd_optout_set(c.config, a->party, a->value); });
    auto* show = c.command(*optout, "show", "show a buyer's opt-out");
    show->add_option("--party", a->party, "buyer party id")->required();
    c.on(show, [&c, a] { return mm::milter::cmd_optout_show(c.config, a->party); });
}

void add_order_commands(Commands& c) {
    auto a = std::make_shared<mm::milter::OrderArgs>();
    auto* order = c.group("order", "record and show orders");
    auto* add = c.command(*order, "add", "record an order of a pair");
    add->add_option("--id", a->id, "order id")->required();
    auto* pair = add->add_option("--pair", a->pair_id, "pair id");
    auto* buyer = add->add_option("--buyer", a->buyer, "buyer party id");
    auto* seller = add->add_option("--seller", a->seller, "seller party id");
    pair->excludes(buyer)->excludes(seller);
    buyer->needs(seller);
    seller->needs(buyer);
    add->add_option("--kind", a->kind, "standard|handmade|custom|wine|gift-return")
        ->required()
        ->check(CLI::IsMember({"standard", "handmade", "custom", "wine", "gift-return"}));
    add->add_option("--fulfilment", a->fulfilment, "fba or fbm")
        ->required()
        ->check(CLI::IsMember({"fba", "fbm"}));
    c.on(add, [&c, a] { return mm::milter::cmd_order_add(c.config, *a); });
    auto* show = c.command(*order, "show", "show an order");
    show->add_option("--id", a->id, "order id")->required();
    c.on(show, [&c, a] { return mm::milter::cmd_order_show(c.config, a->id); });
}

void add_report_commands(Commands& c) {
    auto a = std::make_shared<mm::milter::AuditReportArgs>();
    auto* report =
        c.command(c.app, "report",
                  "the audit log for security teams: decisions, rules, sellers (text|json|html)");
    report->add_option("--since", a->since, "from this day (YYYY-MM-DD, UTC)");
    report->add_option("--until", a->until, "through this day (YYYY-MM-DD, UTC)");
    report->add_option("--format", a->format, "text, json or html")
        ->capture_default_str()
        ->check(CLI::IsMember({"text", "json", "html"}));
    report->add_option("--out", a->out, "write the report to this file");
    report->add_option("--top", a->top, "rows of each top list")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    report->add_option("files", a->files,
                       "audit log files, gzip or plain (default: the config's audit_log and "
                       "its rotated files)");

    struct IdArgs {
        std::string id;
        std::vector<std::string> files;
    };
    auto id = std::make_shared<IdArgs>();
    auto* by_id = c.command(*report, "audit-id",
                            "every audit line of one message, across rotated files (JSON)");
    by_id->add_option("id", id->id, "the audit id (X-Marketplace-Audit id=, SMTP reply)")
        ->required();
    by_id->add_option("files", id->files, "audit log files (default: as report)");

    auto rt = std::make_shared<mm::milter::ReportArgs>();
    auto* times = c.command(*report, "response-times",
                            "per seller: median and p90 first-reply time, share answered in time");
    times->add_option("--seller", rt->seller, "only this seller");
    times->add_option("--since", rt->since, "buyer messages from this day (UTC)");
    times
        ->add_option("--within-hours", rt->within_hours,
                     "the window for the share answered in time")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    times->add_flag("--json", rt->json, "JSON instead of a table");

    c.on(times, [&c, rt] { return mm::milter::cmd_report_response_times(c.config, *rt); });
    c.on(by_id, [&c, id] { return mm::milter::cmd_report_audit_id(c.config, id->id, id->files); });
    c.on(report, [&c, a] { return mm::milter::cmd_report(c.config, *a); });
}

// The whole store as JSON Lines: moving it between backends, backups.
void add_transfer_commands(Commands& c) {
    auto file = std::make_shared<std::string>();
    auto* out = c.command(c.app, "export", "write the whole store as JSON Lines");
    out->add_option("--out", *file, "write to this file instead of stdout");
    c.on(out, [&c, file] { return mm::milter::cmd_export(c.config, *file); });
    auto* in = c.command(c.app, "import", "read an export into an empty store (all or nothing)");
    in->add_option("file", *file, "the export (JSON Lines), - for stdin");
    c.on(in, [&c, file] { return mm::milter::cmd_import(c.config, *file); });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"marketplace-milter: buyer-seller messaging through aliases, as a milter"};
    app.require_subcommand(1);
    app.set_version_flag(
        "--version", [] { return mm::milter::version_report(); },
        "print the version, the git commit and the linked libraries' versions");
    Commands commands{app};
    add_daemon_commands(commands);
    add_test_command(commands);
    add_classify_command(commands);
    add_audit_commands(commands);
    add_party_commands(commands);
    add_pair_commands(commands);
    add_optout_commands(commands);
    add_order_commands(commands);
    add_report_commands(commands);
    add_transfer_commands(commands);

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
        for (const auto& [cmd, action] : commands.actions)
            if (*cmd) return action();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "marketplace-milter: internal error: %s\n", e.what());
        return 1;
    }
    return 2;
}
