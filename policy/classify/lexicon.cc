// Lexicon::build: entries parsed, folded, stemmed, validated and indexed.
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

#include "policy/classify/lexicon.h"
#include "policy/classify/stemmer.h"

namespace mm::classify {
namespace {

constexpr std::int64_t kShapeMaxMem = 8 << 20;
constexpr std::uint8_t kPhraseGap = 3;
constexpr std::size_t kMinStemLetters = 3;
constexpr std::size_t kMinAffixLetters = 4;

std::size_t letters(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool upper_snake(std::string_view s) {
    return !s.empty() && s[0] >= 'A' && s[0] <= 'Z' && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// A shape `\bLIT...`, a word boundary then (at the top level, no '|'
// outside parentheses) at least two literal letters or digits: the pattern
// without its `\b`, which RE2 can search for its literal prefix instead of
// stepping through every byte; the boundary is checked at each match
// (Lexicon::match).  Empty for other shapes.
std::string after_boundary(const std::string& re) {
    if (re.size() < 4 || re.compare(0, 2, "\\b") != 0) return {};
    const auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    const auto quantifier = [](char c) { return c == '*' || c == '+' || c == '?' || c == '{'; };
    if (!alnum(re[2]) || !alnum(re[3]) || (re.size() > 4 && quantifier(re[4])) || quantifier(re[3]))
        return {};
    int depth = 0;
    for (std::size_t i = 2; i < re.size(); ++i) {
        const char c = re[i];
        if (c == '\\') {
            // \Q...\E quotes a span: not worth reading here.
            if (i + 1 < re.size() && re[i + 1] == 'Q') return {};
            ++i;
        } else if (c == '[') {
            // To the class's end: a ']' first (after an optional '^') is a
            // member, escapes and [:name:] are read whole.
            std::size_t k = i + 1;
            if (k < re.size() && re[k] == '^') ++k;
            if (k < re.size() && re[k] == ']') ++k;
            for (; k < re.size() && re[k] != ']'; ++k) {
                if (re[k] == '\\') {
                    ++k;
                } else if (re[k] == '[' && k + 1 < re.size() && re[k + 1] == ':') {
                    const std::size_t e = re.find(":]", k + 2);
                    if (e == std::string::npos) return {};
                    k = e + 1;
                }
            }
            if (k >= re.size()) return {};
            i = k;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            --depth;
        } else if (c == '|' && depth == 0) {
            return {};
        }
    }
    return re.substr(2);
}

// The letters and digits a tail (after_boundary's) starts with, lower case,
// that no quantifier follows, up to the first 'k' or 's' (RE2's case folding
// also matches those to U+212A and U+017F, which a byte search would miss):
// where the tail can start, found by memchr (Lexicon::match).  Empty when
// shorter than three, which would start too many places of a text.
std::string leading_literal(const std::string& tail) {
    const auto quantifier = [](char c) { return c == '*' || c == '+' || c == '?' || c == '{'; };
    std::string lit;
    for (std::size_t i = 0; i < tail.size(); ++i) {
        char c = tail[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) || c == 'k' || c == 's') break;
        if (i + 1 < tail.size() && quantifier(tail[i + 1])) break;
        lit.push_back(c);
    }
    return lit.size() >= 3 ? lit : std::string();
}

RE2::Options shape_options() {
    RE2::Options o;
    o.set_encoding(RE2::Options::EncodingUTF8);
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    o.set_max_mem(kShapeMaxMem);
    return o;
}

}  // namespace

class LexiconBuilder {
public:
    explicit LexiconBuilder(Lexicon& lx) : lx_(lx) {}

    // Throws std::invalid_argument with the message (where included).
    void add(ConceptSource& c) {
        const std::string at = c.where.empty() ? "" : c.where + ": ";
        if (!upper_snake(c.name)) fail(at + "concept '" + c.name + "': names are UPPER_SNAKE_CASE");
        if (lx_.find(c.name) >= 0) fail(at + "concept '" + c.name + "' defined twice");
        if (lx_.concepts_.size() == 0xFFFF) fail(at + "too many concepts");
        auto id = static_cast<std::uint16_t>(lx_.concepts_.size());
        if (c.listed != 0 || !c.entries.empty()) check_languages(c, at);
        if (c.entries.empty() && c.shapes.empty())
            fail(at + "concept " + c.name + ": no words and no shapes");
        lx_.concepts_.push_back({c.name, c.description, {}, c.speaker, {}});
        for (const ConceptSource::Written& w : c.entries) add_entry(id, w, c.name);
        for (const ConceptSource::Shape& s : c.shapes) add_shape(id, s, c.name);
    }

