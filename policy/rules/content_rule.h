// ContentRule: per-language RE2 patterns that refuse, quarantine or flag
// review-for-reward, promotional, referral and opt-out content.
//
// Each rule's patterns for all its languages are compiled at load into one
// RE2::Set; scan() runs every set over each text (subject and the decoded
// UTF-8 text of every text part) as normalize_text(Normalize::words) reads it
// (text_normalize.h: invisible characters, look-alike letters, letter
// spacing and digits inside words folded away), and over each other reading
// of it where that normalisation had to guess.  Excerpts quote the text as
// written.  Immutable after load and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/yaml_schema.h"
#include "util/result.h"

namespace re2 {
class RE2;
class Set;
}  // namespace re2

namespace mm::policy {

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
};

// "reject", "quarantine" or "flag", as written in policy.yaml.
const char* to_string(ContentRule::Action a);

struct ContentHit {
    std::string rule_id;
    ContentRule::Action action;
    std::string language;
    std::string excerpt;  // the matching text as written, trimmed to ~120 characters
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
    ~ContentRules();
    const std::vector<ContentRule>& rules() const { return rules_; }
    // At most one hit per rule (the first text that matches).
    std::vector<ContentHit> scan(const std::vector<std::string_view>& texts) const;

private:
    ContentRules() = default;
    std::vector<ContentRule> rules_;
    std::vector<std::unique_ptr<Compiled>> compiled_;
    // Every rule's patterns in one set: a text it does not match needs none
    // of the rules' own passes.  Null when it would not compile within the
    // memory bound (the rules' own passes then run on every text).  Only
    // its set is used.
    std::unique_ptr<Compiled> any_;
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
