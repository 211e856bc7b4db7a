#include "policy/classify/tokenizer.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "policy/classify/text_fold.h"

namespace mm::classify {
namespace {

// After the '\n' at s[i]: whether only blanks stand before the next '\n'.
bool empty_line_follows(std::string_view s, std::size_t i) {
    for (std::size_t k = i + 1; k < s.size(); ++k) {
        char c = s[k];
        if (c == '\n') return true;
        if (c != ' ' && c != '\t' && c != '\r') return false;
    }
    return false;
}

// ASCII bytes by what the tokenizer does with them: a word character
// (kWord), an upper-case letter (kUpper), a byte that may end a sentence or
// a paragraph (kStop: '.', '!', '?', '\n'); bytes of 0x80 and more are
// kHigh (decoded).  Any other byte only separates words.
constexpr std::uint8_t kWord = 1, kUpper = 2, kStop = 4, kHigh = 8;
constexpr std::array<std::uint8_t, 256> kClass = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = kWord;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = kWord | kUpper;
    for (int c = '0'; c <= '9'; ++c) t[c] = kWord;
    for (char c : {'.', '!', '?', '\n'}) t[static_cast<unsigned char>(c)] = kStop;
    for (int c = 0x80; c < 0x100; ++c) t[c] = kHigh;
    return t;
}();

std::uint8_t class_of(char c) {
    return kClass[static_cast<unsigned char>(c)];
}

// Whether the character at s[i] is part of a word; `len` its length.
// ASCII, nearly every byte of the texts, needs no decoding.
bool word_at(std::string_view s, std::size_t i, std::size_t& len) {
    const std::uint8_t c = class_of(s[i]);
    if (!(c & kHigh)) {
        len = 1;
        return (c & kWord) != 0;
    }
    return is_word_char(decode_utf8(s, i, len));
}

struct Counters {
    std::uint32_t sentence = 0, paragraph = 0, message = 0;
    bool started = false;
};

// The distinct folded forms: an open-addressed table of (key, spelling
// index + 1, length), so that the lexicon and the language detection look each word
// up once per document, not once per token.
class Spellings {
public:
    std::uint32_t intern(Document& doc, std::string_view folded, std::uint32_t token) {
        if ((doc.spellings.size() + 1) * 2 > slots_.size()) grow();
        const std::size_t mask = slots_.size() - 1;
        const std::uint64_t k = key(folded);
        const auto len = static_cast<std::uint32_t>(folded.size());
        for (std::size_t i = slot_of(k) & mask;; i = (i + 1) & mask) {
            Slot& slot = slots_[i];
            if (slot.id == 0) {
                const auto id = static_cast<std::uint32_t>(doc.spellings.size());
                doc.spellings.push_back(token);
                slot = {k, id + 1, len};
                return id;
            }
            if (slot.key == k && slot.len == len &&
                (len <= kExactKey ||
                 doc.folded_of(doc.tokens[doc.spellings[slot.id - 1]]) == folded))
                return slot.id - 1;
        }
    }

private:
    // Up to this many bytes, key() holds every byte: equal keys and lengths
    // are equal words, with no comparison of the bytes.
    static constexpr std::size_t kExactKey = 8;

