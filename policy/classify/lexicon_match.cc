// Lexicon::match: the concepts a document's tokens and texts express.
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <unordered_map>

#include "policy/classify/lexicon.h"
#include "policy/classify/stemmer.h"

namespace mm::classify {

// One call's state: the stems computed so far, per language, shared by the
// tokens that spell the same word.
class Lexicon::Matcher {
public:
    Matcher(const Lexicon& lx, const Document& doc, LangMask langs)
        : lx_(lx), doc_(doc), langs_(langs & lx.languages_) {}

    void run(std::vector<ConceptMatch>& out) {
        for (std::uint32_t t = 0; t < doc_.tokens.size(); ++t) at(t, out);
    }

private:
    std::string_view folded(std::uint32_t t) const { return doc_.folded_of(doc_.tokens[t]); }

    // A word's stem in one language and the entries whose first word it is,
    // computed once per call for every token that spells the word.
    struct Stemmed {
        std::string stem;
        const std::vector<std::uint32_t>* entries = nullptr;  // in stems_
        bool pair_head = false;                               // first word of phrases in pairs_
    };

    const Stemmed& stemmed(Lang l, std::uint32_t t) {
        // A phrase's later words ask for the stem of the same token once per
        // entry tried ("your" begins dozens): after the first, no hashing.
        std::vector<const Stemmed*>& known = by_token_[l];
        if (known.empty()) known.assign(doc_.tokens.size(), nullptr);
        if (const Stemmed* s = known[t]) return *s;
        std::string_view word = folded(t);
        auto& memo = memo_[l];
        auto it = memo.find(word);
        if (it == memo.end()) {
            Stemmed out{std::string(stemmers_.stem(l, word)), nullptr};
            lang_key(l, out.stem);
            if (auto e = lx_.stems_.find(key_); e != lx_.stems_.end()) out.entries = &e->second;
            out.pair_head = lx_.pair_heads_.find(key_) != lx_.pair_heads_.end();
            it = memo.emplace(word, std::move(out)).first;
        }
        known[t] = &it->second;
        return it->second;
    }

    std::string_view stem(Lang l, std::uint32_t t) { return stemmed(l, t).stem; }

