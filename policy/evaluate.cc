#include "policy/evaluate.h"

#include <algorithm>
#include <set>

#include "policy/from_header.h"
#include "policy/mime_inspect.h"
#include "policy/privacy_rule.h"
#include "util/address.h"

namespace mm::policy {
namespace {

constexpr std::string_view kMarketplacePrefix = "x-marketplace-";

bool is_marketplace_header(const std::string& name) {
    return name.size() >= kMarketplacePrefix.size() &&
           iequals(std::string_view(name).substr(0, kMarketplacePrefix.size()), kMarketplacePrefix);
}

// Removes every occurrence of each header selected by `match`, highest index
// first so that one removal never shifts the index of the next.  Returns the
// distinct names removed (as first seen) for the audit trail.
template <class Match>
std::vector<std::string> remove_headers(const Message& message, Match match, Edits& edits) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& h : message.headers) {
        if (!match(h.name)) continue;
        if (seen.insert(to_lower(h.name)).second) names.push_back(h.name);
    }
    for (const auto& name : names)
        for (int i = message.count(name); i >= 1; --i)
            edits.headers.push_back({HeaderEdit::Op::remove, name, i, {}});
    return names;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) {
        if (!out.empty()) out += ", ";
        out += s;
    }
    return out;
}

// Incoming X-Marketplace-* headers are removed from every message, ours or
// not: they could forge an audit verdict.
void strip_marketplace_headers(const Message& message, Verdict& verdict) {
    auto removed = remove_headers(message, is_marketplace_header, verdict.edits);
    if (!removed.empty())
        verdict.rules.push_back({"headers.forged_marketplace", "removed " + join(removed)});
}

void rewrite_for_pair(const Envelope& envelope, const Message& message, const EvalContext& ctx,
                      const alias::ResolvedAlias& pair, Verdict& verdict) {
    Edits& edits = verdict.edits;
    const std::string sender_alias = pair.counterpart_alias() + "@" + ctx.domain;

    std::set<std::string> added;
    for (const auto& r : envelope.recipients) {
        if (!r.alias) continue;
        edits.remove_rcpts.push_back(r.raw);
        if (added.insert(r.alias->owner.address).second)
            edits.add_rcpts.push_back("<" + r.alias->owner.address + ">");
    }
    edits.envelope_from = "<" + sender_alias + ">";

    const std::string from = make_from_header(pair.counterpart.display_name, sender_alias);
    int froms = message.count("From");
    for (int i = froms; i >= 2; --i)
        edits.headers.push_back({HeaderEdit::Op::remove, "From", i, {}});
    if (froms >= 1)
        edits.headers.push_back({HeaderEdit::Op::change, "From", 1, from});
    else
        edits.headers.push_back({HeaderEdit::Op::add, "From", 1, from});

    const auto& leaky = ctx.policy.remove_headers;
    auto removed = remove_headers(
        message,
        [&](const std::string& name) {
            return std::find(leaky.begin(), leaky.end(), to_lower(name)) != leaky.end();
        },
        edits);

    verdict.rules.push_back({"alias.rewrite", std::string(alias::to_string(pair.counterpart.role)) +
                                                  " " + pair.counterpart.id + " -> " +
                                                  alias::to_string(pair.owner.role) + " " +
                                                  pair.owner.id});
    if (!removed.empty()) verdict.rules.push_back({"headers.identity", "removed " + join(removed)});
}

void refuse(Verdict& v, const char* code, const char* xcode, std::string text) {
    v.decision = Decision::reject;
    v.smtp_code = code;
    v.enhanced_code = xcode;
    v.reply_text = std::move(text);
    v.edits = {};
}

const char* action_name(ContentRule::Action a) {
    switch (a) {
        case ContentRule::Action::reject:
            return "reject";
        case ContentRule::Action::quarantine:
            return "quarantine";
        case ContentRule::Action::flag:
            return "flag";
    }
    return "reject";
}

