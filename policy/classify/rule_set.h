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
#include <vector>

#include "policy/classify/expression.h"
#include "policy/classify/lexicon.h"
#include "util/result.h"

namespace mm::classify {

enum class Scope : std::uint8_t { sentence, paragraph, message };
const char* to_string(Scope s);
std::optional<Scope> scope_from_string(std::string_view s);

// Who wrote the message; a rule lists the senders it applies to.
enum Sender : std::uint8_t { kSeller = 1, kBuyer = 2, kAnySender = 3 };

struct ConceptRule {
    std::string id;
    Expression when;
    Scope scope = Scope::paragraph;
    int window = 30;
    std::uint8_t senders = kAnySender;
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
};

struct ConceptHit {
    std::size_t rule;      // index into the rule set
    std::string language;  // of the words that fired ("" when only shapes did)
    std::vector<FiredConcept> concepts;
    std::uint32_t text = 0;            // the text the excerpt is cut from
    std::uint32_t begin = 0, end = 0;  // from the first to the last word that fired
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
    // 'REWARDS'"); `bad_rule` is set to its index.
    static Result<std::shared_ptr<const RuleSet>> compile(std::shared_ptr<const Lexicon> lexicon,
                                                          std::vector<ConceptRule> rules,
                                                          std::size_t* bad_rule = nullptr);
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
    };
    RuleSet() = default;
    std::optional<ConceptHit> fire(std::size_t r, const Analysis& a) const;

    std::shared_ptr<const Lexicon> lexicon_;
    std::vector<ConceptRule> rules_;
    std::vector<Bound> bound_;
};

}  // namespace mm::classify
