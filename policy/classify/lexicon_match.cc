// Lexicon::match: the concepts a document's tokens and texts express.
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "policy/classify/lexicon.h"
#include "policy/classify/stemmer.h"

namespace mm::classify {

// One call's state.  What the lexicon says of a spelling does not depend on
// where it stands: its stems and the entries whose first word it is are
// worked out once per call for each distinct spelling (the words of a
// message repeat), and a token only runs the phrases' later words and the
// pairs its next word completes.
class Lexicon::Matcher {
public:
    Matcher(const Lexicon& lx, const Document& doc, LangMask langs, BudgetStride& budget)
        : lx_(lx), doc_(doc), langs_(langs & lx.languages_), budget_(budget) {}

    void run(std::vector<ConceptMatch>& out) {
        const auto n = static_cast<std::uint32_t>(doc_.tokens.size());
        spellings_.resize(doc_.spellings.size());
        for (std::size_t k = 0; k < spellings_.size(); ++k)
            spellings_[k].text = doc_.folded_of(doc_.tokens[doc_.spellings[k]]);
        // Most tokens begin no entry: they cost a look at their spelling.
        for (std::uint32_t t = 0; t < n; ++t) {
            Spelling& s = spelling(t);
            if (!s.built) build(s);
            budget_.tick(1 + s.steps_end - s.steps_begin);
            if (s.steps_end != s.steps_begin) at(t, s, out);
        }
    }

private:
    // A first-word candidate in the order the token tries them: an entry
    // (its language and first word already checked), or a language whose
    // pairs the next token may complete.
    struct Step {
        enum class Kind : std::uint8_t { entry, contains, pair };
        std::uint32_t id;  // entry, or the language of a pair step
        Kind kind;
    };
    // What pairs_ gave a spelling and the one after it: a list per first
    // spelling, in pairs_seen_.
    struct PairSeen {
        Lang lang;
        const void* next;  // the second spelling
        std::span<const std::uint32_t> entries;
        std::uint32_t older;  // the list's next item, or kNone
    };
    static constexpr std::uint32_t kNone = ~std::uint32_t{0};
    // A distinct spelling's memo.  Its stems lie in stem_bytes_, its steps in
    // steps_ (a spelling's steps are made at once, by build), so that a
    // message's few hundred spellings cost no allocation each.
    struct Spelling {
        std::string_view text;
        std::array<std::uint32_t, kLangCount> stem_at{}, stem_size{};
        LangMask stemmed = 0;
        bool built = false;
        std::uint32_t steps_begin = 0, steps_end = 0;
        std::uint32_t pairs = kNone;  // the newest of its PairSeen
        std::uint32_t pairs_seen = 0;
    };

    Spelling& spelling(std::uint32_t t) { return spellings_[doc_.tokens[t].spelling]; }

    // Asked for every later word of every phrase tried: the stem made once,
    // out of line, and read inline after.
    // The view lives until the next stem made.
    std::string_view stem(Lang l, Spelling& s) {
        if (!((s.stemmed >> l) & 1u)) [[unlikely]]
            make_stem(l, s);
        return {stem_bytes_.data() + s.stem_at[l], s.stem_size[l]};
    }

    [[gnu::noinline]] void make_stem(Lang l, Spelling& s) {
        const std::string_view made = stemmers_.stem(l, s.text);
        s.stem_at[l] = static_cast<std::uint32_t>(stem_bytes_.size());
        s.stem_size[l] = static_cast<std::uint32_t>(made.size());
        stem_bytes_.append(made);
        s.stemmed |= static_cast<LangMask>(1u << l);
    }

    [[gnu::always_inline]] bool word_matches(const Word& w, Lang l, Spelling& s) {
        std::string_view f = s.text;
        switch (w.kind) {
            case Kind::stem:
                return stem(l, s) == w.key;
            case Kind::exact:
                return f == w.key;
            case Kind::prefix:
                return f.starts_with(w.key);
            case Kind::suffix:
                return f.ends_with(w.key);
            case Kind::contains:
                return f.find(w.key) != std::string_view::npos;
        }
        return false;
    }

