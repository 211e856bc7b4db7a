#include "cli/classify_message.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "util/address.h"

namespace mm::milter {
namespace {

using json = nlohmann::ordered_json;

// "Subject: ..." or any "Field-Name:" on the first line.
bool starts_with_header(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-')) ++i;
    return i > 0 && i < s.size() && s[i] == ':';
}

std::string as_message(std::string_view input) {
    if (starts_with_header(input)) return std::string(input);
    return "Content-Type: text/plain; charset=utf-8\n\n" + std::string(input);
}

policy::Direction direction_of(const policy::Message& m, const ClassifyOptions& o) {
    if (o.from) return *o.from;
    if (const std::string* d = m.find("X-Direction"))
        if (to_lower(*d).find("buyer-to-seller") != std::string::npos)
            return policy::Direction::buyer_to_seller;
    return policy::Direction::seller_to_buyer;
}

json hit_json(const policy::ContentHit& h, bool explain) {
    json j{{"rule", h.rule_id}, {"action", policy::to_string(h.action)}, {"language", h.language}};
    if (!explain) return j;
    json concepts = json::object();
    for (const auto& c : h.concepts) concepts[c.name] = c.words;
    j["concepts"] = concepts;
    if (h.by_score || h.by_model) {
        // A model's weights are floats: four decimals say all they mean.
        auto shown = [](double v) { return std::round(v * 1e4) / 1e4; };
        json weights = json::object();
        for (const auto& c : h.concepts) weights[c.name] = shown(c.weight);
        j[h.by_model ? "model" : "score"] =
            json{{"sum", shown(h.score)}, {"threshold", h.threshold}, {"weights", weights}};
    }
    j["excerpt"] = h.excerpt;
    j["explanation"] = policy::describe_hit(h);
    return j;
}

}  // namespace

Result<Classification> classify_input(const policy::Policy& policy,
                                      const policy::AttachmentClassifier& classifier,
                                      std::string_view input, const ClassifyOptions& options) {
    auto parsed = policy::parse_message(as_message(input));
    if (!parsed) return parsed.error();
    const policy::Message& message = parsed.value();
    Classification c;
    c.direction = direction_of(message, options);
    policy::InspectOptions inspect{policy, classifier, "marketplace.example", c.direction};
    policy::ContentFindings f = policy::inspect_content(message, inspect);
    c.subject = f.subject;
    c.texts = f.texts;
    // inspect_content chose the languages itself; --lang scans again.
    std::vector<std::string_view> texts{f.subject};
    texts.insert(texts.end(), f.texts.begin(), f.texts.end());
    policy::ScanContext context;
    context.subjects = 1;
    context.langs = options.langs;
    context.sender =
        c.direction == policy::Direction::seller_to_buyer ? classify::kSeller : classify::kBuyer;
    c.content = options.langs == 0 ? f.content_hits : policy.content.rules->scan(texts, context);
    if (policy.marketplace.contact_reasons)
        c.reasons = policy.marketplace.contact_reasons->scan(texts, context, f.scans.get());
    c.important_tag =
        !policy.marketplace.important_tag.empty() &&
        to_lower(c.subject).find(to_lower(policy.marketplace.important_tag)) != std::string::npos;
    const auto& critical = policy.marketplace.critical_reasons;
    c.critical_reason = std::any_of(c.reasons.begin(), c.reasons.end(), [&](const auto& h) {
        return std::find(critical.begin(), critical.end(), h.rule_id) != critical.end();
    });
    c.refused = std::any_of(c.content.begin(), c.content.end(), [](const auto& h) {
        return h.action != policy::ContentRule::Action::flag;
    });
    return c;
}

json classification_json(const Classification& c, bool explain) {
    json content = json::array();
    for (const auto& h : c.content) content.push_back(hit_json(h, explain));
    json reasons = json::array();
    for (const auto& h : c.reasons) reasons.push_back(hit_json(h, explain));
    return json{{"from", c.direction == policy::Direction::seller_to_buyer ? "seller" : "buyer"},
                {"subject", c.subject},
                {"refused", c.refused},
                {"content_rules", content},
                {"contact_reasons", reasons},
                {"important_tag", c.important_tag},
                {"critical_reason", c.critical_reason},
                {"passes_as_critical", c.passes_as_critical()}};
}

std::string classification_text(const Classification& c, bool explain) {
    std::string out;
    auto line = [&](const policy::ContentHit& h, const char* kind) {
        out += std::string("  ") + kind + " " + h.rule_id + " (" + h.language + ")";
        out += explain ? ": " + policy::describe_hit(h) + "\n" : "\n";
    };
    out += c.refused ? "  verdict: refused\n" : "  verdict: passes the content rules\n";
    for (const auto& h : c.content) line(h, "content");
    for (const auto& h : c.reasons) line(h, "reason");
    if (c.important_tag)
        out += c.passes_as_critical() ? "  [Important]: critical, passes\n"
               : c.critical_reason    ? "  [Important]: critical, but refused by a content rule\n"
                                      : "  [Important]: no critical reason (misuse)\n";
    return out;
}

}  // namespace mm::milter
