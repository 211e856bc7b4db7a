// ContentRule: per-language RE2 patterns that refuse, quarantine or flag
// review-for-reward, promotional, referral and opt-out content.
//
// A rule may instead (or as well) carry a `when:` expression over the
// concepts of policy.yaml's `concepts:` (policy/classify/): it then also
// fires where its concepts co-occur within `window` words inside its
// `scope`, for the `senders` it names.  The rule hits if either hits; a
// pattern hit is reported first.
//
// Each rule's patterns for all its languages are compiled at load into one
// RE2::Set; scan() runs every set over each text (subject and the decoded
// UTF-8 text of every text part) as normalize_text(Normalize::words) reads it
// (text_normalize.h: invisible characters, look-alike letters, letter
// spacing and digits inside words folded away), and over each other reading
// of it where that normalisation had to guess.  Excerpts quote the text as
// written.  Immutable after load and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/classify/lexicon.h"
#include "policy/classify/rule_set.h"
#include "policy/yaml_schema.h"
#include "util/result.h"

namespace re2 {
class RE2;
class Set;
}  // namespace re2

namespace mm::policy {

struct NormalizedText;
struct ScannedTexts;
class TextScans;

struct ContentRule {
    enum class Action { reject, quarantine, flag };
    std::string id;
    std::string description;
    Action action = Action::reject;
    struct Pattern {
        std::string language;  // en, de, fr, it, es
        std::string regex;
    };
    std::vector<Pattern> patterns;
    // `when:` ("" = patterns only), checked against the concepts when the
    // whole policy is loaded (ContentRules::with_concepts).
    std::string when;
    YAML::Mark when_mark;
    classify::Scope scope = classify::Scope::paragraph;
    int window = 30;
    std::uint8_t senders = classify::kAnySender;
    // `score:` (no weights: none); the marks point `check` at a weight.
    classify::ConceptScore score;
    YAML::Mark score_mark;
    std::vector<YAML::Mark> weight_marks;  // one per score.weights
    // `model:`: the file as written (relative to policy.yaml) and where it
    // is named; the model itself is loaded with the whole policy.
    classify::ConceptModel model;
    std::string model_file;
    YAML::Mark model_file_mark;
};

// The keys a rule with concepts adds (content.rules[] and
// marketplace.contact_reasons[] share them): when, scope, window, senders;
// content rules also take score.
void load_rule_when(const yaml::Entry& e, ContentRule& rule);
void load_rule_scope(const yaml::Entry& e, ContentRule& rule);
void load_rule_window(const yaml::Entry& e, ContentRule& rule);
void load_rule_senders(const yaml::Entry& e, ContentRule& rule);
void load_rule_score(const yaml::Entry& e, ContentRule& rule);
std::vector<yaml::KeyInfo> rule_score_schema();
void load_rule_model(const yaml::Entry& e, ContentRule& rule);
std::vector<yaml::KeyInfo> rule_model_schema();

// "reject", "quarantine" or "flag", as written in policy.yaml.
const char* to_string(ContentRule::Action a);

struct ContentHit {
    std::string rule_id;
    ContentRule::Action action;
    std::string language;
    std::string excerpt;  // the matching text as written, trimmed to ~120 characters
    // A concept hit: each concept that fired with the words (as written)
    // that expressed it; empty for a pattern hit.
    struct Concept {
        std::string name;
        std::vector<std::string> words;
        double weight = 0;  // in a score hit
    };
    std::vector<Concept> concepts;
    // A hit of the rule's score: the sum reached and the threshold.  A hit
    // of its word model: the log-odds and threshold, and as `concepts` the
    // strongest features ("member*"), their weights and first words.
    bool by_score = false, by_model = false;
    double score = 0, threshold = 0;
};

// `REVIEW="Bewertung" & REWARD="Gutschein"`, "" for a pattern hit; for a
// score hit `score 4.5 ≥ 4: SHOP_RANGE="our range" +2, SEASON="winter" +1.5`;
// for a model hit `model 1.8 ≥ 0: "club" +1.3, "member*" +0.9`.
std::string explain_concepts(const ContentHit& hit);
// The audit and `test` detail of a hit: `reject de: "excerpt"` for a pattern,
// `reject de: REVIEW="Bewertung" & REWARD="Gutschein" — "… excerpt …"` for
// concepts.
std::string describe_hit(const ContentHit& hit);

// What scan() knows of the texts beyond their bytes.
struct ScanContext {
    std::size_t subjects = 0;                    // the first `subjects` texts are subject lines
    std::uint8_t sender = classify::kAnySender;  // classify::kSeller or kBuyer
    classify::LangMask langs = 0;                // 0: chosen per message
};

class ContentRules {
public:
    // One rule's set and single patterns, compiled.
    struct Compiled;

