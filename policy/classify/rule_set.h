// RuleSet: rules written as `when:` expressions over a Lexicon's concepts,
// matched over a message's texts.
//
// A rule fires in a scope unit (sentence, paragraph or message: see
// tokenizer.h) when, at the position p of a match of one of its positive
// concepts, its expression is true over the concepts matched within
// `window` tokens of p inside that unit.  Work per message: one tokenizer
// pass, one hash look-up per token and kind (Lexicon::match), both shared by
// every rule set on the lexicon (Analysis), then per rule one pass over the
// matches with a sliding window.  Immutable after
// compile(); match() is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "policy/classify/expression.h"
#include "policy/classify/lexicon.h"
#include "policy/classify/word_model.h"
#include "util/result.h"

namespace mm::classify {

enum class Scope : std::uint8_t { sentence, paragraph, message };
const char* to_string(Scope s);
std::optional<Scope> scope_from_string(std::string_view s);
// The index of the token's sentence, paragraph or message.
inline std::uint32_t unit_of(const Token& t, Scope s) {
    return s == Scope::sentence ? t.sentence : s == Scope::paragraph ? t.paragraph : t.message;
}

// Who wrote the message; a rule lists the senders it applies to.
enum Sender : std::uint8_t { kSeller = 1, kBuyer = 2, kAnySender = 3 };

// `score:` beside or instead of `when`: weak evidence that adds up.  Each
// concept present in a scope unit adds its weight once; the rule fires in
// the unit where the sum reaches the threshold.  No weights: no score.
struct ConceptScore {
    double threshold = 0;
    std::vector<std::pair<std::string, double>> weights;  // concept name -> weight
    Scope scope = Scope::message;
    bool ok() const { return !weights.empty(); }
};

// `model:` beside `when` and `score`: a word model (word_model.h) whose
// score over a scope unit reaches `threshold` (log-odds) fires the rule.
struct ConceptModel {
    std::shared_ptr<const WordModel> model;
    double threshold = 0;
    Scope scope = Scope::message;
    bool ok() const { return model != nullptr; }
};

struct ConceptRule {
    std::string id;
    Expression when;  // may be empty when `score` is given
    Scope scope = Scope::paragraph;
    int window = 30;
    std::uint8_t senders = kAnySender;
    ConceptScore score;
    ConceptModel model;
};

struct MatchOptions {
    LangMask langs = 0;  // 0: chosen per message (detect_languages)
    std::uint8_t sender = kAnySender;
    WorkBounds bounds;
};

// One concept of a fired rule and the words that expressed it.
struct FiredConcept {
    std::string name;
    struct Words {
        std::uint32_t text, begin, end;  // bytes of that text
    };
    std::vector<Words> words;
    double weight = 0;  // its weight in a score hit
};

struct ConceptHit {
    std::size_t rule;      // index into the rule set
    std::string language;  // of the words that fired ("" when only shapes did)
    std::vector<FiredConcept> concepts;
    std::uint32_t text = 0;            // the text the excerpt is cut from
    std::uint32_t begin = 0, end = 0;  // from the first to the last word that fired
    // A hit of the score (not of `when`): the sum reached and the threshold;
    // `concepts` then lists the unit's scored concepts, strongest first.
    bool by_score = false;
    double score = 0, threshold = 0;
    // A hit of the word model: `score` and `threshold` are its log-odds;
    // `concepts` lists its strongest features ("club", "member*").
    bool by_model = false;
};

// What every rule set bound to one lexicon reads of a document: its
// tokens, the languages chosen, the concept matches.  Made once per
// message's texts (analyse) and matched by any number of rule sets on that
// lexicon: the content rules and the contact reasons read the same seller
// text.  Holds views of the texts, which must outlive it.
struct Analysis {
    std::shared_ptr<const Lexicon> lexicon;
    Document doc;
    LangMask langs = 0;
    std::vector<ConceptMatch> matches;
    std::vector<std::vector<std::uint32_t>> by_concept;  // concept id -> indexes of matches
};

// `langs` 0: chosen per message (detect_languages).  Throws TooManyWords
// past bounds.max_tokens, and whatever bounds.check throws.
Analysis analyse(std::shared_ptr<const Lexicon> lexicon, std::span<const TextInput> texts,
                 LangMask langs, const WorkBounds& bounds = {});

// Languages whose lexicons a message is scanned with: the ones its
// stopwords point to (any with at least a third of the best one's count),
// English always (its words turn up in every language's marketplace mail),
// every language when the text is too short to tell.
LangMask detect_languages(const Document& doc, LangMask available);

class RuleSet {
public:
    // Errors name the rule ("rule review.compensation: unknown concept
    // 'REWARDS'"); `bad_rule` is set to its index, and `bad_weight` to the
    // index of the score weight to blame (else to -1).
    static Result<std::shared_ptr<const RuleSet>> compile(std::shared_ptr<const Lexicon> lexicon,
                                                          std::vector<ConceptRule> rules,
                                                          std::size_t* bad_rule = nullptr,
                                                          int* bad_weight = nullptr);
    const std::vector<ConceptRule>& rules() const { return rules_; }
    const Lexicon& lexicon() const { return *lexicon_; }
    const std::shared_ptr<const Lexicon>& shared_lexicon() const { return lexicon_; }
    // At most one hit per rule, in rule order.
    std::vector<ConceptHit> match(std::span<const TextInput> texts, const MatchOptions& o) const;
    // The same over an analysis made with this rule set's lexicon (of
    // another lexicon: no hits).
    std::vector<ConceptHit> match(const Analysis& a, std::uint8_t sender,
                                  BudgetCheck check = nullptr) const;

private:
    struct Bound {
        std::vector<std::uint16_t> concepts;  // expression bit i -> concept id
        std::vector<std::uint16_t> scored;    // score weight i -> concept id
    };
    RuleSet() = default;
    // `sender` silences the concepts only the other party writes (Speaker).
    std::optional<ConceptHit> fire(std::size_t r, const Analysis& a, std::uint8_t sender) const;
    std::optional<ConceptHit> fire_when(std::size_t r, const Analysis& a,
                                        std::uint8_t sender) const;
    std::optional<ConceptHit> fire_score(std::size_t r, const Analysis& a,
                                         std::uint8_t sender) const;
    bool heard(std::uint16_t concept_id, std::uint8_t sender) const;
    std::optional<ConceptHit> fire_model(std::size_t r, const Analysis& a) const;
    // A match of a scored concept in its scope unit.
    struct ScoreItem {
        std::uint32_t unit;
        std::uint16_t weight;  // index into the rule's score weights
        const ConceptMatch* m;
    };
    ConceptHit score_hit(std::size_t r, const Analysis& a, std::span<const ScoreItem> unit,
                         double sum) const;

    std::shared_ptr<const Lexicon> lexicon_;
    std::vector<ConceptRule> rules_;
    std::vector<Bound> bound_;
};

}  // namespace mm::classify