// Turns what the content policy found into rule hits and, in order of
// precedence, a refusal, a quarantine or the body edits.
void apply_findings(const ContentFindings& f, const EvalContext& ctx, Verdict& v) {
    const Policy& p = ctx.policy;
    // Excerpts go to the audit log: they must not carry addresses or phone
    // numbers themselves.
    RedactPolicy scrub;
    auto clean = [&](const std::string& s) { return redact_text(s, scrub, ctx.domain).text; };

    const ContentHit* refusing = nullptr;
    const ContentHit* quarantining = nullptr;
    for (const auto& hit : f.content_hits) {
        v.rules.push_back({hit.rule_id, std::string(action_name(hit.action)) + " " + hit.language +
                                            ": \"" + clean(hit.excerpt) + "\""});
        if (hit.action == ContentRule::Action::reject && !refusing) refusing = &hit;
        if (hit.action == ContentRule::Action::quarantine && !quarantining) quarantining = &hit;
    }
    const AttachmentReport* refused_attachment = nullptr;
    for (const auto& a : f.attachments) {
        if (a.kept) continue;
        v.rules.push_back(
            {a.rule_id,
             "part " + a.path + " \"" + a.filename + "\" " + a.detected_type + ": " + a.reason +
                 (p.attachments.action == AttachmentPolicy::Action::strip ? " (stripped)" : "")});
        if (!refused_attachment) refused_attachment = &a;
    }
    if (!f.links.empty()) {
        std::string domains;
        std::set<std::string> seen;
        for (const auto& l : f.links)
            if (seen.insert(l.domain).second && seen.size() <= 8)
                domains += (domains.empty() ? "" : ", ") + (l.domain.empty() ? l.reason : l.domain);
        v.rules.push_back(
            {"links.removed", std::to_string(f.links.size()) + " link(s): " + domains});
    }
    if (!f.redactions.empty()) {
        int emails = 0, phones = 0;
        for (const auto& r : f.redactions) (r.kind == "email" ? emails : phones)++;
        v.rules.push_back({"privacy.redacted", std::to_string(emails) + " email address(es), " +
                                                   std::to_string(phones) + " phone number(s)"});
    }
    if (!f.malformed.empty()) {
        std::string why;
        for (const auto& m : f.malformed) why += (why.empty() ? "" : "; ") + m;
        v.rules.push_back({"mime.malformed", why});
    }

    const std::string guidelines =
        "This message was not sent as it did not meet the marketplace messaging guidelines";
    if (!f.malformed.empty() && p.malformed_action == "reject")
        return refuse(v, "550", "5.6.0",
                      "Message structure is malformed and cannot be checked (rule mime.malformed)");
    if (f.size_violation)
        return refuse(v, "552", "5.3.4",
                      "Message attachments exceed the size limit of " +
                          std::to_string(p.attachments.max_total_bytes) +
                          " bytes (rule attachment.total_size)");
    if (refusing)
        return refuse(v, "550", "5.7.1", guidelines + " (rule " + refusing->rule_id + ")");
    if (refused_attachment && p.attachments.action == AttachmentPolicy::Action::reject)
        return refuse(v, "550", "5.7.1",
                      "Attachment \"" + refused_attachment->filename +
                          "\" is not allowed: " + refused_attachment->reason + " (rule " +
                          refused_attachment->rule_id + ")");
    if (!f.links.empty() && p.links.action == LinkPolicy::Action::reject)
        return refuse(v, "550", "5.7.1",
                      "Links to sites outside the marketplace are not allowed (rule "
                      "links.removed)");
    if (!f.redactions.empty() && p.redact.action == RedactPolicy::Action::reject)
        return refuse(v, "550", "5.7.1",
                      "Email addresses and phone numbers are not allowed in messages (rule "
                      "privacy.redacted)");
    if (quarantining) {
        v.decision = Decision::quarantine;
        v.reply_text = "held for review (rule " + quarantining->rule_id + ")";
    }
    if (f.new_body) {
        v.edits.body = f.new_body;
        v.edits.headers.insert(v.edits.headers.end(), f.header_edits.begin(), f.header_edits.end());
    }
}

}  // namespace

Verdict evaluate(const Envelope& envelope, const Message& message, const EvalContext& ctx) {
    Verdict verdict;
    verdict.decision = Decision::accept;
    strip_marketplace_headers(message, verdict);

    const alias::ResolvedAlias* pair = envelope.alias_recipient();
    if (pair == nullptr) {
        // Not marketplace mail (e.g. outbound through the same MTA).
        if (!verdict.edits.empty()) verdict.decision = Decision::modify;
        return verdict;
    }
    verdict.recipient_party = pair->owner.id;

    if (envelope.sender.empty()) {
        // A bounce for an alias carries the other side's real address in its
        // report and returned headers; until it can be rewritten it must not
        // be delivered as it is.
        verdict.rules.push_back({"bounce.unrewritten", "null-sender message for an alias"});
        if (ctx.policy.bounce_action == "reject") {
            verdict.decision = Decision::reject;
            verdict.smtp_code = "550";
            verdict.enhanced_code = "5.7.1";
            verdict.reply_text = "Delivery status notifications to marketplace aliases are refused";
        } else {
            verdict.decision = Decision::quarantine;
            verdict.reply_text = "bounce for a marketplace alias held for review";
        }
        verdict.edits = {};
        return verdict;
    }

    verdict.sender_party = pair->counterpart.id;
    rewrite_for_pair(envelope, message, ctx, *pair, verdict);
    verdict.decision = Decision::modify;

    InspectOptions options{ctx.policy, ctx.classifier, ctx.domain,
                           pair->counterpart.role == alias::Role::seller
                               ? Direction::seller_to_buyer
                               : Direction::buyer_to_seller};
    auto findings = std::make_shared<ContentFindings>(inspect_content(message, options));
    apply_findings(*findings, ctx, verdict);
    verdict.findings = std::move(findings);
    return verdict;
}

void apply_edits(const Edits& edits, Message& message, Envelope& envelope) {
    for (const auto& e : edits.headers) {
        if (e.op == HeaderEdit::Op::add) {
            message.headers.push_back({e.name, e.value});
            continue;
        }
        int seen = 0;
        for (auto it = message.headers.begin(); it != message.headers.end(); ++it) {
            if (!iequals(it->name, e.name) || ++seen != e.index) continue;
            if (e.op == HeaderEdit::Op::remove)
                message.headers.erase(it);
            else
                it->value = e.value;
            break;
        }
    }
    if (edits.envelope_from) {
        envelope.sender_raw = *edits.envelope_from;
        envelope.sender = normalize_address(*edits.envelope_from);
    }
    for (const auto& raw : edits.remove_rcpts)
        std::erase_if(envelope.recipients, [&](const Recipient& r) { return r.raw == raw; });
    if (edits.body) message.body = *edits.body;
    for (const auto& raw : edits.add_rcpts)
        envelope.recipients.push_back({raw, normalize_address(raw), std::nullopt});
}

}  // namespace mm::policy
