#include "policy/marketplace/marketplace_policy.h"

#include <re2/re2.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "policy/marketplace/marketplace_common.h"
#include "util/address.h"
#include "util/cidr.h"

namespace mm::policy {
namespace {

using marketplace_detail::is_id_char;
using marketplace_detail::kIdMaxChars;
using marketplace_detail::regex_options;
using marketplace_detail::trim;

std::shared_ptr<const RE2> default_order_re() {
    static const std::shared_ptr<const RE2> re =
        std::make_shared<const RE2>(std::string(kDefaultOrderSubjectRegex), regex_options());
    return re;
}

}  // namespace

MarketplacePolicy::MarketplacePolicy()
    : order_subject_re(default_order_re()),
      contact_reasons(marketplace_detail::no_contact_reasons()) {}

namespace {

using yaml::Entry;
using yaml::error_at;

struct ReasonDraft {
    ContentRule rule;
    bool critical = false;
    YAML::Mark id_mark;
};

struct Draft {
    MarketplacePolicy* out = nullptr;
    std::optional<std::vector<ReasonDraft>> reasons;
    YAML::Mark reasons_mark;
    YAML::Mark fba_mark;
    bool fba_set = false;
};

int get_int_in(const Entry& e, long long min, long long max) {
    return static_cast<int>(yaml::get_int(e, min, max));
}

std::string get_line(const Entry& e, bool nonempty) {
    std::string s = nonempty ? yaml::get_nonempty_string(e) : yaml::get_string(e);
    if (s.find_first_of("\r\n") != std::string::npos)
        error_at(e.value.Mark(), e.name + ": must be one line");
    return s;
}

std::string get_reason_id(const Entry& e) {
    std::string id = yaml::get_string(e);
    if (id.empty()) return id;
    if (id.size() > kIdMaxChars || !std::all_of(id.begin(), id.end(), is_id_char))
        error_at(e.value.Mark(),
                 e.name + ": '" + id + "' must be at most 64 letters, digits and . - _");
    return to_lower(id);
}

void load_tag(const Entry& e, Draft& d) {
    std::string tag = get_line(e, true);
    d.out->important_tag = tag;
}

// The names policy.yaml may give important_action.
constexpr std::pair<std::string_view, MarketplacePolicy::ImportantAction> kImportantActions[] = {
    {"reject", MarketplacePolicy::ImportantAction::reject},
    {"quarantine", MarketplacePolicy::ImportantAction::quarantine},
    {"flag", MarketplacePolicy::ImportantAction::flag},
};

void load_action(const Entry& e, Draft& d) {
    std::string a = yaml::get_string(e);
    for (const auto& [name, action] : kImportantActions) {
        if (a == name) {
            d.out->important_action = action;
            return;
        }
    }
    error_at(e.value.Mark(),
             e.name + ": unknown action '" + a + "' (expected reject, quarantine or flag)");
}

void load_threshold(const Entry& e, Draft& d) {
    d.out->important_daily_threshold = get_int_in(e, 0, 1000000);
}
void load_window_days(const Entry& e, Draft& d) {
    d.out->buyer_window_days = get_int_in(e, 0, 3650);
}
void load_exempt(const Entry& e, Draft& d) {
    d.out->exempt_order_kinds = yaml::get_string_list(e, "an order kind");
}
void load_per_order(const Entry& e, Draft& d) {
    d.out->unsolicited_per_order = get_int_in(e, 0, 1000);
}
void load_repeat_hours(const Entry& e, Draft& d) {
    d.out->repeat_window_hours = get_int_in(e, 0, 24 * 3650);
}

void load_order_regex(const Entry& e, Draft& d) {
    std::string s = yaml::get_nonempty_string(e);
    auto re = std::make_shared<const RE2>(s, regex_options());
    if (!re->ok()) error_at(e.value.Mark(), e.name + ": " + re->error());
    d.out->order_subject_regex = std::move(s);
    d.out->order_subject_re = std::move(re);
}

void load_clients(const Entry& e, MarketplacePolicy::TrustedTooling& t) {
    yaml::expect_list(e);
    t.clients.clear();
    for (const auto& item : e.value) {
        if (!item.IsScalar() || !parse_cidr(item.Scalar()))
            error_at(item.Mark(), e.name +
                                      ": expected an IP address or prefix (1.2.3.4, "
                                      "10.0.0.0/8, 2001:db8::/32)");
        t.clients.push_back(std::string(trim(item.Scalar())));
    }
}

void load_senders(const Entry& e, MarketplacePolicy::TrustedTooling& t) {
    yaml::expect_list(e);
    t.senders.clear();
    for (const auto& item : e.value) {
        if (!item.IsScalar() || !is_valid_address(normalize_address(item.Scalar())))
            error_at(item.Mark(), e.name + ": expected an email address");
        t.senders.push_back(normalize_address(item.Scalar()));
    }
}

constexpr yaml::Key<MarketplacePolicy::TrustedTooling> kToolingKeys[] = {
    {"clients",
     false,
     load_clients,
     {"list of IP addresses or CIDR prefixes", "[]",
      "Clients whose X-Marketplace-Contact-Reason header is believed."}},
    {"senders",
     false,
     load_senders,
     {"list of email addresses", "[]",
      "Authenticated (SASL) senders whose X-Marketplace-Contact-Reason header is believed."}},
};

void load_tooling(const Entry& e, Draft& d) {
    yaml::load_section<MarketplacePolicy::TrustedTooling>(e, kToolingKeys, d.out->trusted_tooling);
}

void load_fba_reason(const Entry& e, Draft& d) {
    d.out->fba_product_inquiry_reason = get_reason_id(e);
    d.fba_mark = e.value.Mark();
    d.fba_set = true;
}

#define MM_MESSAGE_LOADER(field)                                                \
    void load_message_##field(const Entry& e, MarketplacePolicy::Messages& m) { \
        m.field = get_line(e, true);                                            \
    }
MM_MESSAGE_LOADER(opted_out)
MM_MESSAGE_LOADER(vacation)
MM_MESSAGE_LOADER(important_misuse)
MM_MESSAGE_LOADER(important_quarantine)
MM_MESSAGE_LOADER(unsolicited_limit)
MM_MESSAGE_LOADER(repeat)
MM_MESSAGE_LOADER(fba_reply_only)
MM_MESSAGE_LOADER(gift_return)
#undef MM_MESSAGE_LOADER

constexpr yaml::Key<MarketplacePolicy::Messages> kMessageKeys[] = {
    {"opted_out",
     false,
     load_message_opted_out,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "A seller message to a buyer who opted out of unsolicited messages. {order}, {tag}, {limit} "
      "and {hours} are replaced by the order id, important_tag, unsolicited_per_order and "
      "repeat_window_hours; the audit id is appended."}},
    {"vacation",
     false,
     load_message_vacation,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "A new buyer writing to a seller whose messaging is off, when the seller set no away text. "
      "{order}, {tag}, {limit} and {hours} are replaced by the order id, important_tag, "
      "unsolicited_per_order and repeat_window_hours; the audit id is appended."}},
    {"important_misuse",
     false,
     load_message_important_misuse,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "A message tagged with important_tag that is not critical. {order}, {tag}, {limit} and "
      "{hours} are replaced by the order id, important_tag, unsolicited_per_order and "
      "repeat_window_hours; the audit id is appended."}},
    {"important_quarantine",
     false,
     load_message_important_quarantine,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "Why a seller's tagged message past important_daily_threshold is held. {order}, {tag}, "
      "{limit} and {hours} are replaced by the order id, important_tag, unsolicited_per_order and "
      "repeat_window_hours; the audit id is appended."}},
    {"unsolicited_limit",
     false,
     load_message_unsolicited_limit,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "A seller message past unsolicited_per_order. {order}, {tag}, {limit} and {hours} are "
      "replaced by the order id, important_tag, unsolicited_per_order and repeat_window_hours; the "
      "audit id is appended."}},
    {"repeat",
     false,
     load_message_repeat,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "The same text to the same buyer within repeat_window_hours. {order}, {tag}, {limit} and "
      "{hours} are replaced by the order id, important_tag, unsolicited_per_order and "
      "repeat_window_hours; the audit id is appended."}},
    {"fba_reply_only",
     false,
     load_message_fba_reply_only,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "A seller starting a thread on an order the marketplace fulfilled (fba), without the "
      "product-inquiry reason. {order}, {tag}, {limit} and {hours} are replaced by the order id, "
      "important_tag, unsolicited_per_order and repeat_window_hours; the audit id is appended."}},
    {"gift_return",
     false,
     load_message_gift_return,
     {"string, one line", "built in (see the shipped policy.yaml)",
      "A seller starting a conversation on a gift-return order. {order}, {tag}, {limit} and "
      "{hours} are replaced by the order id, important_tag, unsolicited_per_order and "
      "repeat_window_hours; the audit id is appended."}},
};

