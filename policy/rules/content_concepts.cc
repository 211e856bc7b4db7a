// The content rules' `when:` side: the keys that declare it, binding the
// expressions to the policy's concepts, and the scan over them.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <tuple>

#include "policy/limits.h"
#include "policy/rules/content_rule.h"
#include "policy/rules/excerpt.h"
#include "policy/rules/text_normalize.h"
#include "policy/rules/text_scans.h"

namespace mm::policy {

using yaml::Entry;
using yaml::error_at;

void load_rule_when(const Entry& e, ContentRule& rule) {
    std::string text = yaml::get_nonempty_string(e);
    classify::Expression::ParseError error;
    if (!classify::Expression::parse(text, &error).ok()) {
        // Point at the offending character when the scalar is on one line
        // (a quoted scalar starts one column before its text).
        YAML::Mark at = e.value.Mark();
        if (text.find('\n') == std::string::npos) {
            const bool quoted = e.value.Tag() == "!";
            at.column += static_cast<int>(error.offset) + (quoted ? 1 : 0);
        }
        error_at(at, e.name + ": " + error.message + " in '" + text + "'");
    }
    rule.when = std::move(text);
    rule.when_mark = e.value.Mark();
}

classify::Scope scope_of(const Entry& e) {
    const std::string s = yaml::get_string(e);
    auto scope = classify::scope_from_string(s);
    if (!scope)
        error_at(e.value.Mark(),
                 e.name + ": unknown scope '" + s + "' (expected sentence, paragraph or message)");
    return *scope;
}

void load_rule_scope(const Entry& e, ContentRule& rule) {
    rule.scope = scope_of(e);
}

void load_rule_window(const Entry& e, ContentRule& rule) {
    rule.window = static_cast<int>(yaml::get_int(e, 1, 1000));
}

void load_rule_senders(const Entry& e, ContentRule& rule) {
    std::uint8_t senders = 0;
    for (const std::string& s : yaml::get_string_list(e, "a sender (seller or buyer)")) {
        if (s == "seller")
            senders |= classify::kSeller;
        else if (s == "buyer")
            senders |= classify::kBuyer;
        else
            error_at(e.value.Mark(),
                     e.name + ": unknown sender '" + s + "' (expected seller or buyer)");
    }
    if (senders == 0) error_at(e.value.Mark(), e.name + ": empty (leave it out for both)");
    rule.senders = senders;
}

namespace {

double get_number(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsScalar())
        error_at(e.value.Mark(), e.name + ": expected a number, got " + yaml::type_name(e.value));
    const std::string& s = e.value.Scalar();
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
        error_at(e.value.Mark(), e.name + ": expected a finite number, got '" + s + "'");
    return v;
}

void load_score_threshold(const Entry& e, ContentRule& rule) {
    const double v = get_number(e);
    if (v <= 0) error_at(e.value.Mark(), e.name + ": must be above 0, got " + e.value.Scalar());
    rule.score.threshold = v;
}

void load_score_weights(const Entry& e, ContentRule& rule) {
    yaml::expect_map(e);
    if (e.value.size() == 0) error_at(e.value.Mark(), e.name + ": empty");
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar() || k.Scalar().empty())
            error_at(k.Mark(), e.name + ": expected a concept name");
        for (const auto& [name, weight] : rule.score.weights)
            if (name == k.Scalar())
                error_at(k.Mark(), e.name + ": duplicate concept '" + name + "'");
        rule.score.weights.emplace_back(k.Scalar(), get_number({e.name + "." + k.Scalar(), k, v}));
        rule.weight_marks.push_back(k.Mark());
    }
}

void load_score_scope(const Entry& e, ContentRule& rule) {
    rule.score.scope = scope_of(e);
}

constexpr yaml::Key<ContentRule> kScoreKeys[] = {
    {"threshold",
     true,
     load_score_threshold,
     {"number above 0", "",
      "The rule fires where the weights present in one unit add up to this."}},
    {"weights",
     true,
     load_score_weights,
     {"mapping of concept to number", "",
      "Each concept present in the unit adds its weight once, however often it matches; a "
      "negative weight is evidence against (an apology, the buyer's own item)."}},
    {"scope",
     false,
     load_score_scope,
     {"sentence | paragraph | message", "message",
      "The unit over which the weights add up (the rule's own `scope` is for `when`)."}},
};