    // After every concept is added: `masks` names resolved to ids.
    void resolve_masks(const std::vector<ConceptSource>& sources) {
        for (std::size_t id = 0; id < sources.size(); ++id) {
            const ConceptSource& c = sources[id];
            for (const ConceptSource::Mask& m : c.masks) {
                const std::string at = m.where.empty() ? "" : m.where + ": ";
                const int masked = lx_.find(m.concept_name);
                if (masked < 0)
                    fail(at + "concept " + c.name + " masks: unknown concept '" + m.concept_name +
                         "'");
                if (static_cast<std::size_t>(masked) == id)
                    fail(at + "concept " + c.name + " masks itself");
                auto& list = lx_.concepts_[id].masks;
                const auto masked_id = static_cast<std::uint16_t>(masked);
                if (std::find(list.begin(), list.end(), masked_id) != list.end())
                    fail(at + "concept " + c.name + " masks " + m.concept_name + " twice");
                list.push_back(masked_id);
                lx_.masked_by_.resize(lx_.concepts_.size(), false);
                lx_.masked_by_[masked_id] = true;
            }
        }
    }

    void finish() {
        for (Lexicon::Index* i : {&lx_.stems_, &lx_.exact_, &lx_.prefixes_, &lx_.suffixes_,
                                  &lx_.pairs_, &lx_.pair_heads_})
            i->freeze();
        if (shape_regexes_.empty()) return;
        auto set = std::make_unique<RE2::Set>(shape_options(), RE2::UNANCHORED);
        for (const std::string& r : shape_regexes_)
            if (set->Add(r, nullptr) < 0) fail("shapes: cannot combine '" + r + "'");
        if (!set->Compile()) fail("shapes: together they need too much memory");
        lx_.shape_set_ = std::move(set);
    }

private:
    [[noreturn]] static void fail(const std::string& message) {
        throw std::invalid_argument(message);
    }

    void check_languages(const ConceptSource& c, const std::string& at) {
        LangMask with_words = 0;
        for (const auto& w : c.entries) {
            if (!((lx_.languages_ >> w.lang) & 1u))
                fail(w.where + ": concept " + c.name + ": language '" +
                     std::string(lang_code(w.lang)) + "' is not in languages");
            with_words |= static_cast<LangMask>(1u << w.lang);
        }
        for (Lang l = 0; l < kLangCount; ++l) {
            if (!((lx_.languages_ >> l) & 1u)) continue;
            if (!((c.listed >> l) & 1u))
                fail(at + "concept " + c.name + ": language '" + std::string(lang_code(l)) +
                     "' is missing (every concept with words lists every language)");
            if (!((with_words >> l) & 1u))
                fail(at + "concept " + c.name + ": language '" + std::string(lang_code(l)) +
                     "' is empty");
        }
    }

    // One raw word of an entry ("=feedback", "*bewertung", "review") as the
    // words it stands for.
    void parse_word(std::string_view raw, Lang lang, std::uint8_t gap, const std::string& at,
                    std::vector<Lexicon::Word>& out) {
        Lexicon::Kind kind = Lexicon::Kind::stem;
        bool lead = !raw.empty() && raw.front() == '*';
        bool trail = raw.size() > 1 && raw.back() == '*';
        if (!raw.empty() && raw.front() == '=') {
            kind = Lexicon::Kind::exact;
            raw.remove_prefix(1);
        } else if (lead && trail) {
            kind = Lexicon::Kind::contains;
            raw = raw.substr(1, raw.size() - 2);
        } else if (lead) {
            kind = Lexicon::Kind::suffix;
            raw.remove_prefix(1);
        } else if (trail) {
            kind = Lexicon::Kind::prefix;
            raw.remove_suffix(1);
        }
        if (raw.empty() || raw == "*") fail(at + "a bare '*' or '=' matches every word");
        std::vector<std::string> folded = fold_words(raw);
        if (folded.empty()) fail(at + "'" + std::string(raw) + "' has no letters or digits");
        if (kind != Lexicon::Kind::stem && folded.size() != 1)
            fail(at + "'" + std::string(raw) + "' must be one word to carry '*' or '='");
        if ((kind == Lexicon::Kind::prefix || kind == Lexicon::Kind::suffix ||
             kind == Lexicon::Kind::contains) &&
            letters(folded[0]) < kMinAffixLetters)
            fail(at + "'" + std::string(raw) + "': at least 4 letters besides '*'");
        for (std::string& f : folded) {
            std::string key =
                kind == Lexicon::Kind::stem ? std::string(stemmers_.stem(lang, f)) : f;
            out.push_back({kind, gap, std::move(key)});
            gap = 0;
        }
    }

    void add_entry(std::uint16_t concept_id, const ConceptSource::Written& w,
                   const std::string& name) {
        const std::string at = (w.where.empty() ? "" : w.where + ": ") + "concept " + name + " " +
                               std::string(lang_code(w.lang)) + " '" + w.text + "': ";
        Lexicon::Entry e{concept_id, w.lang, {}, w.text};
        std::uint8_t gap = 0;
        std::string_view rest = w.text;
        bool pending_gap = false;
        while (!rest.empty()) {
            std::size_t sp = rest.find_first_of(" \t");
            std::string_view raw = rest.substr(0, sp);
            rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
            if (raw.empty()) continue;
            if (raw == "...") {
                if (e.words.empty() || pending_gap) fail(at + "'...' must stand between words");
                pending_gap = true;
                continue;
            }
            gap = pending_gap ? kPhraseGap : 0;
            pending_gap = false;
            parse_word(raw, w.lang, gap, at, e.words);
        }
        if (e.words.empty()) fail(at + "no words");
        if (pending_gap) fail(at + "'...' must stand between words");
        check_reach(e, at);
        index(e);
        lx_.entries_.push_back(std::move(e));
    }

