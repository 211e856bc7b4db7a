#include "policy/rules/content_rule.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <span>
#include <utility>

#include "policy/limits.h"
#include "policy/rules/excerpt.h"
#include "policy/rules/text_normalize.h"
#include "policy/rules/text_scans.h"

namespace mm::policy {
namespace {

// Bounds one rule's compiled set (program plus DFA cache).  A rule that needs
// more than this is a pattern mistake (a huge counted repetition), and the
// DFA falling back to per-pattern matching at run time would be slow.
constexpr int64_t kSetMaxMem = 32 << 20;
constexpr int64_t kPatternMaxMem = 8 << 20;

constexpr std::array<std::string_view, 5> kLanguages = {"en", "de", "fr", "it", "es"};

RE2::Options pattern_options(int64_t max_mem) {
    RE2::Options o;
    o.set_encoding(RE2::Options::EncodingUTF8);
    o.set_case_sensitive(false);
    o.set_longest_match(false);
    o.set_log_errors(false);
    o.set_max_mem(max_mem);
    return o;
}

// "content.rules[3] (review.compensation) es pattern 2": the pattern index
// counts within its language, as the operator sees it in the YAML list.
std::string pattern_name(size_t rule_index, const ContentRule& rule, size_t pattern_index) {
    size_t in_language = 0;
    for (size_t i = 0; i < pattern_index; ++i)
        if (rule.patterns[i].language == rule.patterns[pattern_index].language) ++in_language;
    return "content.rules[" + std::to_string(rule_index) + "] (" + rule.id + ") " +
           rule.patterns[pattern_index].language + " pattern " + std::to_string(in_language);
}

// Why a rule does not compile; `pattern` is set when one pattern is to blame,
// so the loader can point at that pattern's node.
struct BuildError {
    std::string message;
    std::optional<size_t> pattern;
};

// Compiles one rule's set and its single patterns (the same options, so the
// set and the excerpt pass agree on what matches).
std::optional<BuildError> build_rule(size_t index, const ContentRule& rule,
                                     std::unique_ptr<RE2::Set>& set,
                                     std::vector<std::unique_ptr<RE2>>& patterns) {
    const std::string name = "content.rules[" + std::to_string(index) + "] (" + rule.id + ")";
    if (rule.id.empty())
        return BuildError{"content.rules[" + std::to_string(index) + "]: empty id", {}};
    patterns.clear();
    set.reset();
    if (rule.patterns.empty()) {
        if (rule.when.empty() && !rule.score.ok() && rule.model_file.empty())
            return BuildError{name + ": no patterns, no when, no score and no model", {}};
        return std::nullopt;
    }
    set = std::make_unique<RE2::Set>(pattern_options(kSetMaxMem), RE2::UNANCHORED);
    patterns.clear();
    for (size_t p = 0; p < rule.patterns.size(); ++p) {
        const ContentRule::Pattern& pat = rule.patterns[p];
        if (std::find(kLanguages.begin(), kLanguages.end(), pat.language) == kLanguages.end())
            return BuildError{pattern_name(index, rule, p) + ": unknown language", p};
        auto re = std::make_unique<RE2>(pat.regex, pattern_options(kPatternMaxMem));
        if (!re->ok()) return BuildError{pattern_name(index, rule, p) + ": " + re->error(), p};
        std::string error;
        if (set->Add(pat.regex, &error) < 0)
            return BuildError{pattern_name(index, rule, p) + ": " + error, p};
        patterns.push_back(std::move(re));
    }
    if (!set->Compile())
        return BuildError{
            name + ": patterns need more than " + std::to_string(kSetMaxMem >> 20) + " MiB", {}};
    return std::nullopt;
}

}  // namespace

struct ContentRules::Compiled {
    std::unique_ptr<RE2::Set> set;
    // Same order as the rule's patterns and the set's indexes.
    std::vector<std::unique_ptr<RE2>> patterns;
};

ContentRules::~ContentRules() = default;

Result<std::shared_ptr<const ContentRules>> ContentRules::compile(std::vector<ContentRule> rules) {
    return compile(std::move(rules), {});
}

Result<std::shared_ptr<const ContentRules>> ContentRules::compile(
    std::vector<ContentRule> rules, std::vector<std::unique_ptr<Compiled>> built) {
    std::shared_ptr<ContentRules> out(new ContentRules());
    for (size_t r = 0; r < rules.size(); ++r) {
        const ContentRule& rule = rules[r];
        for (size_t k = 0; k < r; ++k)
            if (rules[k].id == rule.id)
                return fail(Errc::conflict, "content.rules[" + std::to_string(r) + "] (" + rule.id +
                                                "): duplicate rule id (also content.rules[" +
                                                std::to_string(k) + "])");
        std::unique_ptr<Compiled> c = r < built.size() ? std::move(built[r]) : nullptr;
        // A rule with `when` alone has no set.
        if (!c) {
            c = std::make_unique<Compiled>();
            if (auto err = build_rule(r, rule, c->set, c->patterns))
                return fail(Errc::invalid, err->message);
        }
        out->compiled_.push_back(std::move(c));
    }
    // Nearly every text matches no rule; one pass of the union tells so
    // instead of one pass per rule (each a full scan of the text).
    auto any = std::make_unique<Compiled>();
    any->set = std::make_unique<RE2::Set>(pattern_options(kSetMaxMem), RE2::UNANCHORED);
    bool added = true;
    for (const ContentRule& rule : rules)
        for (const ContentRule::Pattern& pat : rule.patterns)
            added = added && any->set->Add(pat.regex, nullptr) >= 0;
    if (added && any->set->Compile()) out->any_ = std::move(any);
    out->rules_ = std::move(rules);
    return std::shared_ptr<const ContentRules>(std::move(out));
}

std::vector<ContentHit> ContentRules::scan(const std::vector<std::string_view>& texts,
                                           const ScanContext& context, TextScans* scans) const {
    // Both kinds of rule read the same normalised texts, made once (and
    // once per message when the caller shares `scans`).
    const std::shared_ptr<const classify::Lexicon> none;
    const auto& lexicon = concepts_ ? concepts_->shared_lexicon() : none;
    const TextScans::Found found = scans != nullptr
                                       ? scans->get(texts, context.subjects, context.langs, lexicon)
                                       : scan_once(texts, context.subjects, context.langs, lexicon);
    const std::vector<NormalizedText>& normalized = found.texts->normalized;
    std::vector<ContentHit> hits = scan_patterns(texts, normalized);
    if (!concepts_) return hits;
    // A rule reports its pattern hit if it has one, else its concept hit.
    for (ContentHit& h : scan_concepts(texts, *found.texts, *found.analysis, context)) {
        bool known = std::any_of(hits.begin(), hits.end(),
                                 [&](const ContentHit& p) { return p.rule_id == h.rule_id; });
        if (!known) hits.push_back(std::move(h));
    }
    std::stable_sort(hits.begin(), hits.end(), [&](const ContentHit& a, const ContentHit& b) {
        return rule_index(a.rule_id) < rule_index(b.rule_id);
    });
    return hits;
}

std::size_t ContentRules::rule_index(std::string_view id) const {
    for (std::size_t r = 0; r < rules_.size(); ++r)
        if (rules_[r].id == id) return r;
    return rules_.size();
}

std::vector<ContentHit> ContentRules::scan_patterns(
    const std::vector<std::string_view>& texts,
    const std::vector<NormalizedText>& normalized) const {
    std::vector<ContentHit> hits;
    // Rules match the normalised text (zero-width characters, look-alike
    // letters, letter spacing and digits for letters folded away); the
    // excerpt quotes the text as it was written.
    struct Candidate {
        std::size_t source;  // index into texts
        const NormalizedText& text;
    };
    std::vector<Candidate> candidates;
    candidates.reserve(texts.size());
    if (std::none_of(compiled_.begin(), compiled_.end(),
                     [](const auto& c) { return c != nullptr && c->set != nullptr; }))
        return hits;
    std::deque<NormalizedText> other_texts;  // the other readings (stable addresses)
    auto consider = [&](std::size_t source, const NormalizedText& text) {
        if (any_) {
            // Out of memory on this text is not "no match": the rules decide.
            RE2::Set::ErrorInfo info{RE2::Set::kNoError};
            if (!any_->set->Match(text.text, nullptr, &info) && info.kind == RE2::Set::kNoError)
                return false;
        }
        candidates.push_back({source, text});
        return true;
    };
    for (std::size_t k = 0; k < texts.size(); ++k) {
        consider(k, normalized[k]);
        for (Reading reading : other_readings(normalized[k])) {
            check_cpu_budget();
            other_texts.push_back(normalize_text(texts[k], Normalize::words, reading));
            if (!consider(k, other_texts.back())) other_texts.pop_back();  // not kept
        }
    }
    std::vector<int> which;
    for (size_t r = 0; r < rules_.size() && !candidates.empty(); ++r) {
        const Compiled& c = *compiled_[r];
        if (!c.set) continue;
        for (const Candidate& candidate : candidates) {
            const std::string_view text = candidate.text.text;
            // Without an index vector the DFA stops at the first match, which is
            // all a clean text (nearly every text) needs.
            RE2::Set::ErrorInfo info{RE2::Set::kNoError};
            bool matched = c.set->Match(text, nullptr, &info);
            which.clear();
            if (matched) {
                matched = c.set->Match(text, &which, &info);
            }
            if (info.kind == RE2::Set::kOutOfMemory) {
                // The set's DFA gave up on this text; the single patterns fall
                // back to the NFA, so a hostile text cannot make a rule miss.
                which.clear();
                for (size_t p = 0; p < c.patterns.size(); ++p)
                    if (c.patterns[p]->Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0))
                        which.push_back(static_cast<int>(p));
                matched = !which.empty();
            }
            if (!matched) continue;

            // The excerpt shows the earliest match among the patterns that hit.
            size_t best_pos = std::numeric_limits<size_t>::max();
            size_t best_end = 0;
            int best = -1;
            for (int p : which) {
                re2::StringPiece m;
                if (!c.patterns[static_cast<size_t>(p)]->Match(text, 0, text.size(),
                                                               RE2::UNANCHORED, &m, 1))
                    continue;
                auto pos = static_cast<size_t>(m.data() - text.data());
                if (pos < best_pos) {
                    best_pos = pos;
                    best_end = pos + m.size();
                    best = p;
                }
            }
            if (best < 0) continue;
            const ContentRule& rule = rules_[r];
            auto [source_b, source_e] = candidate.text.source_span(best_pos, best_end);
            hits.push_back({rule.id, rule.action, rule.patterns[static_cast<size_t>(best)].language,
                            make_excerpt(texts[candidate.source], source_b, source_e)});
            break;
        }
    }
    return hits;
}