void load_model_file(const Entry& e, ContentRule& rule) {
    rule.model_file = yaml::get_nonempty_string(e);
    rule.model_file_mark = e.value.Mark();
}

void load_model_threshold(const Entry& e, ContentRule& rule) {
    rule.model.threshold = get_number(e);
}

void load_model_scope(const Entry& e, ContentRule& rule) {
    rule.model.scope = scope_of(e);
}

constexpr yaml::Key<ContentRule> kModelKeys[] = {
    {"file",
     true,
     load_model_file,
     {"path", "",
      "The model (tools/fit_word_model.py writes it), relative to this file: bias<TAB>W, "
      "w:WORD<TAB>W, p:PREFIX<TAB>W lines over the folded words."}},
    {"threshold",
     false,
     load_model_threshold,
     {"number (log-odds)", "0", "The rule fires where a unit's score reaches this."}},
    {"scope",
     false,
     load_model_scope,
     {"sentence | paragraph | message", "message",
      "The unit whose distinct words and prefixes add up, each once."}},
};

}  // namespace

void load_rule_model(const Entry& e, ContentRule& rule) {
    rule.model = {};
    rule.model_file.clear();
    yaml::load_section<ContentRule>(e, kModelKeys, rule);
}

std::vector<yaml::KeyInfo> rule_model_schema() {
    return yaml::describe<ContentRule>(kModelKeys);
}

void load_rule_score(const Entry& e, ContentRule& rule) {
    rule.score = {};
    rule.weight_marks.clear();
    yaml::load_section<ContentRule>(e, kScoreKeys, rule);
    rule.score_mark = e.value.Mark();
}

std::vector<yaml::KeyInfo> rule_score_schema() {
    return yaml::describe<ContentRule>(kScoreKeys);
}

Result<std::shared_ptr<const ContentRules>> ContentRules::with_concepts(
    const ContentRules& base, std::shared_ptr<const classify::Lexicon> lexicon,
    std::size_t* bad_rule, int* bad_weight,
    const std::vector<std::shared_ptr<const classify::WordModel>>& models) {
    std::shared_ptr<ContentRules> out(new ContentRules());
    out->rules_ = base.rules_;
    out->compiled_ = base.compiled_;
    out->any_ = base.any_;
    std::vector<classify::ConceptRule> rules;
    for (std::size_t r = 0; r < base.rules_.size(); ++r) {
        ContentRule& rule = out->rules_[r];
        if (r < models.size() && models[r]) rule.model.model = models[r];
        if (rule.when.empty() && !rule.score.ok() && !rule.model.ok()) continue;
        if (!lexicon) {
            if (bad_rule != nullptr) *bad_rule = r;
            return fail(Errc::invalid,
                        "rule " + rule.id + ": 'when' needs concepts (top-level `concepts:`)");
        }
        rules.push_back({rule.id, classify::Expression::parse(rule.when, nullptr), rule.scope,
                         rule.window, rule.senders, rule.score, rule.model});
        out->concept_rule_.push_back(r);
    }
    if (rules.empty()) return std::shared_ptr<const ContentRules>(std::move(out));
    std::size_t bad = 0;
    auto set = classify::RuleSet::compile(std::move(lexicon), std::move(rules), &bad, bad_weight);
    if (!set) {
        if (bad_rule != nullptr) *bad_rule = out->concept_rule_[bad];
        return set.error();
    }
    out->concepts_ = std::move(set.value());
    return std::shared_ptr<const ContentRules>(std::move(out));
}