    // An entry must not match nearly every text.
    void check_reach(const Lexicon::Entry& e, const std::string& at) {
        bool specific = false;
        for (const Lexicon::Word& w : e.words) {
            bool long_enough = letters(w.key) >= kMinStemLetters;
            bool stop = (w.kind == Lexicon::Kind::stem || w.kind == Lexicon::Kind::exact) &&
                        (is_stopword(e.lang, w.key));
            if (e.words.size() == 1 && !long_enough)
                fail(at + "the stem '" + w.key + "' is shorter than 3 letters");
            if (e.words.size() == 1 && stop) fail(at + "a stopword matches nearly every text");
            specific = specific || (long_enough && !stop) || w.kind != Lexicon::Kind::stem;
        }
        if (!specific) fail(at + "a phrase of stopwords and short words matches too much");
    }

    void index(const Lexicon::Entry& e) {
        const auto id = static_cast<std::uint32_t>(lx_.entries_.size());
        const Lexicon::Word& first = e.words.front();
        const std::string lang_key = std::string(1, static_cast<char>(e.lang)) + first.key;
        switch (first.kind) {
            case Lexicon::Kind::stem:
            case Lexicon::Kind::exact: {
                bool stem = first.kind == Lexicon::Kind::stem;
                if (stem && e.words.size() > 1 && e.words[1].kind == Lexicon::Kind::stem &&
                    e.words[1].gap == 0) {
                    lx_.pairs_[pair_key(lang_key, e.words[1].key)].push_back(id);
                    lx_.pair_heads_[lang_key];
                } else {
                    (stem ? lx_.stems_ : lx_.exact_)[lang_key].push_back(id);
                }
                if (first.key.size() < 3)
                    lx_.short_keys_ = true;
                else
                    lx_.head_filter_[filter_slot(first.key)] |=
                        static_cast<std::uint8_t>(stem ? 1u << e.lang : 1u << 5);
                break;
            }
            case Lexicon::Kind::prefix:
                lx_.prefixes_[first.key.substr(0, 4)].push_back(id);
                lx_.head_filter_[filter_slot(first.key)] |= 1u << 6;
                break;
            case Lexicon::Kind::suffix:
                lx_.suffixes_[first.key.substr(first.key.size() - 4)].push_back(id);
                lx_.tail_filter_[filter_slot(first.key.substr(first.key.size() - 3))] |= 1u;
                break;
            case Lexicon::Kind::contains:
                lx_.contains_.push_back(id);
                break;
        }
    }

    void add_shape(std::uint16_t concept_id, const ConceptSource::Shape& s,
                   const std::string& name) {
        auto re = std::make_unique<RE2>(s.regex, shape_options());
        if (!re->ok())
            fail((s.where.empty() ? "" : s.where + ": ") + "concept " + name +
                 " shape: " + re->error());
        lx_.concepts_[concept_id].shapes.push_back(s.regex);
        lx_.shapes_.push_back(std::move(re));
        std::unique_ptr<RE2> tail;
        std::string literal;
        if (const std::string rest = after_boundary(s.regex); !rest.empty()) {
            tail = std::make_unique<RE2>(rest, shape_options());
            if (tail->ok())
                literal = leading_literal(rest);
            else
                tail.reset();
        }
        lx_.shape_tails_.push_back(std::move(tail));
        lx_.shape_literals_.push_back(std::move(literal));
        lx_.shape_concept_.push_back(concept_id);
        shape_regexes_.push_back(s.regex);
    }

    Lexicon& lx_;
    Stemmers stemmers_;
    std::vector<std::string> shape_regexes_;
};

Lexicon::~Lexicon() = default;

int Lexicon::find(std::string_view name) const {
    for (std::size_t i = 0; i < concepts_.size(); ++i)
        if (concepts_[i].name == name) return static_cast<int>(i);
    return -1;
}

Result<std::shared_ptr<const Lexicon>> Lexicon::build(LangMask languages,
                                                      std::vector<ConceptSource> concepts) {
    std::shared_ptr<Lexicon> lx(new Lexicon());
    lx->languages_ = languages;
    try {
        LexiconBuilder b(*lx);
        for (ConceptSource& c : concepts) b.add(c);
        b.resolve_masks(concepts);
        b.finish();
    } catch (const std::invalid_argument& e) {
        return fail(Errc::invalid, e.what());
    }
    return std::shared_ptr<const Lexicon>(std::move(lx));
}

}  // namespace mm::classify