    // The words after the first, each within its gap, inside the sentence of
    // the first.  Sets `last` to the token of the last word.
    bool rest_matches(const Entry& e, std::uint32_t first, std::uint32_t& last) {
        const Token* tokens = doc_.tokens.data();
        const auto n = static_cast<std::uint32_t>(doc_.tokens.size());
        const std::uint32_t sentence = tokens[first].sentence;
        std::uint32_t pos = first;
        for (std::size_t k = 1; k < e.words.size(); ++k) {
            const Word& w = e.words[k];
            bool found = false;
            const std::uint32_t end = std::min(pos + 2 + std::uint32_t{w.gap}, n);
            for (std::uint32_t j = pos + 1; j < end; ++j) {
                if (tokens[j].sentence != sentence) break;
                if (word_matches(w, e.lang, spelling(j))) {
                    pos = j;
                    found = true;
                    break;
                }
            }
            if (!found) return false;
        }
        last = pos;
        return true;
    }

    // The steps of `ids` for spelling s: those of the call's languages and,
    // with check_first, whose first word s matches.
    void add_entries(Spelling& s, std::span<const std::uint32_t> ids, bool check_first,
                     Step::Kind kind = Step::Kind::entry) {
        for (std::uint32_t id : ids) {
            const Entry& e = lx_.entries_[id];
            if (!((langs_ >> e.lang) & 1u)) continue;
            if (check_first && !word_matches(e.words.front(), e.lang, s)) continue;
            steps_.push_back({id, kind});
        }
    }

    // The entries whose first word is s's stem in language l: those of
    // stems_, then those of pairs_ (a step: the next token decides).
    void add_stem_steps(Spelling& s, Lang l) {
        lang_key(l, stem(l, s));
        const std::uint64_t h = KeyIndex::hash(key_);
        add_entries(s, lx_.stems_.find(key_, h), false);
        if (lx_.pair_heads_.contains(key_, h)) steps_.push_back({l, Step::Kind::pair});
    }

    void build(Spelling& s) {
        s.built = true;
        s.steps_begin = static_cast<std::uint32_t>(steps_.size());
        add_steps(s);
        s.steps_end = static_cast<std::uint32_t>(steps_.size());
    }

    void add_steps(Spelling& s) {
        const std::string_view f = s.text;
        if (f.size() < 3) {
            if (!lx_.short_keys_) return;
            for (Lang l = 0; l < kLangCount; ++l) {
                if (!((langs_ >> l) & 1u)) continue;
                lang_key(l, f);
                add_entries(s, lx_.exact_.find(key_), false);
                add_stem_steps(s, l);
            }
            return;
        }
        const std::uint8_t head = lx_.head_filter_[filter_slot(f)];
        if (head & (1u << 5)) {
            for (Lang l = 0; l < kLangCount; ++l) {
                if (!((langs_ >> l) & 1u)) continue;
                lang_key(l, f);
                add_entries(s, lx_.exact_.find(key_), false);
            }
        }
        if ((head & (1u << 6)) && f.size() >= 4)
            add_entries(s, lx_.prefixes_.find(f.substr(0, 4)), true);
        const LangMask stem_langs = head & langs_;
        for (Lang l = 0; stem_langs != 0 && l < kLangCount; ++l)
            if ((stem_langs >> l) & 1u) add_stem_steps(s, l);
        if (f.size() >= 4 && (lx_.tail_filter_[filter_slot(f.substr(f.size() - 3))] & 1u))
            add_entries(s, lx_.suffixes_.find(f.substr(f.size() - 4)), true);
        add_entries(s, lx_.contains_, true, Step::Kind::contains);
    }

    // The phrases of pairs_ that begin with s's stem in l and whose second
    // word is next's stem.
    // The memo holds a word's first few successors only: a word before
    // thousands of different ones ("link 1", "link 2", ...) would make a
    // linear search of it quadratic; past them the pair costs one look-up.
    static constexpr std::size_t kPairMemo = 8;

    std::span<const std::uint32_t> pair_entries(Spelling& s, Lang l, Spelling& next) {
        for (std::uint32_t k = s.pairs; k != kNone; k = pairs_seen_[k].older)
            if (pairs_seen_[k].lang == l && pairs_seen_[k].next == &next)
                return pairs_seen_[k].entries;
        lang_key(l, stem(l, s));
        key_.push_back('\x1f');
        key_.append(stem(l, next));
        const std::span<const std::uint32_t> ids = lx_.pairs_.find(key_);
        if (s.pairs_seen < kPairMemo) {
            pairs_seen_.push_back({l, &next, ids, s.pairs});
            s.pairs = static_cast<std::uint32_t>(pairs_seen_.size() - 1);
            ++s.pairs_seen;
        }
        return ids;
    }

