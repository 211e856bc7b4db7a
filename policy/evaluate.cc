#include "policy/evaluate.h"

#include <algorithm>
#include <set>

#include "policy/from_header.h"
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
    for (const auto& raw : edits.add_rcpts)
        envelope.recipients.push_back({raw, normalize_address(raw), std::nullopt});
}

}  // namespace mm::policy
