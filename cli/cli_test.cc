// `marketplace-milter test`: the daemon's decision code on one message, with
// the verdict as JSON.  Uses the same RcptStage and end-of-message flow
// (message_flow.h) as the milter callbacks, the edits going to a MemorySink
// instead of libmilter, so a dry run cannot disagree with production.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "alias/alias_directory.h"
#include "audit/audit.h"
#include "cli/cli.h"
#include "milter/edit_sink.h"
#include "milter/message_flow.h"
#include "milter/service.h"
#include "policy/authorize.h"
#include "policy/mime/mime_inspect.h"
#include "util/address.h"

namespace mm::milter {
namespace {

using json = nlohmann::ordered_json;

// The message as the daemon would hold it: the header block in memory, the
// body spooled past the config's spill_threshold_bytes, the header fields
// counted against its limits as they are read.
Result<policy::Message> read_input(const std::string& path, const Config& config) {
    if (path == "-")
        return policy::read_message(STDIN_FILENO, config.spool, "standard input", config.limits);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::invalid, path + ": cannot open: " + std::strerror(errno));
    auto message = policy::read_message(fd, config.spool, path, config.limits);
    ::close(fd);
    return message;
}

json rules_json(const std::vector<policy::RuleHit>& rules) {
    json out = json::array();
    for (const auto& r : rules) out.push_back({{"id", r.id}, {"detail", r.detail}});
    return out;
}

// What a security reviewer wants to see beside the decision: every
// attachment with what it claimed to be and what it is, every link removed,
// every content rule hit with the text that matched.
void add_findings(const policy::ContentFindings& f, json& result) {
    json attachments = json::array();
    for (const auto& a : f.attachments)
        attachments.push_back({{"part", a.path},
                               {"name", a.filename},
                               {"declared_type", a.declared_type},
                               {"detected_type", a.detected_type},
                               {"size", a.size},
                               {"inline_image", a.inline_image},
                               {"kept", a.kept},
                               {"rule", a.rule_id},
                               {"why", a.reason},
                               {"text_note", a.text_note}});
    json links = json::array();
    for (const auto& l : f.links)
        links.push_back({{"url", l.url}, {"domain", l.domain}, {"why", l.reason}});
    json hits = json::array();
    for (const auto& h : f.content_hits)
        hits.push_back({{"rule", h.rule_id}, {"language", h.language}, {"excerpt", h.excerpt}});
    result["attachments"] = attachments;
    result["links_removed"] = links;  // the first ones in detail
    result["links_removed_count"] = f.links_removed;
    result["content_hits"] = hits;
    result["redactions"] = f.redactions.size();
    result["malformed"] = f.malformed;
    result["body_changed"] = f.body_changed;
}

// The RCPT stage for every --rcpt: the refused ones as the JSON shows them,
// and the first refusal (the answer when every recipient is refused).
struct Recipients {
    json refused = json::array();
    std::optional<policy::RcptOutcome> first_refusal;
};

Recipients add_recipients(policy::RcptStage& stage, policy::Envelope& envelope,
                          const std::vector<std::string>& rcpts, const std::string& audit_id) {
    Recipients r;
    for (const auto& rcpt : rcpts) {
        auto out = stage.add(envelope, "<" + normalize_address(rcpt) + ">");
        using Kind = policy::RcptOutcome::Kind;
        if (out.kind == Kind::not_ours || out.kind == Kind::accepted) continue;
        r.refused.push_back({{"recipient", rcpt},
                             {"smtp_code", out.smtp_code},
                             {"enhanced_code", out.enhanced_code},
                             {"smtp_reply", out.smtp_code + " " + out.enhanced_code + " " +
                                                with_audit_id(out.reply_text, audit_id)},
                             {"rule", {{"id", out.rule.id}, {"detail", out.rule.detail}}}});
        if (!r.first_refusal) r.first_refusal = std::move(out);
    }
    return r;
}

// The end-of-message flow's decision and what it found.
void add_outcome(const FlowOutcome& out, json& result) {
    const policy::Verdict& v = out.verdict;
    result["decision"] = policy::to_string(out.decision);
    result["smtp_code"] = out.smtp_code;
    result["enhanced_code"] = out.enhanced_code;
    result["smtp_reply"] = out.reply;
    result["rules"] = rules_json(out.rules);
    result["sender_party"] = v.sender_party;
    result["recipient_party"] = v.recipient_party;
    if (v.findings) add_findings(*v.findings, result);
    if (v.thread.is_reply)
        result["thread"] = {
            {"answers", v.thread.answers_marketplace_id},
            {"answers_sender",
             v.thread.answers_sender_role ? alias::to_string(*v.thread.answers_sender_role) : ""},
            {"thread", v.thread.thread_marketplace_id}};
}

}  // namespace

