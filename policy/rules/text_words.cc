#include "policy/rules/text_words.h"

#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/rules/text_classes.h"

namespace mm::policy::text {
namespace {

// A one-letter word of our languages that may stand before a spaced word.
bool is_article(std::string_view s, std::size_t i) {
    switch (decode_at(s, i).c) {
        case 'a':
        case 'e':
        case 'i':
        case 'o':
        case 'u':
        case 'y':
        case 0xE0:  // à
        case 0xE8:  // è
            return true;
        default:
            return false;
    }
}

bool horizontal_space(char c) {
    return c == ' ' || c == '\t';
}

// A letter-spaced word: where its members (single characters) start.  They
// are separated alike: by the same run of spaces and tabs, or by the same
// one of . - _ * / · •.
using Run = std::vector<std::size_t>;

class RunFinder {
public:
    explicit RunFinder(std::string_view t) : t_(t) {}

    std::vector<Run> find() const {
        std::vector<Run> runs;
        bool prev_word = false;
        for (std::size_t i = 0; i < t_.size();) {
            const CharClass k = class_at(t_, i);
            if (is_member(k.bits) && !prev_word) {
                std::size_t last = i;
                Run run = run_at(i, last);
                if (!run.empty()) {
                    i = end_of(run.back());
                    runs.push_back(std::move(run));
                    prev_word = true;
                    continue;
                }
                // The members of a chain that is no spaced word start no
                // other, but for its last (another separator may follow it):
                // scanning each again would be quadratic ("1 1 1 …").
                if (last > i) {
                    i = last;
                    continue;
                }
            }
            prev_word = is_word(k.bits);
            i += k.len;
        }
        return runs;
    }

    std::size_t end_of(std::size_t member) const { return member + single_at(member); }

    // Whether members [from, ...) are a spaced word: at least three letters,
    // and more letters than digits (so "3 x 4" stays apart).
    bool spaced_word(const Run& run, std::size_t from) const {
        int letters = 0, others = 0;
        for (std::size_t k = from; k < run.size(); ++k)
            ++(swappable(t_[run[k]]) ? others : letters);
        return letters >= 3 && others < letters;
    }

    // Whether the run's members are separated by spaces (not punctuation).
    bool spaced(const Run& run) const {
        const std::size_t e = end_of(run[0]);
        return e < t_.size() && horizontal_space(t_[e]);
    }

private:
    // The length of a character standing alone at i (nothing word-like
    // after it), or 0.
    std::size_t single_at(std::size_t i) const {
        if (i >= t_.size()) return 0;
        const CharClass k = class_at(t_, i);
        if (!is_member(k.bits)) return 0;
        if (i + k.len < t_.size() && is_word(class_at(t_, i + k.len).bits)) return 0;
        return k.len;
    }

    // The length of a separator at i, or 0.
    std::size_t separator_at(std::size_t i) const {
        if (i >= t_.size()) return 0;
        if (horizontal_space(t_[i])) {
            std::size_t e = i;
            while (e < t_.size() && horizontal_space(t_[e])) ++e;
            return e - i;
        }
        const CharClass k = class_at(t_, i);
        return (k.bits & kSep) != 0 ? k.len : 0;
    }

    // The spaced word from i: the latest members of the chain of singles
    // that starts there that are one.  Empty if none; `last` is then the
    // chain's last member.
    Run run_at(std::size_t i, std::size_t& last) const {
        Run run;
        std::size_t len = single_at(i);
        if (len == 0) return run;
        run.push_back(i);
        i += len;
        const std::size_t sep_len = separator_at(i);
        if (sep_len == 0) return {};
        const std::string_view sep = t_.substr(i, sep_len);
        while (t_.compare(i, sep_len, sep) == 0 && (len = single_at(i + sep_len)) != 0) {
            i += sep_len;
            run.push_back(i);
            i += len;
        }
        // Punctuation needs four: "e.g.", "U.S.A." and "a-b" stay.
        const std::size_t least = horizontal_space(sep[0]) ? 3 : 4;
        int letters = 0, others = 0;
        std::size_t first = run.size();
        for (std::size_t k = run.size(); k-- > 0;) {
            ++(swappable(t_[run[k]]) ? others : letters);
            if (letters >= 3 && others < letters && run.size() - k >= least) first = k;
        }
        if (first == run.size()) {
            last = run.back();
            return {};
        }
        run.erase(run.begin(), run.begin() + static_cast<std::ptrdiff_t>(first));
        return run;
    }