    // The bytes of a word in 64 bits: all of them up to 8 (two overlapping
    // 4-byte loads, or the bytes one by one below 4), else every 8 bytes
    // mixed in under a key drawn once per process.  Every byte counts, and
    // the key keeps a sender from choosing long words that share a slot:
    // with only some bytes in it (or a key known in advance), many distinct
    // words in one probe chain made a text quadratic.
    static std::uint64_t key(std::string_view s) {
        const char* p = s.data();
        const std::size_t n = s.size();
        auto load32 = [](const char* q) {
            std::uint32_t v;
            std::memcpy(&v, q, 4);
            return std::uint64_t{v};
        };
        auto load64 = [](const char* q) {
            std::uint64_t v;
            std::memcpy(&v, q, 8);
            return v;
        };
        if (n > 8) {
            std::uint64_t h = process_key() ^ n;
            for (std::size_t i = 0;; i += 8) {
                // The last load overlaps the one before: the word's last 8.
                h = mix(h ^ load64(p + std::min(i, n - 8)));
                if (i + 8 >= n) return h;
            }
        }
        if (n == 8) return load64(p);
        if (n >= 4) return load32(p) << 32 | load32(p + n - 4);
        if (n == 0) return 0;
        const auto byte = [&](std::size_t k) {
            return std::uint64_t{static_cast<unsigned char>(p[k])};
        };
        return byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16;
    }
    static std::uint64_t mix(std::uint64_t h) {
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 32;
        h *= 0xD6E8FEB86659FD93ull;
        return h ^ (h >> 32);
    }
    static std::uint64_t process_key() {
        static const std::uint64_t key = [] {
            std::uint64_t k = 0;
            if (getrandom(&k, sizeof k, 0) != static_cast<ssize_t>(sizeof k))
                k = static_cast<std::uint64_t>(
                    std::chrono::steady_clock::now().time_since_epoch().count());
            return k;
        }();
        return key;
    }
    static std::size_t slot_of(std::uint64_t k) {
        return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> 40);
    }

    struct Slot {
        std::uint64_t key = 0;
        std::uint32_t id = 0, len = 0;
    };
    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 256 : old.size() * 2, Slot{});
        const std::size_t mask = slots_.size() - 1;
        for (const Slot& s : old) {
            if (s.id == 0) continue;
            std::size_t i = slot_of(s.key) & mask;
            while (slots_[i].id != 0) i = (i + 1) & mask;
            slots_[i] = s;
        }
    }
    std::vector<Slot> slots_;
};

// One text's tokens, appended to the document.
class TextTokenizer {
public:
    TextTokenizer(std::string_view s, std::uint32_t index, Document& doc, Counters& n,
                  Spellings& spellings, BudgetStride& budget, std::size_t max_tokens)
        : s_(s),
          index_(index),
          doc_(doc),
          n_(n),
          spellings_(spellings),
          budget_(budget),
          max_tokens_(max_tokens) {}

    void run() {
        const std::string_view s = s_;
        const std::size_t size = s.size();
        for (std::size_t i = 0; i < size;) {
            const std::uint8_t c = class_of(s[i]);
            if (c == 0) {
                ++i;
                continue;
            }
            if (c & kWord) {
                // Most words are ASCII, followed by an ASCII byte.
                std::uint8_t bits = c;
                std::size_t e = i + 1;
                for (std::uint8_t b; e < size && ((b = class_of(s[e])) & kWord); ++e) bits |= b;
                if (e == size || !(class_of(s[e]) & kHigh)) {
                    emit(i, e, (bits & kUpper) ? Fold::lower : Fold::none);
                    i = e;
                } else {
                    i = any_word(i);
                }
                continue;
            }
            if (c & kStop) {
                stop(i);
                ++i;
                continue;
            }
            std::size_t len = 1;
            if (is_word_char(decode_utf8(s, i, len)))
                i = any_word(i);
            else
                i += len;
        }
    }

private:
    // How a token's folded form is made: it is the text itself (lower-case
    // ASCII), the text lower-cased (ASCII), or fold_word's.
    enum class Fold : std::uint8_t { none, lower, word };

    // A sentence ends at '.', '!' or '?' not followed by a word character, a
    // paragraph at a '\n' that an empty line follows.
    void stop(std::size_t i) {
        const std::string_view s = s_;
        if (s[i] != '\n') {
            std::size_t next_len = 1;
            if (!(i + 1 < s.size() && word_at(s, i + 1, next_len))) pending_sentence_ = true;
        } else if (empty_line_follows(s, i)) {
            pending_paragraph_ = true;
        }
    }