// ---- policy.yaml `content:` ----------------------------------------------

namespace {

using yaml::Entry;
using yaml::error_at;

struct PatternDraft {
    std::string language;
    std::string regex;
    YAML::Mark mark;
};

struct RuleDraft {
    size_t index = 0;
    ContentRule rule;
    YAML::Mark id_mark;
    std::vector<PatternDraft> patterns;
    std::unique_ptr<ContentRules::Compiled> built;  // by load_rules, for ContentRules
};

struct SectionDraft {
    std::vector<RuleDraft> rules;
};

// Rule ids go into SMTP replies and audit headers, so they keep to a
// character set that cannot break either.
void load_rule_id(const Entry& e, RuleDraft& d) {
    std::string id = yaml::get_nonempty_string(e);
    bool ok = id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char ch) {
                  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                         (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == '_';
              });
    if (!ok)
        error_at(e.value.Mark(),
                 e.name + ": '" + id + "' must be at most 64 letters, digits and . - _");
    d.rule.id = std::move(id);
    d.id_mark = e.value.Mark();
}

void load_rule_description(const Entry& e, RuleDraft& d) {
    d.rule.description = yaml::get_string(e);
}

void load_rule_action(const Entry& e, RuleDraft& d) {
    std::string a = yaml::get_string(e);
    if (a == "reject")
        d.rule.action = ContentRule::Action::reject;
    else if (a == "quarantine")
        d.rule.action = ContentRule::Action::quarantine;
    else if (a == "flag")
        d.rule.action = ContentRule::Action::flag;
    else
        error_at(e.value.Mark(),
                 "unknown action '" + a + "' (expected reject, quarantine or flag)");
}

