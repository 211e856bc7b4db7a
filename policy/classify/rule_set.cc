#include "policy/classify/rule_set.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace mm::classify {
namespace {

// The message's languages: enough words to tell them apart at the top.
constexpr std::size_t kDetectTokens = 200;
// No stopword is longer; longer tokens are not looked up.
constexpr std::size_t kStopwordMaxBytes = 7;
constexpr int kDetectMinStopwords = 4;
// A paragraph's language needs this many of its stopwords there: one
// ordinary sentence has them, a stray "la" or "die" in a name does not.
constexpr int kParagraphMinStopwords = 3;
// Words quoted per concept in an explanation.
constexpr std::size_t kWordsPerConcept = 3;

using LangCounts = std::array<int, kLangCount>;

// The languages with at least a third of the best one's count and at least
// `min_count` stopwords.
LangMask strong_langs(const LangCounts& count, int min_count) {
    const int best = *std::max_element(count.begin(), count.end());
    LangMask out = 0;
    for (Lang l = 0; l < kLangCount; ++l)
        if (count[l] >= min_count && count[l] * 3 >= best) out |= static_cast<LangMask>(1u << l);
    return out;
}

// Stopwords counted per language mask: one increment a token (detection
// reads every token of a message), and once a paragraph's best language is
// known a rival's words can be told from the shared ones.
class MaskCounts {
public:
    void add(LangMask m) {
        ++count_[m];
        seen_ |= std::uint32_t{1} << m;
    }
    // Stopwords per language: a word of several languages counts for each.
    LangCounts per_language() const {
        LangCounts lang{};
        for (std::uint32_t s = seen_; s != 0; s &= s - 1) {
            const unsigned m = static_cast<unsigned>(std::countr_zero(s));
            for (Lang l = 0; l < kLangCount; ++l)
                if ((m >> l) & 1u) lang[l] += count_[m];
        }
        return lang;
    }
    // The paragraph's languages; emptied.  Every language at the best count
    // is best (a tie gives no reason to prefer one); any other needs, besides
    // min_count stopwords and a third of the best count, kMinDistinctive
    // stopwords that no best language shares: French, Italian and Spanish
    // share "la", "de", "se", "que", which alone do not make a paragraph
    // Italian when it is French.
    LangMask take(int min_count) {
        const LangCounts lang = per_language();
        const int best = *std::max_element(lang.begin(), lang.end());
        LangMask bests = 0;
        for (Lang l = 0; l < kLangCount; ++l)
            if (lang[l] == best) bests |= static_cast<LangMask>(1u << l);
        LangCounts distinctive{};
        for (std::uint32_t s = seen_; s != 0; s &= s - 1) {
            const unsigned m = static_cast<unsigned>(std::countr_zero(s));
            if ((m & bests) == 0)
                for (Lang l = 0; l < kLangCount; ++l)
                    if ((m >> l) & 1u) distinctive[l] += count_[m];
            count_[m] = 0;
        }
        seen_ = 0;
        LangMask out = 0;
        for (Lang l = 0; l < kLangCount; ++l) {
            const bool rival = ((bests >> l) & 1u) != 0 || distinctive[l] >= kMinDistinctive;
            if (lang[l] >= min_count && lang[l] * 3 >= best && rival)
                out |= static_cast<LangMask>(1u << l);
        }
        return out;
    }

private:
    static constexpr int kMinDistinctive = 2;
    static_assert(kLangCount <= 5, "a mask indexes 32 bits");
    std::array<int, 1u << kLangCount> count_{};
    std::uint32_t seen_ = 0;
};

}  // namespace

const char* to_string(Scope s) {
    switch (s) {
        case Scope::sentence:
            return "sentence";
        case Scope::paragraph:
            return "paragraph";
        case Scope::message:
            return "message";
    }
    return "paragraph";
}

std::optional<Scope> scope_from_string(std::string_view s) {
    if (s == "sentence") return Scope::sentence;
    if (s == "paragraph") return Scope::paragraph;
    if (s == "message") return Scope::message;
    return std::nullopt;
}