    bool word_matches(const Word& w, Lang l, std::uint32_t t) {
        std::string_view f = folded(t);
        switch (w.kind) {
            case Kind::stem:
                return stem(l, t) == w.key;
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
        const std::uint32_t sentence = doc_.tokens[first].sentence;
        std::uint32_t pos = first;
        for (std::size_t k = 1; k < e.words.size(); ++k) {
            const Word& w = e.words[k];
            bool found = false;
            for (std::uint32_t j = pos + 1; j <= pos + 1 + w.gap && j < doc_.tokens.size(); ++j) {
                if (doc_.tokens[j].sentence != sentence) break;
                if (word_matches(w, e.lang, j)) {
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

    void try_entries(const Index& index, std::string_view key, std::uint32_t t, bool check_first,
                     std::vector<ConceptMatch>& out) {
        auto it = index.find(key);
        if (it != index.end()) try_entries(it->second, t, check_first, out);
    }

    void try_entries(const std::vector<std::uint32_t>& ids, std::uint32_t t, bool check_first,
                     std::vector<ConceptMatch>& out) {
        for (std::uint32_t id : ids) {
            const Entry& e = lx_.entries_[id];
            if (!((langs_ >> e.lang) & 1u)) continue;
            if (check_first && !word_matches(e.words.front(), e.lang, t)) continue;
            std::uint32_t last = t;
            if (!rest_matches(e, t, last)) continue;
            // One match per concept and token is enough for the rules.
            if (matched_here(out, t, e.concept_id)) continue;
            out.push_back(
                {e.concept_id, e.lang, t, last, id, doc_.tokens[t].begin, doc_.tokens[last].end});
        }
    }

    static bool matched_here(const std::vector<ConceptMatch>& out, std::uint32_t t,
                             std::uint16_t concept_id) {
        for (auto m = out.rbegin(); m != out.rend() && m->first == t; ++m)
            if (m->concept_id == concept_id) return true;
        return false;
    }

    // The entries whose first word is token t's stem in language l: those
    // of stems_, and those of pairs_ the next token completes.
    void try_stem_entries(Lang l, std::uint32_t t, std::vector<ConceptMatch>& out) {
        const Stemmed& s = stemmed(l, t);
        if (s.entries != nullptr) try_entries(*s.entries, t, false, out);
        if (!s.pair_head || t + 1 >= doc_.tokens.size() ||
            doc_.tokens[t + 1].sentence != doc_.tokens[t].sentence)
            return;
        const Stemmed& next = stemmed(l, t + 1);
        lang_key(l, s.stem);
        key_.push_back('\x1f');
        key_.append(next.stem);
        try_entries(lx_.pairs_, key_, t, false, out);
    }

    void lang_key(Lang l, std::string_view key) {
        key_.assign(1, static_cast<char>(l));
        key_.append(key);
    }

    void at(std::uint32_t t, std::vector<ConceptMatch>& out) {
        std::string_view f = folded(t);
        if (f.size() < 3) {
            if (!lx_.short_keys_) return;
            for (Lang l = 0; l < kLangCount; ++l) {
                if (!((langs_ >> l) & 1u)) continue;
                lang_key(l, f);
                try_entries(lx_.exact_, key_, t, false, out);
                try_stem_entries(l, t, out);
            }
            return;
        }
        const std::uint8_t head = lx_.head_filter_[filter_slot(f)];
        if (head & (1u << 5)) {
            for (Lang l = 0; l < kLangCount; ++l) {
                if (!((langs_ >> l) & 1u)) continue;
                lang_key(l, f);
                try_entries(lx_.exact_, key_, t, false, out);
            }
        }
        if ((head & (1u << 6)) && f.size() >= 4)
            try_entries(lx_.prefixes_, f.substr(0, 4), t, true, out);
        const LangMask stem_langs = head & langs_;
        for (Lang l = 0; stem_langs != 0 && l < kLangCount; ++l) {
            if (!((stem_langs >> l) & 1u)) continue;
            try_stem_entries(l, t, out);
        }
        if (f.size() >= 4 && (lx_.tail_filter_[filter_slot(f.substr(f.size() - 3))] & 1u))
            try_entries(lx_.suffixes_, f.substr(f.size() - 4), t, true, out);
        for (std::uint32_t id : lx_.contains_) {
            const Entry& e = lx_.entries_[id];
            if (!((langs_ >> e.lang) & 1u) || !word_matches(e.words.front(), e.lang, t)) continue;
            std::uint32_t last = t;
            if (rest_matches(e, t, last))
                out.push_back({e.concept_id, e.lang, t, last, id, doc_.tokens[t].begin,
                               doc_.tokens[last].end});
        }
    }

    const Lexicon& lx_;
    const Document& doc_;
    LangMask langs_;
    Stemmers stemmers_;
    std::unordered_map<std::string_view, Stemmed> memo_[kLangCount];
    std::vector<const Stemmed*> by_token_[kLangCount];  // into memo_ (nodes do not move)
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

}  // namespace

std::vector<ConceptMatch> Lexicon::match(const Document& doc, std::span<const TextInput> texts,
                                         LangMask langs) const {
    std::vector<ConceptMatch> out;
    out.reserve(64);
    Matcher(*this, doc, langs).run(out);
    if (!shape_set_) return out;
    const std::size_t words = out.size();
    std::vector<int> which;
    for (std::uint32_t k = 0; k < texts.size(); ++k) {
        const std::string_view text = texts[k].text;
        which.clear();
        if (!shape_set_->Match(text, &which)) continue;
        for (int s : which) {
            const RE2& re = *shapes_[static_cast<std::size_t>(s)];
            re2::StringPiece input(text), m;
            int found = 0;
            while (!input.empty() && found++ < kMaxShapeMatches &&
                   re.Match(input, 0, input.size(), RE2::UNANCHORED, &m, 1)) {
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
    return out;
}

}  // namespace mm::classify