void load_language(const Entry& e, RuleDraft& d) {
    yaml::expect_list(e);
    const std::string language = e.key.Scalar();
    for (const auto& item : e.value) {
        if (!item.IsScalar() || item.Scalar().empty())
            error_at(item.Mark(),
                     e.name + ": expected a regular expression, got " +
                         (item.IsScalar() ? "an empty string" : yaml::type_name(item)));
        d.patterns.push_back({language, item.Scalar(), item.Mark()});
    }
}

constexpr yaml::Key<RuleDraft> kLanguageKeys[] = {
    {"en",
     false,
     load_language,
     {"list of RE2 patterns", "",
      "Patterns for English text; the rule hits when any pattern of any language matches. Matching "
      "ignores case and runs on normalised text (NFKC, zero-width characters removed, lookalike "
      "letters and letter-spacing undone)."}},
    {"de",
     false,
     load_language,
     {"list of RE2 patterns", "",
      "Patterns for German text; the rule hits when any pattern of any language matches. Matching "
      "ignores case and runs on normalised text (NFKC, zero-width characters removed, lookalike "
      "letters and letter-spacing undone)."}},
    {"fr",
     false,
     load_language,
     {"list of RE2 patterns", "",
      "Patterns for French text; the rule hits when any pattern of any language matches. Matching "
      "ignores case and runs on normalised text (NFKC, zero-width characters removed, lookalike "
      "letters and letter-spacing undone)."}},
    {"it",
     false,
     load_language,
     {"list of RE2 patterns", "",
      "Patterns for Italian text; the rule hits when any pattern of any language matches. Matching "
      "ignores case and runs on normalised text (NFKC, zero-width characters removed, lookalike "
      "letters and letter-spacing undone)."}},
    {"es",
     false,
     load_language,
     {"list of RE2 patterns", "",
      "Patterns for Spanish text; the rule hits when any pattern of any language matches. Matching "
      "ignores case and runs on normalised text (NFKC, zero-width characters removed, lookalike "
      "letters and letter-spacing undone)."}},
};