// The message's languages from the top of it, as before, and also every
// language strong in any one paragraph, however far down: a seller writes
// a long note in one language and the prohibited sentence as a short
// paragraph in another ("Pour nos clients romands : ..."), which the top of
// the message never shows.  One pass over all tokens; the stopword look-up
// is memoised per spelling.
LangMask detect_languages(const Document& doc, LangMask available) {
    MaskCounts head, para;
    int head_total = 0;
    LangMask out = 1u << 0;  // English, always
    std::uint32_t paragraph = doc.tokens.empty() ? 0 : doc.tokens.front().paragraph;
    // Per spelling: 0xFF not looked up yet.
    std::vector<std::uint8_t> langs_of(doc.spellings.size(), 0xFF);
    for (std::size_t i = 0; i < doc.tokens.size(); ++i) {
        const Token& t = doc.tokens[i];
        if (t.paragraph != paragraph) {
            out |= para.take(kParagraphMinStopwords);
            paragraph = t.paragraph;
        }
        std::uint8_t& m = langs_of[t.spelling];
        if (m == 0xFF) {
            const std::string_view folded = doc.folded_of(t);
            m = folded.size() > kStopwordMaxBytes ? 0 : stopword_langs(folded);
        }
        if (m == 0) continue;
        para.add(m);
        if (i < kDetectTokens) {
            head.add(m);
            ++head_total;
        }
    }
    out |= para.take(kParagraphMinStopwords);
    // Too few stopwords to tell: every language.
    if (head_total < kDetectMinStopwords) return available;
    return (out | strong_langs(head.per_language(), 1)) & available;
}

Result<std::shared_ptr<const RuleSet>> RuleSet::compile(std::shared_ptr<const Lexicon> lexicon,
                                                        std::vector<ConceptRule> rules,
                                                        std::size_t* bad_rule, int* bad_weight) {
    std::shared_ptr<RuleSet> out(new RuleSet());
    if (bad_weight != nullptr) *bad_weight = -1;
    for (std::size_t r = 0; r < rules.size(); ++r) {
        const ConceptRule& rule = rules[r];
        auto failed = [&](const std::string& why) {
            if (bad_rule != nullptr) *bad_rule = r;
            return fail(Errc::invalid, "rule " + rule.id + ": " + why);
        };
        const ConceptScore& score = rule.score;
        if (!rule.when.ok() && !score.ok() && !rule.model.ok())
            return failed("no expression, no score and no model");
        if (rule.model.ok() && !std::isfinite(rule.model.threshold))
            return failed("model threshold must be a finite number");
        if (!lexicon) return failed("'when' needs concepts (policy.yaml `concepts:`)");
        if (rule.window < 1) return failed("window must be at least 1");
        if (score.ok() && !(std::isfinite(score.threshold) && score.threshold > 0))
            return failed("score threshold must be a number above 0");
        Bound b;
        if (rule.when.ok())
            for (const std::string& name : rule.when.names()) {
                int id = lexicon->find(name);
                if (id < 0) return failed("unknown concept '" + name + "'");
                b.concepts.push_back(static_cast<std::uint16_t>(id));
            }
        for (std::size_t w = 0; w < score.weights.size(); ++w) {
            const auto& [name, weight] = score.weights[w];
            int id = lexicon->find(name);
            const char* why = id < 0                   ? "unknown concept '"
                              : !std::isfinite(weight) ? "weight is not a finite number for '"
                                                       : nullptr;
            if (why != nullptr) {
                if (bad_weight != nullptr) *bad_weight = static_cast<int>(w);
                return failed("score: " + std::string(why) + name + "'");
            }
            b.scored.push_back(static_cast<std::uint16_t>(id));
        }
        out->bound_.push_back(std::move(b));
    }
    out->lexicon_ = std::move(lexicon);
    out->rules_ = std::move(rules);
    return std::shared_ptr<const RuleSet>(std::move(out));
}

Analysis analyse(std::shared_ptr<const Lexicon> lexicon, std::span<const TextInput> texts,
                 LangMask langs, const WorkBounds& bounds) {
    Analysis a;
    a.doc = tokenize(texts, bounds);
    a.langs = langs != 0 ? langs : detect_languages(a.doc, lexicon->languages());
    a.matches = lexicon->match(a.doc, texts, a.langs, bounds.check);
    a.lexicon = std::move(lexicon);
    if (a.matches.empty()) return a;
    // Each rule walks only its own concepts' matches.
    a.by_concept.resize(a.lexicon->concepts().size());
    for (std::uint32_t i = 0; i < a.matches.size(); ++i)
        a.by_concept[a.matches[i].concept_id].push_back(i);
    return a;
}

std::vector<ConceptHit> RuleSet::match(std::span<const TextInput> texts,
                                       const MatchOptions& o) const {
    if (rules_.empty()) return {};
    return match(analyse(lexicon_, texts, o.langs, o.bounds), o.sender, o.bounds.check);
}