namespace {

constexpr std::size_t kContextWords = 3;
constexpr std::size_t kContextMaxBytes = 60;

bool word_byte(char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || std::isalnum(u);
}

// [b, e) grown by up to kContextWords words each way (and the punctuation
// that ends the last), so the words that fired read in their sentence.
std::pair<std::size_t, std::size_t> with_context(std::string_view s, std::size_t b, std::size_t e) {
    const std::size_t low = b > kContextMaxBytes ? b - kContextMaxBytes : 0;
    for (std::size_t k = 0; k < kContextWords && b > low; ++k) {
        while (b > low && !word_byte(s[b - 1])) --b;
        while (b > low && word_byte(s[b - 1])) --b;
    }
    const std::size_t high = std::min(s.size(), e + kContextMaxBytes);
    for (std::size_t k = 0; k < kContextWords && e < high; ++k) {
        while (e < high && !word_byte(s[e])) ++e;
        while (e < high && word_byte(s[e])) ++e;
    }
    while (e < high && (s[e] == '.' || s[e] == '!' || s[e] == '?')) ++e;
    return {b, e};
}

// The excerpt of a concept hit: the words that fired in their context, one
// piece per stretch of text, joined with " … " when they lie apart.
std::string concept_excerpt(std::string_view source, const NormalizedText& n,
                            const classify::ConceptHit& hit) {
    auto [b, e] = n.source_span(hit.begin, hit.end);
    if (e - b <= kExcerptMaxChars / 2) {
        auto [cb, ce] = with_context(source, b, e);
        return quote_words(source, cb, ce, kExcerptMaxChars);
    }
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    for (const auto& c : hit.concepts)
        for (const auto& w : c.words)
            if (w.text == hit.text) spans.push_back(n.source_span(w.begin, w.end));
    std::sort(spans.begin(), spans.end());
    std::string out;
    std::size_t covered = 0;
    for (auto [wb, we] : spans) {
        if (wb < covered) continue;
        std::string piece = make_excerpt(source, wb > 20 ? wb - 20 : 0, we + 20, 40);
        out += (out.empty() ? "… " : " … ") + piece;
        covered = we + 20;
    }
    return out + " …";
}

// Adds to `a` the concept matches of another reading of the same texts,
// one that tokenises alike (its bytes differ only in letters read for
// digits), so the rules see the concepts of both.
void add_matches(classify::Analysis& a, const std::vector<classify::ConceptMatch>& more) {
    if (more.empty()) return;
    a.matches.insert(a.matches.end(), more.begin(), more.end());
    auto key = [](const classify::ConceptMatch& m) {
        return std::tuple(m.concept_id, m.first, m.last);
    };
    std::sort(a.matches.begin(), a.matches.end(),
              [&](const auto& x, const auto& y) { return key(x) < key(y); });
    a.matches.erase(std::unique(a.matches.begin(), a.matches.end(),
                                [&](const auto& x, const auto& y) { return key(x) == key(y); }),
                    a.matches.end());
    a.by_concept.assign(a.lexicon->concepts().size(), {});
    for (std::uint32_t i = 0; i < a.matches.size(); ++i)
        a.by_concept[a.matches[i].concept_id].push_back(i);
}

// Text k under reading r: each part of the reading applied where it gives
// the text another text, so that readings that differ only in `one`
// tokenise alike.
Reading reading_for(const NormalizedText& n, Reading r) {
    return {n.one_as_letter ? r.one : 'i', n.run_after_article && r.article_apart};
}

bool is_default(Reading r) {
    return r.one == 'i' && !r.article_apart;
}

}  // namespace