    // Compiles every rule; errors name the rule and the RE2 message.
    static Result<std::shared_ptr<const ContentRules>> compile(std::vector<ContentRule> rules);
    // The same, taking `built[i]` for rules[i] where the loader already
    // compiled it (to report a bad pattern at its own line); the others are
    // compiled here.
    static Result<std::shared_ptr<const ContentRules>> compile(
        std::vector<ContentRule> rules, std::vector<std::unique_ptr<Compiled>> built);
    // The same rules with their `when:` expressions bound to `lexicon`;
    // errors name the rule, and `bad_rule` its index.  Rules without `when`
    // are unchanged; no rule with `when` needs no lexicon.
    // `bad_weight` is set to the index of a score weight to blame, else -1.
    // `models[i]`, when given, is rule i's loaded `model:` file.
    static Result<std::shared_ptr<const ContentRules>> with_concepts(
        const ContentRules& base, std::shared_ptr<const classify::Lexicon> lexicon,
        std::size_t* bad_rule, int* bad_weight = nullptr,
        const std::vector<std::shared_ptr<const classify::WordModel>>& models = {});
    ~ContentRules();
    const std::vector<ContentRule>& rules() const { return rules_; }
    // At most one hit per rule (the first text that matches).  With
    // `scans`, the texts' normalisation and concept analysis are taken from
    // it, or made and left there for the next scan of the same texts.
    std::vector<ContentHit> scan(const std::vector<std::string_view>& texts,
                                 const ScanContext& context = {}, TextScans* scans = nullptr) const;

private:
    ContentRules() = default;
    std::vector<ContentHit> scan_patterns(const std::vector<std::string_view>& texts,
                                          const std::vector<NormalizedText>& normalized) const;
    std::size_t rule_index(std::string_view id) const;
    std::vector<ContentHit> scan_concepts(const std::vector<std::string_view>& texts,
                                          const ScannedTexts& scanned,
                                          const classify::Analysis& analysis,
                                          const ScanContext& context) const;
    std::vector<ContentHit> concept_hits(const std::vector<std::string_view>& texts,
                                         const std::vector<const NormalizedText*>& normalized,
                                         const std::vector<classify::ConceptHit>& found) const;
    std::vector<ContentRule> rules_;
    std::vector<std::shared_ptr<const Compiled>> compiled_;  // shared by with_concepts copies
    // The rules with `when`, and for each of them its index in rules_.
    std::shared_ptr<const classify::RuleSet> concepts_;
    std::vector<std::size_t> concept_rule_;
    // Every rule's patterns in one set: a text it does not match needs none
    // of the rules' own passes.  Null when it would not compile within the
    // memory bound (the rules' own passes then run on every text).  Only
    // its set is used.
    std::shared_ptr<const Compiled> any_;
};

struct ContentPolicy {
    std::shared_ptr<const ContentRules> rules;  // never null after load
};

// policy.yaml `content:` section (content.rules: [...]).  The default packs
// live in etc/policy.yaml, where operators tune them; built in is "no rules".
void load_content_section(const yaml::Entry& e, ContentPolicy& out);
// Its keys, documented (yaml_schema.h).
std::vector<yaml::KeyInfo> content_section_schema();
ContentPolicy empty_content_policy();

}  // namespace mm::policy
