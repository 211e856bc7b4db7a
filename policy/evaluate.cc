#include "policy/evaluate.h"

#include <algorithm>
#include <ctime>
#include <functional>
#include <set>
#include <stdexcept>

#include "policy/rewrite/dsn_rewrite.h"
#include "policy/rewrite/from_header.h"
#include "policy/rewrite/header_privacy.h"
#include "policy/marketplace/marketplace_step.h"
#include "policy/rewrite/message_ids.h"
#include "policy/mime/mime_inspect.h"
#include "policy/rules/privacy_rule.h"
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

// Each alias recipient is replaced by its owner's real address.
void map_recipients(const Envelope& envelope, Edits& edits) {
    std::set<std::string> added;
    for (const auto& r : envelope.recipients) {
        if (!r.alias) continue;
        edits.remove_rcpts.push_back(r.raw);
        if (added.insert(r.alias->owner.address).second)
            edits.add_rcpts.push_back("<" + r.alias->owner.address + ">");
    }
}

void rewrite_for_pair(const Envelope& envelope, const Message& message, const EvalContext& ctx,
                      const alias::ResolvedAlias& pair, Verdict& verdict) {
    Edits& edits = verdict.edits;
    const std::string sender_alias = pair.counterpart_alias() + "@" + ctx.domain;

    map_recipients(envelope, edits);
    edits.envelope_from = "<" + sender_alias + ">";

    const std::string from = make_from_header(pair.counterpart.display_name, sender_alias);
    int froms = message.count("From");
    for (int i = froms; i >= 2; --i)
        edits.headers.push_back({HeaderEdit::Op::remove, "From", i, {}});
    if (froms >= 1)
        edits.headers.push_back({HeaderEdit::Op::change, "From", 1, from});
    else
        edits.headers.push_back({HeaderEdit::Op::add, "From", 1, from});

    // Every header of the sender's that does not pass (allow-list by default).
    std::vector<std::string> removed;
    for (auto& e : header_removals(message, ctx.policy.headers)) {
        if (std::none_of(removed.begin(), removed.end(),
                         [&](const std::string& n) { return iequals(n, e.name); }))
            removed.push_back(e.name);
        edits.headers.push_back(std::move(e));
    }

    // To/Cc hold only this pair's aliases, as the directory names them.
    const std::string& owner_alias =
        pair.owner.role == alias::Role::buyer ? pair.pair.buyer_alias : pair.pair.seller_alias;
    const AliasMailbox addressed{owner_alias + "@" + ctx.domain, pair.owner.display_name};
    const AliasMailbox counterpart{sender_alias, pair.counterpart.display_name};
    RecipientEdits recipients = recipient_header_edits(message, ctx.domain, addressed, counterpart);
    edits.headers.insert(edits.headers.end(), recipients.edits.begin(), recipients.edits.end());

    verdict.rules.push_back({"alias.rewrite", std::string(alias::to_string(pair.counterpart.role)) +
                                                  " " + pair.counterpart.id + " -> " +
                                                  alias::to_string(pair.owner.role) + " " +
                                                  pair.owner.id});
    if (!removed.empty()) verdict.rules.push_back({"headers.identity", "removed " + join(removed)});
    if (recipients.changed()) {
        // Counts only: the addresses themselves never go to the audit trail.
        std::string detail =
            "removed " + std::to_string(recipients.removed_addresses) + " address(es) from To/Cc";
        if (recipients.removed_other_aliases > 0)
            detail += " (" + std::to_string(recipients.removed_other_aliases) +
                      " in the marketplace domain)";
        if (recipients.renamed > 0)
            detail += ", replaced " + std::to_string(recipients.renamed) + " display name(s)";
        verdict.rules.push_back({"headers.recipients", detail});
    }
}

void refuse(Verdict& v, const char* code, const char* xcode, std::string text) {
    v.decision = Decision::reject;
    v.smtp_code = code;
    v.enhanced_code = xcode;
    v.reply_text = std::move(text);
    v.edits = {};
}