    // A word with non-ASCII characters (or going on past ASCII) from s[i];
    // returns where it ends.
    std::size_t any_word(std::size_t i) {
        const std::size_t start = i;
        bool ascii = true;
        std::size_t len = 1;
        while (i < s_.size() && word_at(s_, i, len)) {
            ascii = ascii && len == 1;
            i += len;
        }
        emit(start, i, ascii ? Fold::lower : Fold::word);
        return i;
    }

    void emit(std::size_t begin, std::size_t end, Fold fold) {
        if (any_) {
            if (pending_paragraph_) {
                ++n_.paragraph;
                ++n_.sentence;
            } else if (pending_sentence_) {
                ++n_.sentence;
            }
        }
        pending_sentence_ = pending_paragraph_ = false;
        any_ = true;
        std::string& folded = doc_.folded;
        const auto fold_begin = static_cast<std::uint32_t>(folded.size());
        const std::string_view word = s_.substr(begin, end - begin);
        std::string_view form = word;
        if (fold != Fold::none) {
            if (fold == Fold::lower) {
                folded.append(word);
                for (std::size_t k = fold_begin; k < folded.size(); ++k)
                    if (class_of(folded[k]) & kUpper) folded[k] = static_cast<char>(folded[k] + 32);
            } else {
                fold_word(word, folded);
            }
            form = std::string_view(folded).substr(fold_begin);
        }
        const auto id = static_cast<std::uint32_t>(doc_.tokens.size());
        Token& t = doc_.tokens.emplace_back();
        t.text = index_;
        t.begin = static_cast<std::uint32_t>(begin);
        t.end = static_cast<std::uint32_t>(end);
        t.fold_begin = fold_begin;
        t.fold_end = static_cast<std::uint32_t>(folded.size());
        t.sentence = n_.sentence;
        t.paragraph = n_.paragraph;
        t.message = n_.message;
        t.in_text = fold == Fold::none;
        t.spelling = spellings_.intern(doc_, form, id);
        if (doc_.tokens.size() > max_tokens_) throw TooManyWords(max_tokens_);
        budget_.tick();
    }

    std::string_view s_;
    std::uint32_t index_;
    Document& doc_;
    Counters& n_;
    Spellings& spellings_;
    BudgetStride& budget_;
    std::size_t max_tokens_;
    bool pending_sentence_ = false, pending_paragraph_ = false, any_ = false;
};

void tokenize_one(std::string_view s, std::uint32_t index, Document& doc, Counters& n,
                  Spellings& spellings, bool join_message, BudgetStride& budget,
                  std::size_t max_tokens) {
    if (n.started) {
        ++n.sentence;
        ++n.paragraph;
        if (!join_message) ++n.message;
    }
    n.started = true;
    TextTokenizer(s, index, doc, n, spellings, budget, max_tokens).run();
}

}  // namespace

Document tokenize(std::span<const TextInput> texts, const WorkBounds& bounds) {
    Document doc;
    std::size_t bytes = 0;
    for (const TextInput& t : texts) {
        bytes += t.text.size();
        doc.texts.push_back(t.text);
    }
    // About one word in six bytes of prose.
    doc.tokens.reserve(std::min(bytes / 6, bounds.max_tokens) + 8);
    Counters n;
    Spellings spellings;
    bool after_subject = false;
    BudgetStride budget(bounds.check);
    for (std::size_t k = 0; k < texts.size(); ++k) {
        budget.now();
        tokenize_one(texts[k].text, static_cast<std::uint32_t>(k), doc, n, spellings, after_subject,
                     budget, bounds.max_tokens);
        after_subject = texts[k].subject;
    }
    return doc;
}

std::vector<std::string> fold_words(std::string_view text) {
    const TextInput in{text, false};
    Document doc = tokenize(std::span<const TextInput>(&in, 1));
    std::vector<std::string> out;
    for (const Token& t : doc.tokens) out.emplace_back(doc.folded_of(t));
    return out;
}

}  // namespace mm::classify