void load_rule_patterns(const Entry& e, RuleDraft& d) {
    yaml::load_section<RuleDraft>(e, kLanguageKeys, d);
    if (d.patterns.empty()) error_at(e.value.Mark(), e.name + ": no patterns");
}

constexpr yaml::Key<RuleDraft> kRuleKeys[] = {
    {"id",
     true,
     load_rule_id,
     {"string: letters, digits and . - _", "", "Named in the refusal and the audit record."}},
    {"description",
     false,
     load_rule_description,
     {"string", "\"\"", "For people reading the file."}},
    {"action",
     true,
     load_rule_action,
     {"reject | quarantine | flag", "",
      "reject: 550 5.7.1 naming the rule and the audit id; quarantine: Postfix hold queue for "
      "review; flag: delivered, the rule recorded in the audit record."}},
    {"patterns",
     false,
     load_rule_patterns,
     {"mapping of language to patterns", "",
      "RE2 patterns per language (en, de, fr, it, es); the rule hits if they or `when` match.",
      +[] { return yaml::describe<RuleDraft>(kLanguageKeys); }}},
    {"when",
     false,
     [](const Entry& e, RuleDraft& d) { load_rule_when(e, d.rule); },
     {"expression over concepts", "",
      "Concept names (concepts.yaml) combined with & (and), | (or), ! (not) and parentheses; the "
      "rule hits where the expression holds within `window` words inside one `scope` unit."}},
    {"scope",
     false,
     [](const Entry& e, RuleDraft& d) { load_rule_scope(e, d.rule); },
     {"sentence | paragraph | message", "paragraph",
      "How far apart the concepts of `when` may be: one sentence, one paragraph, or the whole text "
      "part (the subject is its own paragraph)."}},
    {"window",
     false,
     [](const Entry& e, RuleDraft& d) { load_rule_window(e, d.rule); },
     {"integer, words (1-1000)", "30",
      "The concepts of `when` must match within this many words of each other."}},
    {"senders",
     false,
     [](const Entry& e, RuleDraft& d) { load_rule_senders(e, d.rule); },
     {"list of seller | buyer", "[seller, buyer]", "Whose messages the rule judges."}},
    {"score",
     false,
     [](const Entry& e, RuleDraft& d) { load_rule_score(e, d.rule); },
     {"mapping: threshold, weights, scope", "",
      "Beside or instead of `when`: weights of concepts that add up per unit; the rule fires "
      "where the sum reaches the threshold (or `when`, or a pattern, fires).",
      rule_score_schema}},
    {"model",
     false,
     [](const Entry& e, RuleDraft& d) { load_rule_model(e, d.rule); },
     {"mapping: file, threshold, scope", "",
      "Beside `when` and `score`: a word model (log-odds over the folded words and their first "
      "five letters) that fires the rule where a unit's score reaches the threshold; worked out "
      "only when `when` and `score` did not fire.",
      rule_model_schema}},
};