void load_messages(const Entry& e, Draft& d) {
    yaml::load_section<MarketplacePolicy::Messages>(e, kMessageKeys, d.out->messages);
}

// -- contact_reasons --

void load_reason_id(const Entry& e, ReasonDraft& r) {
    std::string id = get_reason_id(e);
    if (id.empty()) error_at(e.value.Mark(), e.name + ": must not be empty");
    r.rule.id = std::move(id);
    r.id_mark = e.value.Mark();
}
void load_reason_description(const Entry& e, ReasonDraft& r) {
    r.rule.description = yaml::get_string(e);
}
void load_reason_critical(const Entry& e, ReasonDraft& r) {
    r.critical = yaml::get_bool(e);
}

void load_reason_language(const Entry& e, ReasonDraft& r) {
    yaml::expect_list(e);
    const std::string language = e.key.Scalar();
    size_t n = 0;
    for (const auto& item : e.value) {
        ++n;
        if (!item.IsScalar() || item.Scalar().empty())
            error_at(item.Mark(),
                     e.name + ": expected a regular expression, got " +
                         (item.IsScalar() ? "an empty string" : yaml::type_name(item)));
        // Compiled here (as ContentRules will) so a bad one is reported at
        // its own line and column.
        RE2 re(item.Scalar(), regex_options());
        if (!re.ok())
            error_at(item.Mark(), e.name + " pattern " + std::to_string(n) + ": " + re.error());
        r.rule.patterns.push_back({language, item.Scalar()});
    }
}