    std::string_view t_;
};

// ---- edits inside words -----------------------------------------------------------

bool letter_or_digit_before(std::string_view t, std::size_t i) {
    return letter_before(t, i) || (i > 0 && swappable(t[i - 1]));
}

// An edit at t[i]: `len` bytes read as `with` (nothing when 0).
struct Edit {
    std::size_t len = 0;
    char with = 0;
};

// A word hyphenated at a line break ("re-⏎view"), "\/" between letters as a
// "v", "vv" after a letter as a "w".
Edit edit_at(std::string_view t, std::size_t i) {
    const char c = t[i];
    if (c == '-') {
        std::size_t j = i + 1;
        if (j < t.size() && t[j] == '\r') ++j;
        if (j >= t.size() || t[j] != '\n' || !letter_before(t, i)) return {};
        ++j;
        while (j < t.size() && horizontal_space(t[j])) ++j;
        return letter_at(t, j) ? Edit{j - i, 0} : Edit{};
    }
    if (c == '\\' && i + 2 < t.size() && t[i + 1] == '/' && letter_or_digit_before(t, i) &&
        (letter_at(t, i + 2) || swappable(t[i + 2])))
        return {2, 'v'};
    // Inside a word "vv" is Italian ("davvero", "avviso"): only at a word's
    // end or start.
    if (c == 'v' && i + 1 < t.size() && t[i + 1] == 'v') {
        const bool before = letter_or_digit_before(t, i);
        const bool after = letter_at(t, i + 2) || (i + 2 < t.size() && swappable(t[i + 2]));
        if (before != after) return {2, 'w'};
    }
    return {};
}

// Where an edit may start at or after i (before e), else e.
std::size_t next_candidate(std::string_view t, std::size_t i, std::size_t e) {
    for (; i < e; ++i) {
        const char c = t[i];
        if (c == '-' || c == '\\' || c == 'v') return i;
    }
    return e;
}

// Whether `t` has an edit at all.  Most texts have none: the look is
// memchr's, for the hyphens, the backslashes and the "vv"s.
bool has_edits(std::string_view t) {
    for (char c : {'-', '\\'})
        for (std::size_t i = t.find(c); i != std::string_view::npos; i = t.find(c, i + 1))
            if (edit_at(t, i).len != 0) return true;
    for (std::size_t i = t.find("vv"); i != std::string_view::npos; i = t.find("vv", i + 1))
        if (edit_at(t, i).len != 0) return true;
    return false;
}

class Writer {
public:
    Writer(std::string_view t, bool edits, std::string& out, OffsetMap& map)
        : t_(t), edits_(edits), out_(out), map_(map) {}

    // Copies t[b, e) with its edits made.
    void copy(std::size_t b, std::size_t e) {
        std::size_t from = b;
        for (std::size_t i = edits_ ? next_candidate(t_, b, e) : e; i < e;) {
            const Edit edit = edit_at(t_, i);
            if (edit.len == 0 || i + edit.len > e) {
                i = next_candidate(t_, i + 1, e);
                continue;
            }
            verbatim(from, i);
            if (edit.with != 0) out_.push_back(edit.with);
            map_.add(edit.len, edit.with != 0 ? 1 : 0, false);
            from = i + edit.len;
            i = next_candidate(t_, from, e);
        }
        verbatim(from, e);
    }

    void verbatim(std::size_t b, std::size_t e) {
        out_.append(t_.data() + b, e - b);
        map_.add(e - b, e - b, true);
    }

