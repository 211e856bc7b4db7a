// The content stage: inspect_content (mime_inspect.h) and what its findings
// mean for the verdict.
#include <algorithm>
#include <memory>
#include <set>

#include "policy/mime/mime_inspect.h"
#include "policy/rewrite/dsn_rewrite.h"
#include "policy/rules/privacy_rule.h"
#include "policy/stages/stage.h"
#include "util/address.h"

namespace mm::policy::stages {
namespace {

const ContentHit* first_hit(const ContentFindings& f, ContentRule::Action action) {
    auto it = std::find_if(f.content_hits.begin(), f.content_hits.end(),
                           [&](const ContentHit& h) { return h.action == action; });
    return it == f.content_hits.end() ? nullptr : &*it;
}

const AttachmentReport* first_refused_attachment(const ContentFindings& f) {
    auto it = std::find_if(f.attachments.begin(), f.attachments.end(),
                           [](const AttachmentReport& a) { return !a.kept; });
    return it == f.attachments.end() ? nullptr : &*it;
}

// One rule hit per finding, for the audit trail.
void report(const ContentFindings& f, const EvalContext& ctx, std::vector<RuleHit>& rules) {
    // Excerpts go to the audit log: they must not carry addresses or phone
    // numbers themselves.
    RedactPolicy scrub;
    auto clean = [&](const std::string& s) { return redact_text(s, scrub, ctx.domain).text; };
    for (auto hit : f.content_hits) {
        hit.excerpt = clean(hit.excerpt);
        for (auto& c : hit.concepts)
            for (auto& w : c.words) w = clean(w);
        rules.push_back({hit.rule_id, describe_hit(hit)});
    }
    const bool strip = ctx.policy.attachments.action == AttachmentPolicy::Action::strip;
    for (const auto& a : f.attachments)
        if (!a.text_note.empty())
            rules.push_back(
                {"attachment.text", "part " + a.path + " \"" + a.filename + "\": " + a.text_note});
    for (const auto& a : f.attachments) {
        if (a.kept) continue;
        rules.push_back({a.rule_id, "part " + a.path + " \"" + a.filename + "\" " +
                                        a.detected_type + ": " + a.reason +
                                        (strip ? " (stripped)" : "")});
    }
    if (f.links_removed != 0) {
        std::string domains;
        std::set<std::string> seen;
        for (const auto& l : f.links)
            if (seen.insert(l.domain).second && seen.size() <= 8)
                domains += (domains.empty() ? "" : ", ") + (l.domain.empty() ? l.reason : l.domain);
        rules.push_back(
            {"links.removed", std::to_string(f.links_removed) + " link(s): " + domains});
    }
    if (f.content_ids_rewritten != 0)
        rules.push_back({"headers.content_id", std::to_string(f.content_ids_rewritten) +
                                                   " Content-ID(s) under the marketplace domain"});
    if (f.css_words_removed != 0)
        rules.push_back({"html.css_text", std::to_string(f.css_words_removed) +
                                              " CSS declaration(s) that showed words removed"});
    if (!f.redactions.empty()) {
        int emails = 0, phones = 0;
        for (const auto& r : f.redactions) (r.kind == "email" ? emails : phones)++;
        rules.push_back({"privacy.redacted", std::to_string(emails) + " email address(es), " +
                                                 std::to_string(phones) + " phone number(s)"});
    }
    if (!f.malformed.empty()) {
        std::string why;
        for (const auto& m : f.malformed) why += (why.empty() ? "" : "; ") + m;
        rules.push_back({"mime.malformed", why});
    }
}

// The first refusal the findings call for, in order of precedence.
std::optional<Refusal> refusal(const ContentFindings& f, const Policy& p) {
    if (!f.malformed.empty() && p.malformed_action == MalformedAction::reject)
        return Refusal{"550", "5.6.0", "Message structure is malformed and cannot be checked",
                       "mime.malformed"};
    if (f.size_violation)
        return Refusal{"552", "5.3.4",
                       "Message attachments exceed the size limit of " +
                           std::to_string(p.attachments.max_total_bytes) + " bytes",
                       "attachment.total_size"};
    if (const ContentHit* hit = first_hit(f, ContentRule::Action::reject))
        return Refusal{"550", "5.7.1",
                       "This message was not sent as it did not meet the marketplace messaging "
                       "guidelines",
                       hit->rule_id};
    const AttachmentReport* attachment = first_refused_attachment(f);
    if (attachment && p.attachments.action == AttachmentPolicy::Action::reject)
        return Refusal{
            "550", "5.7.1",
            "Attachment \"" + attachment->filename + "\" is not allowed: " + attachment->reason,
            attachment->rule_id};
    if (f.links_removed != 0 && p.links.action == LinkPolicy::Action::reject)
        return Refusal{"550", "5.7.1", "Links to sites outside the marketplace are not allowed",
                       "links.removed"};
    if (!f.redactions.empty() && p.redact.action == RedactPolicy::Action::reject)
        return Refusal{"550", "5.7.1",
                       "Email addresses and phone numbers are not allowed in messages",
                       "privacy.redacted"};
    return std::nullopt;
}

// The rewritten body and the top-level Content-* fields that go with it.
void take_new_body(ContentFindings& f, const HeaderPolicy& headers, Edits& edits) {
    if (!f.new_body) return;
    // Moved, not copied: it may be a spool file (f.body_changed stays).
    edits.body = std::move(f.new_body);
    // The content step removes every top-level Content-* field and adds the
    // new ones: drop the header policy's removals of the same names (they
    // would target the same fields twice), and add only what passes.
    std::set<std::string> removed_by_content;
    for (const auto& c : f.header_edits)
        if (c.op == HeaderEdit::Op::remove) removed_by_content.insert(to_lower(c.name));
    std::erase_if(edits.headers, [&](const HeaderEdit& e) {
        return e.op == HeaderEdit::Op::remove && removed_by_content.contains(to_lower(e.name));
    });
    for (const auto& e : f.header_edits)
        if (e.op != HeaderEdit::Op::add || header_passes(headers, e.name))
            edits.headers.push_back(e);
}

}  // namespace

StageResult judge_content(const StageInput& in, const Message& message, bool delivery_report,
                          Verdict& draft) {
    const EvalContext& ctx = in.context;
    InspectOptions options{ctx.policy, ctx.classifier, ctx.domain,
                           in.pair->counterpart.role == alias::Role::seller
                               ? Direction::seller_to_buyer
                               : Direction::buyer_to_seller};
    // Auto-replies and bounces carry signatures: always redacted (dsn_rewrite.h).
    draft.auto_reply = delivery_report || is_auto_reply(message);
    options.force_redact = draft.auto_reply;
    options.delivery_report = delivery_report;
    auto findings = std::make_shared<ContentFindings>(inspect_content(message, options));
    if (draft.auto_reply && !delivery_report)
        draft.rules.push_back({"autoreply.redacted", std::to_string(findings->redactions.size()) +
                                                         " redaction(s) in an auto-reply"});
    report(*findings, ctx, draft.rules);
    draft.findings = findings;

    if (auto refused = refusal(*findings, ctx.policy)) return refuse(*refused);
    StageResult result = proceed();
    if (const ContentHit* hit = first_hit(*findings, ContentRule::Action::quarantine))
        result = hold("held for review (rule " + hit->rule_id + ")");
    take_new_body(*findings, ctx.policy.headers, draft.edits);
    return result;
}

StageResult inspect(const StageInput& in, Verdict& draft) {
    return judge_content(in, in.message, false, draft);
}

}  // namespace mm::policy::stages
