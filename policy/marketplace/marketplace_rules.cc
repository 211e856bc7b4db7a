#include "policy/marketplace/marketplace_rules.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <utility>

#include "policy/limits.h"
#include "policy/marketplace/fingerprints.h"
#include "policy/marketplace/marketplace_common.h"
#include "util/address.h"
#include "util/cidr.h"

namespace mm::policy {
namespace {

using alias::Role;
using marketplace_detail::is_id_char;
using marketplace_detail::kIdMaxChars;
using marketplace_detail::reply_line;
using marketplace_detail::trim;

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kHour = 3600;

bool icontains(std::string_view haystack, std::string_view needle) {
    if (needle.empty()) return false;
    if (needle.size() > haystack.size()) return false;
    for (size_t i = 0; i + needle.size() <= haystack.size(); ++i)
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    return false;
}

const std::string* attribute(const alias::Party& p, const char* name) {
    auto it = p.attributes.find(name);
    return it == p.attributes.end() ? nullptr : &it->second;
}

bool attribute_is(const alias::Party& p, const char* name, std::string_view value) {
    const std::string* v = attribute(p, name);
    return v != nullptr && iequals(trim(*v), value);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

std::string render(std::string text, const MarketplaceFacts& f, const MarketplacePolicy& p) {
    replace_all(text, "{order}", f.order_id.empty() ? "(none)" : f.order_id);
    replace_all(text, "{tag}", p.important_tag);
    replace_all(text, "{limit}", std::to_string(p.unsolicited_per_order));
    replace_all(text, "{hours}", std::to_string(p.repeat_window_hours));
    return reply_line(text);
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
    return out.empty() ? "none" : out;
}

// ---- contact reasons --------------------------------------------------------

struct Reasons {
    std::vector<std::string> ids;
    std::string source;  // "trusted header" | "patterns (LANG)" | "patterns (untrusted ...)"
};

// The ids a trusted X-Marketplace-Contact-Reason lists, comma-separated;
// malformed ones are skipped.
std::vector<std::string> header_reasons(std::string_view header) {
    std::vector<std::string> ids;
    size_t pos = 0;
    while (pos <= header.size()) {
        size_t comma = header.find(',', pos);
        std::string_view tok = trim(header.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        pos = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
        if (!tok.empty() && tok.size() <= kIdMaxChars &&
            std::all_of(tok.begin(), tok.end(), is_id_char))
            ids.push_back(to_lower(tok));
    }
    return ids;
}

Reasons find_reasons(const MarketplaceFacts& f, const MarketplacePolicy& p) {
    Reasons r;
    std::string_view header = trim(f.contact_reason_header);
    if (f.trusted_tooling && !header.empty()) {
        r.source = "trusted header";
        r.ids = header_reasons(header);
        return r;
    }
    std::vector<std::string_view> texts;
    texts.reserve(f.texts.size() + f.document_texts.size() + 1);
    texts.push_back(f.subject);
    for (const std::string& t : f.texts) texts.push_back(t);
    for (const std::string& t : f.document_texts) texts.push_back(t);
    const ContentRules& rules =
        p.contact_reasons ? *p.contact_reasons : *marketplace_detail::no_contact_reasons();
    std::string langs;
    ScanContext context;
    context.subjects = 1;
    context.sender = f.writer == alias::Role::seller ? classify::kSeller : classify::kBuyer;
    for (const ContentHit& h : rules.scan(texts, context, f.scans)) {
        r.ids.push_back(h.rule_id);
        if (langs.find(h.language) == std::string::npos)
            langs += (langs.empty() ? "" : ",") + h.language;
    }
    r.source = header.empty() ? "patterns" : "patterns (untrusted header ignored)";
    if (!langs.empty()) r.source += " " + langs;
    return r;
}

}  // namespace

// ---- order id, trusted tooling ---------------------------------------------

std::optional<std::string> extract_order_id(const Message& message,
                                            const MarketplacePolicy& policy) {
    if (const std::string* h = message.find("X-Marketplace-Order")) {
        std::string_view v = trim(*h);
        if (!v.empty() && v.size() <= kIdMaxChars && std::all_of(v.begin(), v.end(), is_id_char))
            return std::string(v);
    }
    const std::string* subject = message.find("Subject");
    if (subject == nullptr || !policy.order_subject_re || !policy.order_subject_re->ok())
        return std::nullopt;
    const RE2& re = *policy.order_subject_re;
    std::array<re2::StringPiece, 2> m;
    int n = std::min(re.NumberOfCapturingGroups(), 1) + 1;
    if (!re.Match(*subject, 0, subject->size(), RE2::UNANCHORED, m.data(), n)) return std::nullopt;
    re2::StringPiece id = (n == 2 && m[1].data() != nullptr) ? m[1] : m[0];
    std::string out = reply_line(std::string_view(id.data(), id.size()));
    if (out.empty() || out.size() > kIdMaxChars) return std::nullopt;
    return out;
}

bool is_trusted_tooling(const MarketplacePolicy& policy, std::string_view client_address,
                        std::string_view authenticated_sender) {
    std::string_view sender = trim(authenticated_sender);
    if (!sender.empty()) {
        std::string norm = normalize_address(sender);
        for (const std::string& s : policy.trusted_tooling.senders)
            if (s == norm) return true;
    }
    if (auto ip = parse_ip(client_address)) {
        for (const std::string& c : policy.trusted_tooling.clients)
            if (auto cidr = parse_cidr(c); cidr && cidr_contains(*cidr, *ip)) return true;
    }
    return false;
}

// ---- the rules ---------------------------------------------------------------

namespace {

// Whether the walk goes on to the next rule.
enum class Next { rule, stop };

// One message's walk through the rules: the facts, the decision being built,
// and what several rules derive from the thread, computed once.
struct Walk {
    const MarketplaceFacts& f;
    const alias::ThreadState& state;
    const MarketplacePolicy& p;
    MarketplaceDecision& d;

    std::string order_label;
    bool buyer_started;  // the buyer wrote first in this thread
    bool answers_buyer;  // the buyer wrote after the seller's last message
    bool tag_used;       // the subject carries the [Important] tag
    // Set by the [Important] rule: a critical message passes the opt-out and
    // the unsolicited limit.
    bool critical = false;
    std::optional<Reasons> reasons;  // found on first use

    Walk(const MarketplaceFacts& facts, const alias::ThreadState& s, const MarketplacePolicy& pol,
         MarketplaceDecision& dec)
        : f(facts),
          state(s),
          p(pol),
          d(dec),
          order_label(f.order_id.empty() ? "(none)" : f.order_id),
          buyer_started(s.exists && s.started_by == Role::buyer),
          answers_buyer(s.exists && s.last_buyer_at > 0 && s.last_buyer_at >= s.last_seller_at),
          tag_used(icontains(f.subject, p.important_tag)) {}

    const Reasons& contact_reasons() {
        if (!reasons) {
            reasons = find_reasons(f, p);
            d.contact_reasons = reasons->ids;
        }
        return *reasons;
    }
    void hit(std::string id, std::string detail) {
        d.rules.push_back({std::move(id), reply_line(detail)});
    }
    Next reject(std::string id, std::string detail, const std::string& text,
                bool render_text = true) {
        hit(std::move(id), std::move(detail));
        d.update.allowed = false;
        d.decision = Decision::reject;
        d.smtp_code = "550";
        d.enhanced_code = "5.7.1";
        d.reply_text = render_text ? render(text, f, p) : reply_line(text);
        return Next::stop;
    }
    // The first quarantine's text is the reply.
    void quarantine(std::string id, std::string detail, const std::string& text) {
        hit(std::move(id), std::move(detail));
        if (d.decision != Decision::quarantine) d.reply_text = render(text, f, p);
        d.decision = Decision::quarantine;
    }
};

// -- a buyer writes --

// A seller with messaging off takes no new buyer; an existing thread goes on.
Next vacation(Walk& w) {
    const alias::Party& seller = w.f.recipient;
    if (!attribute_is(seller, alias::kAttrMessaging, "off")) return Next::rule;
    if (!w.state.exists) {
        const std::string* away_text = attribute(seller, alias::kAttrAwayText);
        bool own = away_text != nullptr && !trim(*away_text).empty();
        return w.reject("marketplace.vacation", "seller has messaging off; new buyer refused",
                        own ? *away_text : w.p.messages.vacation, !own);
    }
    w.hit("marketplace.vacation", "seller has messaging off; existing thread passes");
    return Next::rule;
}

Next buyer_message(Walk& w) {
    w.d.update.counts_as_buyer_message = !w.f.auto_reply;
    w.hit("marketplace.buyer_message",
          w.f.auto_reply ? "buyer auto-reply: delivered, does not count as the buyer writing"
                         : "buyer message");
    return Next::stop;
}

// -- a seller writes --

// Only the buyer starts a gift-return thread.
Next gift_return(Walk& w) {
    const bool gift_return = w.f.order && iequals(w.f.order->kind, "gift-return");
    if (!gift_return || w.buyer_started) return Next::rule;
    return w.reject("marketplace.gift_return",
                    "gift-return order " + w.order_label + ": seller may not start the thread",
                    w.p.messages.gift_return);
}

// FBA orders: replies only, except product inquiries.
Next fba_reply_only(Walk& w) {
    if (!w.f.order || !iequals(w.f.order->fulfilment, "fba")) return Next::rule;
    if (w.buyer_started || w.answers_buyer) {
        w.hit("marketplace.fba_reply_only", "FBA order " + w.order_label + ": seller replies");
        return Next::rule;
    }
    const Reasons& r = w.contact_reasons();
    const std::string& inquiry = w.p.fba_product_inquiry_reason;
    if (!inquiry.empty() && contains(r.ids, inquiry)) {
        w.hit("marketplace.fba_reply_only",
              "FBA order " + w.order_label + ": product inquiry (" + r.source + ") may start");
        return Next::rule;
    }
    return w.reject(
        "marketplace.fba_reply_only",
        "FBA order " + w.order_label + ": seller may only reply (reasons: " + join(r.ids) + ")",
        w.p.messages.fba_reply_only);
}

// A tagged message is critical when a critical contact reason is found;
// otherwise it is misuse and gets important_action.
Next important_critical(Walk& w) {
    if (!w.tag_used) return Next::rule;
    const Reasons& r = w.contact_reasons();
    std::vector<std::string> crit;
    for (const std::string& id : r.ids)
        if (contains(w.p.critical_reasons, id)) crit.push_back(id);
    w.critical = !crit.empty();
    if (w.critical) {
        w.hit("marketplace.critical", "tagged and critical: " + join(crit) + " (" + r.source + ")");
        return Next::rule;
    }
    std::string detail = "tagged but not critical (reasons: " + join(r.ids) + "; " + r.source + ")";
    switch (w.p.important_action) {
        case MarketplacePolicy::ImportantAction::reject:
            return w.reject("marketplace.important_misuse", detail, w.p.messages.important_misuse);
        case MarketplacePolicy::ImportantAction::quarantine:
            w.quarantine("marketplace.important_misuse", detail, w.p.messages.important_misuse);
            break;
        case MarketplacePolicy::ImportantAction::flag:
            w.hit("marketplace.important_misuse", detail + "; flagged");
            break;
    }
    return Next::rule;
}

// Past the seller's daily number of tagged messages, critical or not: held
// for review.
Next important_daily_threshold(Walk& w) {
    if (!w.tag_used) return Next::rule;
    const std::int64_t today = static_cast<std::int64_t>(w.state.important_today) + 1;
    if (today > w.p.important_daily_threshold)
        w.quarantine("marketplace.important_quarantine",
                     "seller's tag use " + std::to_string(today) + " today (threshold " +
                         std::to_string(w.p.important_daily_threshold) + ")",
                     w.p.messages.important_quarantine);
    return Next::rule;
}

// A buyer who opted out gets seller messages only in a thread the buyer
// started or recently wrote in, for an exempt order kind, or critical ones.
Next optout(Walk& w) {
    if (!attribute_is(w.f.recipient, alias::kAttrOptout, "on")) return Next::rule;
    const std::optional<alias::Order>& order = w.f.order;
    const bool buyer_recent =
        w.state.last_buyer_at > 0 &&
        w.f.now - w.state.last_buyer_at <= static_cast<std::int64_t>(w.p.buyer_window_days) * kDay;
    if (w.buyer_started)
        w.hit("marketplace.buyer_thread", "buyer opted out; thread started by the buyer");
    else if (buyer_recent)
        w.hit("marketplace.buyer_thread", "buyer opted out; buyer wrote within " +
                                              std::to_string(w.p.buyer_window_days) + " days");
    else if (order && contains(w.p.exempt_order_kinds, order->kind))
        w.hit("marketplace.exempt_order",
              "buyer opted out; order kind '" + order->kind + "' is exempt");
    else if (!w.critical)
        return w.reject("marketplace.optout",
                        "buyer opted out; order " + w.order_label +
                            (w.tag_used ? ": tagged but not critical" : ": not tagged critical"),
                        w.p.messages.opted_out);
    return Next::rule;
}

// Unsolicited messages per order: the limit is the order's; a message that
// names no order is counted but not limited.
Next unsolicited_limit(Walk& w) {
    if (w.answers_buyer || w.f.order_id.empty()) return Next::rule;
    const int sent = w.state.unsolicited_since_buyer;
    const int limit = w.p.unsolicited_per_order;
    if (w.critical) {
        w.hit("marketplace.unsolicited_limit", "critical message: not limited");
        return Next::rule;
    }
    if (sent >= limit)
        return w.reject("marketplace.unsolicited_limit",
                        "order " + w.order_label + ": " + std::to_string(sent) +
                            " unsolicited since the buyer last wrote (limit " +
                            std::to_string(limit) + ")",
                        w.p.messages.unsolicited_limit);
    w.hit("marketplace.unsolicited_limit", "order " + w.order_label + ": unsolicited " +
                                               std::to_string(sent + 1) + " of " +
                                               std::to_string(limit));
    return Next::rule;
}

// Any text part equal (normalised) to a recent one to this buyer.  A window
// of 0 hours switches the rule off.  The first text's fingerprint is the one
// remembered.
Next repeat(Walk& w) {
    if (w.p.repeat_window_hours <= 0) return Next::rule;
    const std::int64_t since = w.f.now - static_cast<std::int64_t>(w.p.repeat_window_hours) * kHour;
    for (const std::string& text : w.f.texts) {
        std::string fp = fingerprint(text);
        if (fp.empty()) continue;
        if (w.d.update.fingerprint.empty()) w.d.update.fingerprint = fp;
        for (const auto& [old, at] : w.state.recent_fingerprints) {
            if (old == fp && at >= since)
                return w.reject("marketplace.repeat",
                                "same text sent to this buyer " +
                                    std::to_string((w.f.now - at) / 60) +
                                    " minutes ago (fingerprint " + fp.substr(0, 12) + ")",
                                w.p.messages.repeat);
        }
    }
    return Next::rule;
}

// Every decision names a rule: a seller answer no rule remarked on says so.
Next reply(Walk& w) {
    if (w.d.rules.empty()) w.hit("marketplace.reply", "seller answers the buyer");
    return Next::stop;
}

struct Rule {
    std::string_view id;
    Role writer;  // whose messages it judges
    Next (*run)(Walk&);
};

// In order: a refusal ends the walk, so the earlier rule's reason is the one
// the sender reads; the [Important] rule comes before the opt-out and the
// limit, which let a critical message through.
constexpr Rule kRules[] = {
    {"vacation", Role::buyer, vacation},
    {"buyer_message", Role::buyer, buyer_message},
    {"gift_return", Role::seller, gift_return},
    {"fba_reply_only", Role::seller, fba_reply_only},
    {"important_critical", Role::seller, important_critical},
    {"important_daily_threshold", Role::seller, important_daily_threshold},
    {"optout", Role::seller, optout},
    {"unsolicited_limit", Role::seller, unsolicited_limit},
    {"repeat", Role::seller, repeat},
    {"reply", Role::seller, reply},
};

MarketplaceDecision decide_impl(const MarketplaceFacts& f, const alias::ThreadState& state,
                                const MarketplacePolicy& p) {
    MarketplaceDecision d;
    d.update.writer = f.writer;
    d.update.allowed = true;
    d.decision = Decision::accept;
    Walk w(f, state, p, d);
    if (f.writer == Role::seller) {
        // Set before any rule may refuse: the store counts a refused tag use.
        d.update.important_used = w.tag_used;
        d.update.unsolicited = !w.answers_buyer;
    }
    for (const Rule& rule : kRules) {
        if (rule.writer != f.writer) continue;
        if (rule.run(w) == Next::stop) break;
    }
    return d;
}

}  // namespace

MarketplaceDecision decide(const MarketplaceFacts& facts, const alias::ThreadState& state,
                           const MarketplacePolicy& policy) {
    try {
        return decide_impl(facts, state, policy);
    } catch (const LimitExceeded&) {
        throw;  // the message is refused for it, not tempfailed
    } catch (...) {
        MarketplaceDecision d;
        d.update.allowed = false;
        d.update.writer = facts.writer;
        d.decision = Decision::tempfail;
        d.smtp_code = "451";
        d.enhanced_code = "4.3.0";
        d.reply_text = "Temporary failure in the marketplace rules";
        d.rules.push_back({"marketplace.internal", "rules failed (out of memory)"});
        return d;
    }
}

}  // namespace mm::policy