    std::string& out() { return out_; }
    OffsetMap& map() { return map_; }

private:
    std::string_view t_;
    bool edits_;
    std::string& out_;
    OffsetMap& map_;
};

// Writes `t` with its runs joined: a run without its separators (after its
// first member when that is read as a word of its own), the spaces between
// two runs as one.  Returns whether a run began with a one-letter word.
bool join_runs(std::string_view t, const RunFinder& finder, const std::vector<Run>& runs,
               bool article_apart, Writer& w) {
    bool article = false;
    std::size_t from = 0;
    for (std::size_t r = 0; r < runs.size(); ++r) {
        const Run& run = runs[r];
        const bool apart = run.size() >= 4 && finder.spaced(run) && is_article(t, run[0]) &&
                           finder.spaced_word(run, 1);
        article = article || apart;
        w.copy(from, run[0]);
        std::size_t k = 0;
        if (apart) {  // the one-letter word keeps its own place, read apart or not
            const std::size_t end = finder.end_of(run[0]);
            w.verbatim(run[0], end);
            if (article_apart)
                w.verbatim(end, run[1]);
            else
                w.map().add(run[1] - end, 0, false);
            k = 1;
        }
        // The joined letters are one piece of the map, not two a letter: a
        // word inside them maps to all of them, and ten megabytes of "a a a"
        // cost the map one entry.
        const std::size_t joined_from = run[k];
        std::size_t joined = 0;
        for (; k < run.size(); ++k) {
            const std::size_t end = finder.end_of(run[k]);
            w.out().append(t.data() + run[k], end - run[k]);
            joined += end - run[k];
            from = end;
        }
        w.map().add(from - joined_from, joined, false);
        if (r + 1 < runs.size()) {
            const std::size_t next = runs[r + 1][0];
            const std::string_view gap = t.substr(from, next - from);
            if (gap.size() >= 2 && gap.find_first_not_of(" \t") == std::string_view::npos) {
                w.out().push_back(' ');
                w.map().add(gap.size(), 1, false);
                from = next;
            }
        }
    }
    w.copy(from, t.size());
    return article;
}

// An address's '@' stays: "paypal@shop.example" is not "paypalashop".
bool starts_a_domain(std::string_view s, std::size_t i) {
    for (; i + 1 < s.size(); ++i) {
        char c = s[i];
        if (c == '.') return letter_at(s, i + 1);
        if (!is_word(class_at(s, i).bits) && c != '-') return false;
    }
    return false;
}

// Digits, '@', '!' and '|' between two letters as the letters they stand
// for, in place; true if a '1', '!' or '|' was one of them.  A '9' is a "g"
// alone: "1Z999AA" is a code.
bool swap_digits(std::string& s, char one) {
    bool ones = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!swappable(s[i])) continue;
        std::size_t e = i + 1;
        while (e < s.size() && swappable(s[e])) ++e;
        const auto run = std::string_view(s).substr(i, e - i);
        if (letter_before(s, i) && letter_at(s, e) &&
            !(run.find('@') != std::string_view::npos && starts_a_domain(s, e)) &&
            (e - i == 1 || run.find('9') == std::string_view::npos)) {
            for (std::size_t k = i; k < e; ++k) {
                static constexpr std::string_view from = "0345@9", to = "oeasag";
                if (s[k] == '1' || s[k] == '!' || s[k] == '|') {
                    ones = true;
                    s[k] = one;
                } else if (s[k] == '7') {
                    s[k] = 't';
                } else {
                    s[k] = to[from.find(s[k])];
                }
            }
        }
        i = e;
    }
    return ones;
}

}  // namespace

void words_pass(std::string chars, WordsHints hints, Reading reading, NormalizedText& n) {
    const RunFinder finder(chars);
    const std::vector<Run> runs = hints.maybe_run ? finder.find() : std::vector<Run>{};
    const bool edits = has_edits(chars);
    if (runs.empty() && !edits) {
        n.text = std::move(chars);
    } else {
        n.text.reserve(chars.size());
        Writer w(chars, edits, n.text, n.words);
        n.run_after_article = join_runs(chars, finder, runs, reading.article_apart, w);
    }
    // A run joined, or an edit, puts letters next to digits the scout saw apart.
    if (!hints.maybe_swap && runs.empty() && !edits) return;
    n.one_as_letter = swap_digits(n.text, reading.one);
}

}  // namespace mm::policy::text