std::vector<ContentHit> ContentRules::scan_concepts(const std::vector<std::string_view>& texts,
                                                    const ScannedTexts& scanned,
                                                    const classify::Analysis& analysis,
                                                    const ScanContext& context) const {
    const std::vector<NormalizedText>& normalized = scanned.normalized;
    std::vector<const NormalizedText*> reading;
    for (const NormalizedText& n : normalized) reading.push_back(&n);
    std::vector<ContentHit> hits =
        concept_hits(texts, reading, concepts_->match(analysis, context.sender, &check_cpu_budget));
    // Where normalisation had to guess ("a r e v i e w": "areview" or "a
    // review"; "1" as "i" or "l"), each other reading is matched too; a rule
    // hit by one counts.  A '1' may stand for "l" in one word and "i" in the
    // next ("eva1uation ... g1ft"): a reading with "l" also counts the
    // concepts of its twin with "i", found at the same words.
    bool ones = false, apart = false;
    for (const NormalizedText& n : normalized) {
        ones = ones || n.one_as_letter;
        apart = apart || n.run_after_article;
    }
    std::vector<Reading> others;  // each after its twin with 'i'
    if (apart) others.push_back({'i', true});
    if (ones) others.push_back({'l', false});
    if (ones && apart) others.push_back({'l', true});
    std::vector<classify::ConceptMatch> apart_with_i;  // the matches of {'i', true}
    for (const Reading& r : others) {
        // One reading at a time: each is a copy of the texts with its maps.
        std::deque<NormalizedText> alternatives;
        std::vector<classify::TextInput> inputs;
        for (std::size_t k = 0; k < texts.size(); ++k) {
            const Reading mine = reading_for(normalized[k], r);
            check_cpu_budget();
            reading[k] =
                is_default(mine)
                    ? &normalized[k]
                    : &alternatives.emplace_back(normalize_text(texts[k], Normalize::words, mine));
            inputs.push_back({reading[k]->text, k < context.subjects});
        }
        classify::Analysis a =
            analyse_within_limits(concepts_->shared_lexicon(), inputs, context.langs);
        if (r.one == 'l') add_matches(a, r.article_apart ? apart_with_i : analysis.matches);
        if (r.one == 'i') apart_with_i = a.matches;
        for (ContentHit& h :
             concept_hits(texts, reading, concepts_->match(a, context.sender, &check_cpu_budget)))
            if (std::none_of(hits.begin(), hits.end(),
                             [&](const ContentHit& o) { return o.rule_id == h.rule_id; }))
                hits.push_back(std::move(h));
    }
    return hits;
}

std::vector<ContentHit> ContentRules::concept_hits(
    const std::vector<std::string_view>& texts,
    const std::vector<const NormalizedText*>& normalized,
    const std::vector<classify::ConceptHit>& found) const {
    std::vector<ContentHit> hits;
    for (const classify::ConceptHit& h : found) {
        const ContentRule& rule = rules_[concept_rule_[h.rule]];
        ContentHit hit{rule.id, rule.action, h.language, {}, {}};
        hit.by_score = h.by_score;
        hit.by_model = h.by_model;
        hit.score = h.score;
        hit.threshold = h.threshold;
        hit.excerpt = concept_excerpt(texts[h.text], *normalized[h.text], h);
        for (const classify::FiredConcept& c : h.concepts) {
            ContentHit::Concept out{c.name, {}, c.weight};
            for (const auto& w : c.words) {
                auto [b, e] = normalized[w.text]->source_span(w.begin, w.end);
                out.words.push_back(quote_words(texts[w.text], b, e));
            }
            hit.concepts.push_back(std::move(out));
        }
        hits.push_back(std::move(hit));
    }
    return hits;
}

std::string explain_concepts(const ContentHit& hit) {
    auto number = [](double v, const char* format) {
        char buf[32];
        std::snprintf(buf, sizeof buf, format, v);
        return std::string(buf);
    };
    std::string out;
    if (hit.by_model) {
        out = "model " + number(hit.score, "%.1f") + " ≥ " + number(hit.threshold, "%g") + ":";
        for (std::size_t i = 0; i < hit.concepts.size(); ++i)
            out += (i == 0 ? " \"" : ", \"") + hit.concepts[i].name + "\" " +
                   number(hit.concepts[i].weight, "%+.1f");
        return out;
    }
    if (hit.by_score)
        out = "score " + number(hit.score, "%g") + " ≥ " + number(hit.threshold, "%g") + ": ";
    bool first = true;
    for (const ContentHit::Concept& c : hit.concepts) {
        out += first ? "" : hit.by_score ? ", " : " & ";
        first = false;
        out += c.name + "=";
        for (std::size_t i = 0; i < c.words.size(); ++i)
            out += (i == 0 ? "\"" : ",\"") + c.words[i] + "\"";
        if (hit.by_score) out += " " + number(c.weight, "%+g");
    }
    return out;
}

std::string describe_hit(const ContentHit& hit) {
    std::string out = std::string(to_string(hit.action)) + " " + hit.language + ": ";
    if (!hit.concepts.empty()) out += explain_concepts(hit) + " — ";
    return out + "\"" + hit.excerpt + "\"";
}

}  // namespace mm::policy