std::vector<ConceptHit> RuleSet::match(const Analysis& a, std::uint8_t sender,
                                       BudgetCheck check) const {
    std::vector<ConceptHit> hits;
    if (a.lexicon != lexicon_) return hits;
    // A rule's walk is linear in the matches, a model's in the tokens; a
    // model needs no concept to have matched.
    BudgetStride budget(check);
    for (std::size_t r = 0; r < rules_.size(); ++r) {
        if ((rules_[r].senders & sender) == 0) continue;
        if (a.matches.empty() && !rules_[r].model.ok()) continue;
        budget.tick(a.matches.size() + (rules_[r].model.ok() ? a.doc.tokens.size() : 0));
        if (auto hit = fire(r, a, sender)) hits.push_back(std::move(*hit));
    }
    return hits;
}

bool RuleSet::heard(std::uint16_t concept_id, std::uint8_t sender) const {
    // Unknown sender (kAnySender): the words may be either party's.
    switch (lexicon_->concepts()[concept_id].speaker) {
        case Speaker::anyone:
            return true;
        case Speaker::buyer:
            return (sender & kBuyer) != 0;
        case Speaker::seller:
            return (sender & kSeller) != 0;
    }
    return true;
}

std::optional<ConceptHit> RuleSet::fire(std::size_t r, const Analysis& a,
                                        std::uint8_t sender) const {
    // With no concept matched only a model can fire (by_concept may be empty).
    const bool matched = !a.matches.empty();
    if (rules_[r].when.ok() && matched)
        if (auto hit = fire_when(r, a, sender)) return hit;
    if (rules_[r].score.ok() && matched)
        if (auto hit = fire_score(r, a, sender)) return hit;
    if (rules_[r].model.ok()) return fire_model(r, a);
    return std::nullopt;
}

std::optional<ConceptHit> RuleSet::fire_when(std::size_t r, const Analysis& a,
                                             std::uint8_t sender) const {
    const Document& doc = a.doc;
    const std::vector<ConceptMatch>& matches = a.matches;
    const std::vector<std::vector<std::uint32_t>>& by_concept = a.by_concept;
    const ConceptRule& rule = rules_[r];
    const Bound& b = bound_[r];
    // The rule's matches, each with its expression bit.
    struct Local {
        const ConceptMatch* m;
        std::uint8_t bit;
        std::uint32_t unit;
        bool counted = false;  // inside the window now
    };
    std::vector<Local> local;
    for (std::size_t bit = 0; bit < b.concepts.size(); ++bit) {
        if (!heard(b.concepts[bit], sender)) continue;
        for (std::uint32_t i : by_concept[b.concepts[bit]]) {
            const ConceptMatch& m = matches[i];
            local.push_back({&m, static_cast<std::uint8_t>(bit),
                             unit_of(doc.tokens[m.first], rule.scope), false});
        }
    }
    if (local.empty()) return std::nullopt;
    std::sort(local.begin(), local.end(), [](const Local& x, const Local& y) {
        return x.m->first < y.m->first || (x.m->first == y.m->first && x.m < y.m);
    });
    const auto window = static_cast<std::uint32_t>(rule.window);
    std::array<std::uint32_t, Expression::kMaxConcepts> count{};
    std::uint64_t present = 0;
    auto add = [&](Local& l) {
        l.counted = true;
        if (count[l.bit]++ == 0) present |= std::uint64_t{1} << l.bit;
    };
    auto remove = [&](Local& l) {
        if (!l.counted) return;
        l.counted = false;
        if (--count[l.bit] == 0) present &= ~(std::uint64_t{1} << l.bit);
    };
    std::size_t lo = 0, hi = 0;
    for (std::size_t i = 0; i < local.size(); ++i) {
        const Local& at = local[i];
        if (!((rule.when.positive() >> at.bit) & 1u)) continue;
        const std::uint32_t p = at.m->first;
        // Units only grow along the tokens: what lies in an earlier unit is
        // passed over, never counted.
        while (hi < local.size() &&
               (local[hi].unit < at.unit ||
                (local[hi].unit == at.unit && local[hi].m->first <= p + window))) {
            if (local[hi].unit == at.unit) add(local[hi]);
            ++hi;
        }
        while (lo < hi && (local[lo].unit != at.unit || local[lo].m->first + window < p))
            remove(local[lo++]);
        if (!rule.when.eval(present)) continue;

        ConceptHit hit;
        hit.rule = r;
        const Token& trigger = doc.tokens[p];
        hit.text = trigger.text;
        hit.begin = at.m->begin;
        hit.end = at.m->end;
        const std::uint64_t shown = present & rule.when.positive();
        for (std::size_t k = lo; k < hi; ++k) {
            const Local& l = local[k];
            if (!l.counted || !((shown >> l.bit) & 1u)) continue;
            if (hit.language.empty() && l.m->lang != ConceptMatch::kShape)
                hit.language = std::string(lang_code(l.m->lang));
            const std::string& name = lexicon_->concepts()[l.m->concept_id].name;
            auto fc = std::find_if(hit.concepts.begin(), hit.concepts.end(),
                                   [&](const FiredConcept& c) { return c.name == name; });
            if (fc == hit.concepts.end()) fc = hit.concepts.insert(hit.concepts.end(), {name, {}});
            const std::uint32_t text = doc.tokens[l.m->first].text;
            if (fc->words.size() < kWordsPerConcept)
                fc->words.push_back({text, l.m->begin, l.m->end});
            if (text == hit.text) {
                hit.begin = std::min(hit.begin, l.m->begin);
                hit.end = std::max(hit.end, l.m->end);
            }
        }
        return hit;
    }
    return std::nullopt;
}