constexpr yaml::Key<ReasonDraft> kReasonLanguageKeys[] = {
    {"en",
     false,
     load_reason_language,
     {"list of RE2 patterns", "",
      "Patterns for English text, matched as content rule patterns are."}},
    {"de",
     false,
     load_reason_language,
     {"list of RE2 patterns", "",
      "Patterns for German text, matched as content rule patterns are."}},
    {"fr",
     false,
     load_reason_language,
     {"list of RE2 patterns", "",
      "Patterns for French text, matched as content rule patterns are."}},
    {"it",
     false,
     load_reason_language,
     {"list of RE2 patterns", "",
      "Patterns for Italian text, matched as content rule patterns are."}},
    {"es",
     false,
     load_reason_language,
     {"list of RE2 patterns", "",
      "Patterns for Spanish text, matched as content rule patterns are."}},
};

void load_reason_patterns(const Entry& e, ReasonDraft& r) {
    yaml::load_section<ReasonDraft>(e, kReasonLanguageKeys, r);
}

constexpr yaml::Key<ReasonDraft> kReasonKeys[] = {
    {"id",
     true,
     load_reason_id,
     {"string: letters, digits and . - _", "",
      "The reason's name, as trusted tooling writes it in X-Marketplace-Contact-Reason."}},
    {"description",
     false,
     load_reason_description,
     {"string", "\"\"", "For people reading the file."}},
    {"critical",
     false,
     load_reason_critical,
     {"true | false", "false",
      "A message about this reason, tagged with important_tag, reaches a buyer who opted out."}},
    {"patterns",
     false,
     load_reason_patterns,
     {"mapping of language to patterns", "",
      "RE2 patterns per language (en, de, fr, it, es) that recognise the reason in the subject and "
      "the text.",
      +[] { return yaml::describe<ReasonDraft>(kReasonLanguageKeys); }}},
    {"when",
     false,
     [](const Entry& e, ReasonDraft& r) { load_rule_when(e, r.rule); },
     {"expression over concepts", "",
      "Concept names (concepts.yaml) combined with & (and), | (or), ! (not) and parentheses; the "
      "rule hits where the expression holds within `window` words inside one `scope` unit."}},
    {"scope",
     false,
     [](const Entry& e, ReasonDraft& r) { load_rule_scope(e, r.rule); },
     {"sentence | paragraph | message", "paragraph",
      "How far apart the concepts of `when` may be: one sentence, one paragraph, or the whole text "
      "part (the subject is its own paragraph)."}},
    {"window",
     false,
     [](const Entry& e, ReasonDraft& r) { load_rule_window(e, r.rule); },
     {"integer, words (1-1000)", "30",
      "The concepts of `when` must match within this many words of each other."}},
    {"senders",
     false,
     [](const Entry& e, ReasonDraft& r) { load_rule_senders(e, r.rule); },
     {"list of seller | buyer", "[seller, buyer]", "Whose messages the rule judges."}},
};

void load_reasons(const Entry& e, Draft& d) {
    yaml::expect_list(e);
    std::vector<ReasonDraft> reasons;
    for (std::size_t i = 0; i < e.value.size(); ++i) {
        const YAML::Node item = e.value[i];
        const Entry ie = yaml::list_item(e, i, item);
        ReasonDraft r;
        yaml::load_section<ReasonDraft>(ie, kReasonKeys, r);
        for (const ReasonDraft& prev : reasons)
            if (prev.rule.id == r.rule.id)
                error_at(r.id_mark, ie.name + ": duplicate reason id '" + r.rule.id + "'");
        r.rule.action = ContentRule::Action::flag;
        reasons.push_back(std::move(r));
    }
    d.reasons = std::move(reasons);
    d.reasons_mark = e.value.Mark();
}