    void try_entry(std::uint32_t id, std::uint32_t t, bool once_per_concept,
                   std::vector<ConceptMatch>& out) {
        const Entry& e = lx_.entries_[id];
        std::uint32_t last = t;
        if (!rest_matches(e, t, last)) return;
        // One match per concept and token is enough for the rules, but masks
        // cover its span and explanations show its words: keep the longest,
        // whatever order the entries were listed (and so tried) in.
        if (once_per_concept) {
            if (ConceptMatch* m = matched_here(out, t, e.concept_id)) {
                if (last > m->last) *m = match_of(e, id, t, last);
                return;
            }
        }
        out.push_back(match_of(e, id, t, last));
    }

    ConceptMatch match_of(const Entry& e, std::uint32_t id, std::uint32_t first,
                          std::uint32_t last) const {
        const std::uint32_t begin = doc_.tokens[first].begin, end = doc_.tokens[last].end;
        return {e.concept_id, e.lang, first, last, id, begin, end};
    }

    static ConceptMatch* matched_here(std::vector<ConceptMatch>& out, std::uint32_t t,
                                      std::uint16_t concept_id) {
        for (auto m = out.rbegin(); m != out.rend() && m->first == t; ++m)
            if (m->concept_id == concept_id) return &*m;
        return nullptr;
    }

    void lang_key(Lang l, std::string_view key) {
        key_.assign(1, static_cast<char>(l));
        key_.append(key);
    }

    void at(std::uint32_t t, Spelling& s, std::vector<ConceptMatch>& out) {
        for (std::uint32_t k = s.steps_begin; k < s.steps_end; ++k) {
            const Step step = steps_[k];
            switch (step.kind) {
                case Step::Kind::entry:
                    try_entry(step.id, t, true, out);
                    break;
                case Step::Kind::contains:
                    try_entry(step.id, t, false, out);
                    break;
                case Step::Kind::pair: {
                    if (t + 1 >= doc_.tokens.size() ||
                        doc_.tokens[t + 1].sentence != doc_.tokens[t].sentence)
                        break;
                    const auto l = static_cast<Lang>(step.id);
                    for (std::uint32_t id : pair_entries(s, l, spelling(t + 1)))
                        if ((langs_ >> lx_.entries_[id].lang) & 1u) try_entry(id, t, true, out);
                    break;
                }
            }
        }
    }