int cmd_test(const std::string& config_path, const TestArgs& args) {
    auto rt = load_runtime(config_path);
    if (!rt) return report_failure(rt.error());
    const Runtime& runtime = **rt;
    auto store = alias::make_store(runtime.config.store);
    if (!store) return report_failure(store.error());
    alias::AliasDirectory directory(std::move(store.value()), std::chrono::milliseconds(0));
    auto classifier = policy::AttachmentClassifier::create();
    if (!classifier) return report_failure(classifier.error());

    auto parsed = read_input(args.message, runtime.config);
    if (!parsed) return report_failure(parsed.error());
    policy::Message message = std::move(parsed.value());

    const std::string audit_id = new_audit_id();
    policy::Envelope envelope;
    envelope.client_addr = args.client;
    envelope.auth_sender = args.auth_sender;
    envelope.sender_raw = "<" + normalize_address(args.from) + ">";
    envelope.sender = normalize_address(args.from);

    policy::RcptStage rcpt_stage(directory, runtime.config.domain,
                                 runtime.policy->mixed_recipients);
    const Recipients recipients = add_recipients(rcpt_stage, envelope, args.rcpts, audit_id);
    const json& refused = recipients.refused;

    json result;
    result["decision"] = nullptr;  // first in the output; set below
    result["audit_id"] = audit_id;
    result["policy"] = runtime.policy->version;
    result["refused_recipients"] = refused;
    if (envelope.recipients.empty()) {
        // Every recipient was refused at RCPT: the message would never reach DATA.
        const auto& r = recipients.first_refusal.value();
        const bool temporary = r.smtp_code[0] == '4';
        result["decision"] = temporary ? "tempfail" : "reject";
        result["smtp_code"] = r.smtp_code;
        result["enhanced_code"] = r.enhanced_code;
        result["smtp_reply"] = refused[0]["smtp_reply"];
        result["rules"] = rules_json({r.rule});
        result["envelope_from"] = envelope.sender_raw;
        result["recipients"] = json::array();
        std::cout << result.dump(2) << std::endl;
        return 0;
    }

    // A dry run: the store is read, never written (no Message-ID mapping,
    // no marketplace state), and no audit line.
    MemorySink sink(message.clone(), envelope);
    const FlowOutcome out = run_message_flow(
        {directory, **classifier}, {runtime, envelope, message, audit_id, "", args.client}, sink,
        {.commit = false, .log = false});
    add_outcome(out, result);

    const bool delivered = out.delivered();
    const policy::Envelope& sent = delivered ? sink.envelope() : envelope;
    result["envelope_from"] = sent.sender_raw;
    json rcpts = json::array();
    for (const auto& r : sent.recipients) rcpts.push_back(r.address);
    result["recipients"] = rcpts;

    if (!args.out.empty() && delivered) {
        std::ofstream file(args.out, std::ios::binary | std::ios::trunc);
        // Piece by piece: a spooled body is never read into memory whole.
        policy::write_message(sink.message(), [&file](std::string_view piece) {
            file.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        });
        file.flush();
        if (!file) return report_failure(fail(Errc::unavailable, args.out + ": cannot write"));
    }
    std::cout << result.dump(2) << std::endl;
    return 0;
}

}  // namespace mm::milter