constexpr yaml::Key<Draft> kMarketplaceKeys[] = {
    {"important_tag",
     false,
     load_tag,
     {"string", "\"[Important]\"",
      "The subject tag (anywhere, brackets required, case ignored) that marks a message as "
      "critical."}},
    {"important_action",
     false,
     load_action,
     {"reject | quarantine | flag", "reject",
      "A tagged message that is not critical: refused (550 5.7.1), held, or delivered with the "
      "rule recorded (a buyer who opted out still does not get it)."}},
    {"important_daily_threshold",
     false,
     load_threshold,
     {"integer", "20",
      "Tagged messages per seller and day (UTC) past which they are quarantined for review."}},
    {"buyer_window_days",
     false,
     load_window_days,
     {"integer, days", "30",
      "A seller may answer a buyer who opted out when the buyer wrote in the thread within this "
      "many days."}},
    {"exempt_order_kinds",
     false,
     load_exempt,
     {"list of order kinds: standard, handmade, custom, wine, gift-return",
      "[handmade, custom, wine]", "Orders of these kinds are exempt from the opt-out."}},
    {"unsolicited_per_order",
     false,
     load_per_order,
     {"integer", "1",
      "Seller messages per order that do not answer a buyer message, until the buyer writes again "
      "(critical messages not counted)."}},
    {"repeat_window_hours",
     false,
     load_repeat_hours,
     {"integer, hours", "72",
      "The same text (normalised: case, white space, quotes, greeting and signature ignored) to "
      "the same buyer again within this time is refused. 0: off."}},
    {"order_subject_regex",
     false,
     load_order_regex,
     {"RE2 pattern", "\\b(\\d{3}-\\d{7}-\\d{7})\\b",
      "Where the order id comes from without an X-Marketplace-Order header: the first match in the "
      "Subject (its first capture group, if any)."}},
    {"trusted_tooling",
     false,
     load_tooling,
     {"mapping", "",
      "Seller tooling whose X-Marketplace-Contact-Reason header (reason ids, comma-separated) is "
      "believed instead of the patterns; from anyone else the header is ignored.",
      +[] { return yaml::describe<MarketplacePolicy::TrustedTooling>(kToolingKeys); }}},
    {"contact_reasons",
     false,
     load_reasons,
     {"list of mappings",
      "product_customisation, delivery_scheduling, shipping_address (critical), product_inquiry",
      "What a seller message is about, recognised by patterns per language; each with the keys "
      "below.",
      +[] { return yaml::describe<ReasonDraft>(kReasonKeys); }}},
    {"fba_product_inquiry_reason",
     false,
     load_fba_reason,
     {"reason id, or \"\"", "product_inquiry",
      "The contact reason that lets a seller start a thread on an order fulfilled by the "
      "marketplace; it must be one of contact_reasons."}},
    {"messages",
     false,
     load_messages,
     {"mapping", "", "The refusal texts (one line each).",
      +[] { return yaml::describe<MarketplacePolicy::Messages>(kMessageKeys); }}},
};

}  // namespace

std::vector<yaml::KeyInfo> marketplace_section_schema() {
    return yaml::describe<Draft>(kMarketplaceKeys);
}

void load_marketplace_section(const yaml::Entry& e, MarketplacePolicy& out) {
    MarketplacePolicy p = out;
    Draft d;
    d.out = &p;
    yaml::load_section<Draft>(e, kMarketplaceKeys, d);
    if (d.reasons) {
        if (!p.fba_product_inquiry_reason.empty()) {
            bool known = std::any_of(
                d.reasons->begin(), d.reasons->end(),
                [&](const ReasonDraft& r) { return r.rule.id == p.fba_product_inquiry_reason; });
            if (!known)
                error_at(d.fba_set ? d.fba_mark : d.reasons_mark,
                         e.name + ".fba_product_inquiry_reason: '" + p.fba_product_inquiry_reason +
                             "' is not one of contact_reasons");
        }
        std::vector<ContentRule> rules;
        p.critical_reasons.clear();
        for (ReasonDraft& r : *d.reasons) {
            if (r.critical) p.critical_reasons.push_back(r.rule.id);
            // A reason without patterns or `when` is known only from the
            // trusted header.
            if (!r.rule.patterns.empty() || !r.rule.when.empty())
                rules.push_back(std::move(r.rule));
        }
        auto compiled = ContentRules::compile(std::move(rules));
        if (!compiled)
            error_at(d.reasons_mark, e.name + ".contact_reasons: " + compiled.error().message);
        p.contact_reasons = std::move(compiled.value());
        if (p.critical_reasons.empty())
            error_at(d.reasons_mark,
                     e.name + ".contact_reasons: no reason is critical: " + p.important_tag +
                         " could never let a message through an opt-out");
    }
    out = std::move(p);
}

}  // namespace mm::policy