// Turns what the content policy found into rule hits and, in order of
// precedence, a refusal, a quarantine or the body edits.
void apply_findings(ContentFindings& f, const EvalContext& ctx, Verdict& v) {
    const Policy& p = ctx.policy;
    // Excerpts go to the audit log: they must not carry addresses or phone
    // numbers themselves.
    RedactPolicy scrub;
    auto clean = [&](const std::string& s) { return redact_text(s, scrub, ctx.domain).text; };

    const ContentHit* refusing = nullptr;
    const ContentHit* quarantining = nullptr;
    for (const auto& hit : f.content_hits) {
        v.rules.push_back({hit.rule_id, std::string(policy::to_string(hit.action)) + " " +
                                            hit.language + ": \"" + clean(hit.excerpt) + "\""});
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
    if (f.links_removed != 0) {
        std::string domains;
        std::set<std::string> seen;
        for (const auto& l : f.links)
            if (seen.insert(l.domain).second && seen.size() <= 8)
                domains += (domains.empty() ? "" : ", ") + (l.domain.empty() ? l.reason : l.domain);
        v.rules.push_back(
            {"links.removed", std::to_string(f.links_removed) + " link(s): " + domains});
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
    if (!f.malformed.empty() && p.malformed_action == MalformedAction::reject)
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
    if (f.links_removed != 0 && p.links.action == LinkPolicy::Action::reject)
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
        // Moved, not copied: it may be a spool file (f.body_changed stays).
        v.edits.body = std::move(f.new_body);
        // The content step removes every top-level Content-* field and adds
        // the new ones: drop the header policy's removals of the same names
        // (they would target the same fields twice), and add only what passes.
        auto removed_by_content = [&](const HeaderEdit& e) {
            return e.op == HeaderEdit::Op::remove &&
                   std::any_of(f.header_edits.begin(), f.header_edits.end(), [&](const auto& c) {
                       return c.op == HeaderEdit::Op::remove && iequals(c.name, e.name);
                   });
        };
        std::erase_if(v.edits.headers, removed_by_content);
        for (const auto& e : f.header_edits)
            if (e.op != HeaderEdit::Op::add || header_passes(p.headers, e.name))
                v.edits.headers.push_back(e);
    }
}

// A null-sender message for an alias under bounces.action rewrite.  A bounce
// (DSN) is rewritten (dsn_rewrite.h) and delivered to the alias owner with
// the null sender kept, or refused/held as backscatter.  Returns false for an
// auto-reply sent with the null sender (RFC 3834), which the caller handles
// as mail from the counterpart; anything else is held for review.
bool handle_null_sender(const Envelope& envelope, const Message& message, const EvalContext& ctx,
                        const alias::ResolvedAlias& pair, Verdict& verdict) {
    // Backscatter: the returned message is not one the marketplace delivered
    // for this pair (only known when the Message-ID store is there).
    std::optional<std::string> store_error;
    std::function<bool(const std::string&)> known = [&](const std::string& id) {
        auto found = ctx.store->find_message_id(to_lower(id));
        if (!found) {
            store_error = found.error().message;
            return true;
        }
        return found.value() && found.value()->pair_id == pair.pair.id;
    };
    DsnRewrite dsn = rewrite_dsn(message, pair, ctx.domain, ctx.store ? &known : nullptr);
    if (!dsn.is_dsn) {
        if (is_auto_reply(message)) return false;
        verdict.rules.push_back({"bounce.unrecognised",
                                 "null-sender message for an alias that is neither a delivery "
                                 "report nor an auto-reply"});
        verdict.decision = Decision::quarantine;
        verdict.reply_text = "null-sender message for a marketplace alias held for review";
        verdict.edits = {};
        return true;
    }
    verdict.auto_reply = true;
    if (store_error) {
        verdict.rules.push_back({"store.unavailable", *store_error});
        verdict.decision = Decision::tempfail;
        verdict.smtp_code = "451";
        verdict.enhanced_code = "4.3.0";
        verdict.reply_text = "Temporary failure in the marketplace message store, try again later";
        verdict.edits = {};
        return true;
    }
    if (dsn.backscatter) {
        verdict.rules.push_back(
            {"bounce.backscatter", "the returned message was not delivered by the marketplace"});
        if (ctx.policy.bounce_backscatter == BackscatterAction::quarantine) {
            verdict.decision = Decision::quarantine;
            verdict.reply_text =
                "bounce for a message the marketplace did not send held for review";
            verdict.edits = {};
        } else {
            refuse(verdict, "550", "5.7.1",
                   "Delivery status notification for a message the marketplace did not send "
                   "(rule bounce.backscatter)");
        }
        return true;
    }

    Edits& edits = verdict.edits;
    map_recipients(envelope, edits);  // the envelope sender stays <>
    std::vector<std::string> removed;
    for (auto& e : header_removals(message, ctx.policy.headers)) {
        if (std::none_of(removed.begin(), removed.end(),
                         [&](const std::string& n) { return iequals(n, e.name); }))
            removed.push_back(e.name);
        edits.headers.push_back(std::move(e));
    }
    // The header policy's removals go first; the rewrite touches only the
    // names that pass, so no field is edited twice.
    for (const auto& e : dsn.header_edits)
        if (header_passes(ctx.policy.headers, e.name)) edits.headers.push_back(e);
    if (dsn.new_body) edits.body = std::move(dsn.new_body);
    verdict.rules.push_back({"bounce.rewritten", dsn.notes.empty()
                                                     ? "delivery report for " + pair.counterpart.id
                                                     : join(dsn.notes)});
    if (!removed.empty()) verdict.rules.push_back({"headers.identity", "removed " + join(removed)});
    verdict.decision = Decision::modify;
    return true;
}

// Anything the store cannot answer now: the MTA keeps the message and retries.
Verdict& store_tempfail(const Failure& failure, Verdict& verdict) {
    verdict.rules.push_back({"store.unavailable", failure.message});
    verdict.decision = Decision::tempfail;
    verdict.smtp_code = "451";
    verdict.enhanced_code = "4.3.0";
    verdict.reply_text = "Temporary failure in the marketplace message store, try again later";
    verdict.edits = {};
    return verdict;
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

    if (envelope.sender.empty() && ctx.policy.bounce_action == BounceAction::rewrite) {
        if (handle_null_sender(envelope, message, ctx, *pair, verdict)) return verdict;
        // An auto-reply with the null sender: mail from the counterpart below.
    } else if (envelope.sender.empty()) {
        // A bounce for an alias carries the other side's real address in its
        // report and returned headers: not delivered as it is.
        verdict.rules.push_back({"bounce.unrewritten", "null-sender message for an alias"});
        if (ctx.policy.bounce_action == BounceAction::reject) {
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
    if (envelope.sender.empty()) verdict.edits.envelope_from.reset();  // an auto-reply keeps <>
    verdict.decision = Decision::modify;

    // Message-ID mapping (message_ids.h); the milter commits the record once
    // the message is delivered.  A store failure tempfails: nothing leaks.
    if (ctx.store != nullptr) {
        auto ids = plan_message_ids(message, *pair, ctx.domain, *ctx.store);
        if (!ids) return std::move(store_tempfail(ids.error(), verdict));
        verdict.edits.headers.insert(verdict.edits.headers.end(), ids->edits.begin(),
                                     ids->edits.end());
        if (ids->thread.is_reply)
            verdict.rules.push_back(
                {"thread.reply", "answers <" + ids->thread.answers_marketplace_id + ">"});
        verdict.message_id_record = std::move(ids->record);
        verdict.thread = std::move(ids->thread);
    }

    InspectOptions options{ctx.policy, ctx.classifier, ctx.domain,
                           pair->counterpart.role == alias::Role::seller
                               ? Direction::seller_to_buyer
                               : Direction::buyer_to_seller};
    // Auto-replies carry signatures: always redacted (dsn_rewrite.h).
    verdict.auto_reply = is_auto_reply(message);
    options.force_redact = verdict.auto_reply;
    auto findings = std::make_shared<ContentFindings>(inspect_content(message, options));
    if (verdict.auto_reply)
        verdict.rules.push_back({"autoreply.redacted", std::to_string(findings->redactions.size()) +
                                                           " redaction(s) in an auto-reply"});
    apply_findings(*findings, ctx, verdict);

    // The marketplace rules, read-only here; the milter commits them.
    const bool deliverable = verdict.decision == Decision::accept ||
                             verdict.decision == Decision::modify ||
                             verdict.decision == Decision::quarantine;
    if (ctx.store != nullptr && deliverable) {
        const std::int64_t now =
            ctx.now != 0 ? ctx.now : static_cast<std::int64_t>(std::time(nullptr));
        const FindOrder find_order = [&ctx](const std::string& id) {
            return ctx.directory != nullptr ? ctx.directory->find_order(id)
                                            : ctx.store->find_order(id);
        };
        auto request = marketplace_request(envelope, message, *pair, findings, verdict,
                                           ctx.policy.marketplace, find_order, now);
        if (!request) return std::move(store_tempfail(request.error(), verdict));
        auto decision = run_marketplace(*ctx.store, *request, ctx.policy.marketplace, false);
        if (!decision) return std::move(store_tempfail(decision.error(), verdict));
        apply_marketplace(*decision, verdict);
        if (verdict.decision != Decision::reject && verdict.decision != Decision::tempfail)
            verdict.marketplace = std::make_shared<const MarketplaceRequest>(std::move(*request));
    }
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
    // A copy: apply_edits leaves `edits` as it was.
    if (edits.body) message.body = edits.body->clone();
    for (const auto& raw : edits.add_rcpts)
        envelope.recipients.push_back({raw, normalize_address(raw), std::nullopt});
}

}  // namespace mm::policy
