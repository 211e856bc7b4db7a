// RuleSet's `model:` side: the word model's score per scope unit, and the
// hit that explains it by its strongest features.
#include <algorithm>
#include <bit>

#include "policy/classify/rule_set.h"

namespace mm::classify {
namespace {

// Features quoted in an explanation.
constexpr std::size_t kModelFeaturesShown = 5;

// The language a model hit is reported in: the one language besides English
// the stopwords chose, else English (the model itself is one for all five).
std::string model_language(LangMask langs) {
    const LangMask others = langs & static_cast<LangMask>(~1u);
    if (std::popcount(others) == 1)
        return std::string(lang_code(static_cast<Lang>(std::countr_zero(others))));
    return std::string(lang_code(0));
}

struct Contribution {
    std::string name;  // "club", "member*"
    float weight;
    std::uint32_t token;  // its first token in the unit
};

// The distinct features of tokens [lo, hi), each with its first token.
std::vector<Contribution> contributions(const Document& doc,
                                        const std::vector<WordModel::Spelling>& weights,
                                        std::size_t prefixes, std::size_t lo, std::size_t hi) {
    std::vector<Contribution> out;
    std::vector<bool> spelling_seen(weights.size()), prefix_seen(prefixes);
    for (std::size_t i = lo; i < hi; ++i) {
        const Token& t = doc.tokens[i];
        const WordModel::Spelling& w = weights[t.spelling];
        if (spelling_seen[t.spelling]) continue;
        spelling_seen[t.spelling] = true;
        const std::string_view folded = doc.folded_of(t);
        const auto token = static_cast<std::uint32_t>(i);
        if (w.word != 0) out.push_back({std::string(folded), w.word, token});
        if (w.prefix_id < 0 || prefix_seen[static_cast<std::size_t>(w.prefix_id)]) continue;
        prefix_seen[static_cast<std::size_t>(w.prefix_id)] = true;
        const std::vector<std::string> f = word_features(folded);
        if (f.size() == 2) out.push_back({f[1].substr(2) + "*", w.prefix, token});
    }
    std::stable_sort(out.begin(), out.end(), [](const Contribution& x, const Contribution& y) {
        return x.weight > y.weight;
    });
    return out;
}

}  // namespace

std::optional<ConceptHit> RuleSet::fire_model(std::size_t r, const Analysis& a) const {
    const Document& doc = a.doc;
    const ConceptModel& model = rules_[r].model;
    const WordModel::Weighed weighed = model.model->weigh(doc);
    const std::vector<WordModel::Spelling>& weights = weighed.spellings;
    const std::size_t prefixes = weighed.prefixes;
    if (doc.tokens.empty()) return std::nullopt;
    // One unit (a message's scope, mostly): its sum is the document's.
    const bool one_unit =
        unit_of(doc.tokens.front(), model.scope) == unit_of(doc.tokens.back(), model.scope);
    // unit + 1 where a spelling or prefix id was last counted: once per unit.
    std::vector<std::uint32_t> spelling_seen, prefix_seen;
    if (!one_unit) {
        spelling_seen.assign(weights.size(), 0);
        prefix_seen.assign(prefixes, 0);
    }
    const double bias = model.model->bias();
    for (std::size_t lo = 0; lo < doc.tokens.size();) {
        const std::uint32_t unit = unit_of(doc.tokens[lo], model.scope);
        double sum = bias;
        std::size_t hi = lo;
        if (one_unit) {
            sum += weighed.total;
            hi = doc.tokens.size();
        }
        for (; hi < doc.tokens.size() && unit_of(doc.tokens[hi], model.scope) == unit; ++hi) {
            const std::uint32_t s = doc.tokens[hi].spelling;
            if (spelling_seen[s] == unit + 1) continue;
            spelling_seen[s] = unit + 1;
            const WordModel::Spelling& w = weights[s];
            sum += w.word;
            if (w.prefix_id >= 0 &&
                prefix_seen[static_cast<std::size_t>(w.prefix_id)] != unit + 1) {
                prefix_seen[static_cast<std::size_t>(w.prefix_id)] = unit + 1;
                sum += w.prefix;
            }
        }
        if (sum >= model.threshold) {
            ConceptHit hit;
            hit.rule = r;
            hit.by_model = true;
            hit.score = sum;
            hit.threshold = model.threshold;
            hit.language = model_language(a.langs);
            std::vector<Contribution> c = contributions(doc, weights, prefixes, lo, hi);
            const Token& at = doc.tokens[c.empty() ? lo : c.front().token];
            hit.text = at.text;
            hit.begin = at.begin;
            hit.end = at.end;
            for (std::size_t k = 0; k < c.size() && k < kModelFeaturesShown && c[k].weight > 0;
                 ++k) {
                const Token& t = doc.tokens[c[k].token];
                hit.concepts.push_back(
                    {std::move(c[k].name), {{t.text, t.begin, t.end}}, c[k].weight});
            }
            return hit;
        }
        lo = hi;
    }
    return std::nullopt;
}

}  // namespace mm::classify