std::optional<ConceptHit> RuleSet::fire_score(std::size_t r, const Analysis& a,
                                              std::uint8_t sender) const {
    const Document& doc = a.doc;
    const ConceptRule& rule = rules_[r];
    const std::vector<std::uint16_t>& scored = bound_[r].scored;
    using Item = ScoreItem;
    std::vector<Item> items;
    for (std::size_t w = 0; w < scored.size(); ++w) {
        if (!heard(scored[w], sender)) continue;
        for (std::uint32_t i : a.by_concept[scored[w]]) {
            const ConceptMatch& m = a.matches[i];
            items.push_back({unit_of(doc.tokens[m.first], rule.score.scope),
                             static_cast<std::uint16_t>(w), &m});
        }
    }
    if (items.empty()) return std::nullopt;
    std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
        if (x.unit != y.unit) return x.unit < y.unit;
        if (x.weight != y.weight) return x.weight < y.weight;
        return x.m->first < y.m->first;
    });
    // Weights are multiples of a half in practice; a sum that misses the
    // threshold by rounding alone still reaches it.
    constexpr double kSlack = 1e-9;
    for (std::size_t lo = 0; lo < items.size();) {
        std::size_t hi = lo;
        double sum = 0;
        for (; hi < items.size() && items[hi].unit == items[lo].unit; ++hi)
            if (hi == lo || items[hi].weight != items[hi - 1].weight)
                sum += rule.score.weights[items[hi].weight].second;
        if (sum + kSlack >= rule.score.threshold)
            return score_hit(r, a, std::span<const Item>(items).subspan(lo, hi - lo), sum);
        lo = hi;
    }
    return std::nullopt;
}

ConceptHit RuleSet::score_hit(std::size_t r, const Analysis& a, std::span<const ScoreItem> unit,
                              double sum) const {
    const ConceptRule& rule = rules_[r];
    ConceptHit hit;
    hit.rule = r;
    hit.by_score = true;
    hit.score = sum;
    hit.threshold = rule.score.threshold;
    // The unit's items are sorted by weight index, then position: the first
    // of each run is that concept's first match.
    const ScoreItem* strongest = nullptr;
    for (std::size_t k = 0; k < unit.size(); ++k) {
        const ScoreItem& it = unit[k];
        const auto& [name, weight] = rule.score.weights[it.weight];
        if (k == 0 || it.weight != unit[k - 1].weight) {
            hit.concepts.push_back({name, {}, weight});
            if (strongest == nullptr || weight > rule.score.weights[strongest->weight].second)
                strongest = &it;
        }
        if (hit.language.empty() && it.m->lang != ConceptMatch::kShape)
            hit.language = std::string(lang_code(it.m->lang));
        FiredConcept& fc = hit.concepts.back();
        if (fc.words.size() < kWordsPerConcept)
            fc.words.push_back({a.doc.tokens[it.m->first].text, it.m->begin, it.m->end});
    }
    std::stable_sort(
        hit.concepts.begin(), hit.concepts.end(),
        [](const FiredConcept& x, const FiredConcept& y) { return x.weight > y.weight; });
    hit.text = a.doc.tokens[strongest->m->first].text;
    hit.begin = strongest->m->begin;
    hit.end = strongest->m->end;
    if (strongest->m->lang != ConceptMatch::kShape)
        hit.language = std::string(lang_code(strongest->m->lang));
    return hit;
}

}  // namespace mm::classify