    const Lexicon& lx_;
    const Document& doc_;
    LangMask langs_;
    BudgetStride& budget_;
    Stemmers stemmers_;
    std::vector<Spelling> spellings_;  // as Document::spellings
    std::vector<Step> steps_;
    std::vector<PairSeen> pairs_seen_;
    std::string stem_bytes_;
    std::string key_;
};

namespace {

// Enough for any rule (one match is what a window needs), while a text of
// nothing but amounts cannot make the list large.
constexpr int kMaxShapeMatches = 256;

// The tokens of text `text` that overlap [b, e); a span between tokens
// takes the next token of its text (else the one before).
bool span_tokens(const Document& doc, std::uint32_t text, std::size_t b, std::size_t e,
                 std::uint32_t& first, std::uint32_t& last) {
    auto it =
        std::lower_bound(doc.tokens.begin(), doc.tokens.end(), std::make_pair(text, b),
                         [](const Token& t, const std::pair<std::uint32_t, std::size_t>& k) {
                             return t.text < k.first || (t.text == k.first && t.end <= k.second);
                         });
    if (it == doc.tokens.end() || it->text != text) {
        if (it == doc.tokens.begin() || (it - 1)->text != text) return false;
        --it;
    }
    first = last = static_cast<std::uint32_t>(it - doc.tokens.begin());
    while (last + 1 < doc.tokens.size() && doc.tokens[last + 1].text == text &&
           doc.tokens[last + 1].begin < e)
        ++last;
    return true;
}

bool re2_word(re2::StringPiece s, std::size_t i) {
    if (i >= s.size()) return false;
    const char c = s[i];
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Where a tail's leading literal (lower-case ASCII letters and digits, see
// Lexicon::shape_literals_) starts in a text, in any ASCII case: memchr for
// its first byte in each case, each place kept until the search passes it.
class LiteralFinder {
public:
    static constexpr std::size_t npos = std::string_view::npos;

    LiteralFinder(std::string_view text, std::string_view lit) : text_(text), lit_(lit) {
        lower_ = lit[0];
        upper_ = lower_ >= 'a' && lower_ <= 'z' ? static_cast<char>(lower_ - 32) : lower_;
        at_lower_ = find(lower_, 0);
        at_upper_ = upper_ == lower_ ? npos : find(upper_, 0);
    }

    // The first place at or after `pos`, or npos.
    std::size_t next(std::size_t pos) {
        for (;;) {
            if (at_lower_ < pos) at_lower_ = find(lower_, pos);
            if (at_upper_ < pos) at_upper_ = find(upper_, pos);
            const std::size_t p = std::min(at_lower_, at_upper_);
            if (p == npos || rest_equal(p)) return p;
            pos = p + 1;
        }
    }

private:
    std::size_t find(char c, std::size_t pos) const {
        if (pos >= text_.size()) return npos;
        const void* q = std::memchr(text_.data() + pos, c, text_.size() - pos);
        return q == nullptr ? npos
                            : static_cast<std::size_t>(static_cast<const char*>(q) - text_.data());
    }
    bool rest_equal(std::size_t p) const {
        if (lit_.size() > text_.size() - p) return false;
        for (std::size_t k = 1; k < lit_.size(); ++k) {
            char c = text_[p + k];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
            if (c != lit_[k]) return false;
        }
        return true;
    }

    std::string_view text_, lit_;
    char lower_, upper_;
    std::size_t at_lower_, at_upper_;
};

// One shape's search of one text.  With `tail` (the shape without its
// leading `\b`), its first match is the first of tail's matches that
// starts at a word boundary of the input, which is the same match; with
// `literal` too, tail is tried anchored at each place the literal starts
// after a boundary, and else searched for (RE2 speeds that up with the
// literal prefix).  A tail match refused costs a scan of its bytes that
// the whole pattern would not have made ("awww.awww.awww..." is one match
// of the tail after another, each as long as the rest): past `wasted_max`
// such bytes the whole pattern searches on from where the tail stopped.
// Likewise past kMaxMisses anchored tries that failed ("www www ..."), the
// search goes on unanchored.
struct ShapeSearch {
    static constexpr int kMaxMisses = 8;

    const RE2& re;
    const RE2* tail;
    std::optional<LiteralFinder> literal;
    std::size_t wasted = 0, wasted_max = 0;
    int misses = 0;

    // The first match in `input`, which starts `offset` bytes into the text.
    bool next(re2::StringPiece input, std::size_t offset, re2::StringPiece& m) {
        std::size_t pos = 0;
        if (literal && misses <= kMaxMisses) {
            for (;;) {
                const std::size_t at = literal->next(offset + pos);
                if (at == LiteralFinder::npos) return false;
                const std::size_t p = at - offset;
                pos = p + 1;
                if (p > 0 && re2_word(input, p - 1)) continue;
                if (tail->Match(input, p, input.size(), RE2::ANCHOR_START, &m, 1)) return true;
                if (++misses > kMaxMisses) break;
            }
        }
        if (tail != nullptr) {
            while (wasted <= wasted_max && pos <= input.size()) {
                if (!tail->Match(input, pos, input.size(), RE2::UNANCHORED, &m, 1)) return false;
                const auto p = static_cast<std::size_t>(m.data() - input.data());
                if (re2_word(input, p) != (p > 0 && re2_word(input, p - 1))) return true;
                wasted += p + m.size() - pos;
                pos = p + 1;
            }
            // No match of re starts before pos: none of tail's does at a boundary.
            if (pos > input.size()) return false;
        }
        return re.Match(input, pos, input.size(), RE2::UNANCHORED, &m, 1);
    }
};

}  // namespace

std::vector<ConceptMatch> Lexicon::match(const Document& doc, std::span<const TextInput> texts,
                                         LangMask langs, BudgetCheck check) const {
    std::vector<ConceptMatch> out;
    out.reserve(64);
    BudgetStride budget(check);
    Matcher(*this, doc, langs, budget).run(out);
    if (!shape_set_) {
        drop_masked(doc, out);
        return out;
    }
    const std::size_t words = out.size();
    std::vector<int> which;
    for (std::uint32_t k = 0; k < texts.size(); ++k) {
        const std::string_view text = texts[k].text;
        budget.now();
        which.clear();
        if (!shape_set_->Match(text, &which)) continue;
        for (int s : which) {
            const auto si = static_cast<std::size_t>(s);
            ShapeSearch search{*shapes_[si], shape_tails_[si].get(), std::nullopt};
            search.wasted_max = text.size();
            if (search.tail != nullptr && !shape_literals_[si].empty())
                search.literal.emplace(text, shape_literals_[si]);
            re2::StringPiece input(text), m;
            int found = 0;
            while (!input.empty() && found++ < kMaxShapeMatches &&
                   search.next(input, static_cast<std::size_t>(input.data() - text.data()), m)) {
                budget.tick();
                auto b = static_cast<std::size_t>(m.data() - text.data());
                std::uint32_t first = 0, last = 0;
                if (span_tokens(doc, k, b, b + m.size(), first, last))
                    out.push_back({shape_concept_[static_cast<std::size_t>(s)],
                                   ConceptMatch::kShape, first, last, static_cast<std::uint32_t>(s),
                                   static_cast<std::uint32_t>(b),
                                   static_cast<std::uint32_t>(b + m.size())});
                std::size_t next = b + std::max<std::size_t>(m.size(), 1);
                if (next > text.size()) break;
                input = text.substr(next);
            }
        }
    }
    if (out.size() != words)
        std::stable_sort(out.begin(), out.end(), [](const ConceptMatch& a, const ConceptMatch& b) {
            return a.first < b.first;
        });
    drop_masked(doc, out);
    return out;
}

namespace {

// Marks in `drop` the matches of the concepts `candidate` admits that
// overlap, in the same text, a match in `spans` (sorted by first token) whose
// concept masks theirs.  `longest`: the most tokens a span covers less one.
template <class Candidate, class Masks>
void mark_masked(const Document& doc, const std::vector<ConceptMatch>& matches,
                 const std::vector<const ConceptMatch*>& spans, std::uint32_t longest,
                 Candidate candidate, Masks masks, std::vector<bool>& drop) {
    std::size_t lo = 0;
    for (std::size_t i = 0; i < matches.size(); ++i) {
        const ConceptMatch& m = matches[i];
        if (drop[i] || !candidate(m.concept_id)) continue;
        while (lo < spans.size() && spans[lo]->first + longest < m.first) ++lo;
        for (std::size_t j = lo; j < spans.size() && spans[j]->first <= m.last; ++j) {
            const ConceptMatch& by = *spans[j];
            if (&by != &m && by.last >= m.first && masks(by, m.concept_id) &&
                doc.tokens[by.first].text == doc.tokens[m.first].text) {
                drop[i] = true;
                break;
            }
        }
    }
}

}  // namespace

// A masked concept's match is dropped where its tokens overlap a match of a
// concept that masks it, in the same text.  Overlap rather than containment:
// a masked phrase that shares a word with the refusal ("cannot accept bank
// transfers to ...") reads that word as the refusal's, and an entry of the
// masked concept running one word past the masking phrase's edge must not
// bring the refused channel back.  A match elsewhere in the message counts.
// A masking match that is itself masked ("thanks for the review" inside
// "thanks for the review in advance") is dropped first and masks nothing.
// `matches` is sorted by first token; masking spans are few and short, so a
// candidate looks only at the spans starting within the longest span before
// it.
void Lexicon::drop_masked(const Document& doc, std::vector<ConceptMatch>& matches) const {
    if (masked_by_.empty()) return;
    std::vector<const ConceptMatch*> spans;  // matches of masking concepts, by first token
    std::uint32_t longest = 0;
    bool chained = false;  // a masking match that may be masked itself
    for (const ConceptMatch& m : matches)
        if (!concepts_[m.concept_id].masks.empty()) {
            spans.push_back(&m);
            longest = std::max(longest, m.last - m.first);
            chained = chained || masked_by_[m.concept_id];
        }
    if (spans.empty()) return;
    const auto masks = [this](const ConceptMatch& by, std::uint16_t id) {
        const std::vector<std::uint16_t>& list = concepts_[by.concept_id].masks;
        return std::find(list.begin(), list.end(), id) != list.end();
    };
    std::vector<bool> drop(matches.size(), false);
    if (chained) {
        mark_masked(
            doc, matches, spans, longest,
            [this](std::uint16_t id) { return masked_by_[id] && !concepts_[id].masks.empty(); },
            masks, drop);
        std::erase_if(spans, [&](const ConceptMatch* m) {
            return drop[static_cast<std::size_t>(m - matches.data())];
        });
    }
    mark_masked(
        doc, matches, spans, longest, [this](std::uint16_t id) { return masked_by_[id]; }, masks,
        drop);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < matches.size(); ++i)
        if (!drop[i]) matches[kept++] = matches[i];
    matches.resize(kept);
}

}  // namespace mm::classify