void load_rules(const Entry& e, SectionDraft& s) {
    yaml::expect_list(e);
    for (std::size_t i = 0; i < e.value.size(); ++i) {
        const YAML::Node item = e.value[i];
        const Entry ie = yaml::list_item(e, i, item);
        RuleDraft d;
        d.index = i;
        yaml::load_section<RuleDraft>(ie, kRuleKeys, d);
        if (d.patterns.empty() && d.rule.when.empty() && !d.rule.score.ok() &&
            d.rule.model_file.empty())
            error_at(item.Mark(), ie.name + ": needs patterns, when, score or model");
        for (const RuleDraft& prev : s.rules)
            if (prev.rule.id == d.rule.id)
                error_at(d.id_mark, ie.name + ": duplicate rule id '" + d.rule.id + "' (also " +
                                        e.name + "[" + std::to_string(prev.index) + "])");
        // Each rule is compiled here, where its nodes' marks are known, so a
        // bad pattern is reported at its own line and column; ContentRules
        // takes what was compiled (compiling it again was a third of the
        // policy's load time).
        for (const PatternDraft& p : d.patterns) d.rule.patterns.push_back({p.language, p.regex});
        d.built = std::make_unique<ContentRules::Compiled>();
        if (auto err = build_rule(i, d.rule, d.built->set, d.built->patterns))
            error_at(err->pattern ? d.patterns[*err->pattern].mark : item.Mark(), err->message);
        s.rules.push_back(std::move(d));
    }
}

constexpr yaml::Key<SectionDraft> kContentKeys[] = {
    {"rules",
     true,
     load_rules,
     {"list of mappings",
      "review.conditional, review.compensation, promo.marketing, referral.third_party, optout.link "
      "(all reject)",
      "The content rules, each with the keys below. A list given replaces the built-in rules.",
      +[] { return yaml::describe<RuleDraft>(kRuleKeys); }}},
};

}  // namespace

std::vector<yaml::KeyInfo> content_section_schema() {
    return yaml::describe<SectionDraft>(kContentKeys);
}

void load_content_section(const yaml::Entry& e, ContentPolicy& out) {
    SectionDraft s;
    yaml::load_section<SectionDraft>(e, kContentKeys, s);
    std::vector<ContentRule> rules;
    std::vector<std::unique_ptr<ContentRules::Compiled>> built;
    rules.reserve(s.rules.size());
    built.reserve(s.rules.size());
    for (RuleDraft& d : s.rules) {
        rules.push_back(std::move(d.rule));
        built.push_back(std::move(d.built));
    }
    auto compiled = ContentRules::compile(std::move(rules), std::move(built));
    if (!compiled) error_at(e.value.Mark(), compiled.error().message);
    out.rules = std::move(compiled.value());
}

ContentPolicy empty_content_policy() {
    auto compiled = ContentRules::compile({});
    return ContentPolicy{std::move(compiled.value())};
}

const char* to_string(ContentRule::Action a) {
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

}  // namespace mm::policy
