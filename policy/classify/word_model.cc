#include "policy/classify/word_model.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "policy/classify/rule_set.h"
#include "util/file.h"

namespace mm::classify {
namespace {

// A model is a few thousand lines; a file far larger is a mistake.
constexpr std::size_t kMaxModelBytes = 16u << 20;

constexpr std::uint64_t kFnvBasis = 0xCBF29CE484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001B3ull;

std::uint64_t finish(std::uint64_t h, bool prefix) {
    h ^= prefix ? 0x9E3779B97F4A7C15ull : 0;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
}

// The hashes of a word and of its prefix feature in one pass over its
// bytes: the prefix's is the state after its last character.  `prefix_end`
// is 0 when the word has no prefix feature.
struct WordHash {
    std::uint64_t word = 0, prefix = 0;
    std::size_t prefix_end = 0;
    bool digits_only = true;
};

WordHash hash_word(std::string_view w) {
    WordHash out;
    std::uint64_t h = kFnvBasis;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const auto c = static_cast<unsigned char>(w[i]);
        out.digits_only = out.digits_only && c >= '0' && c <= '9';
        // A character starts at every byte that is not a UTF-8 continuation.
        if ((c & 0xC0) != 0x80 && chars++ == kModelPrefixChars) {
            out.prefix = h;
            out.prefix_end = i;
        }
        h = (h ^ c) * kFnvPrime;
    }
    out.word = finish(h, false);
    out.prefix = out.prefix_end != 0 ? finish(out.prefix, true) : 0;
    return out;
}

// A feature's key as hash_word() hashes it in a word.
std::uint64_t hash_key(std::string_view key, bool prefix) {
    std::uint64_t h = kFnvBasis;
    for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * kFnvPrime;
    return finish(h, prefix);
}

std::size_t char_count(std::string_view s) {
    std::size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

}  // namespace

void WordModel::grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
        if (!s.used) continue;
        std::size_t i = static_cast<std::size_t>(s.hash) & mask;
        while (slots_[i].used) i = (i + 1) & mask;
        slots_[i] = s;
    }
}

bool WordModel::insert(std::string_view key, bool prefix, float weight) {
    const std::uint64_t k = hash_key(key, prefix);
    if (find(k, key, prefix) != nullptr) return false;
    if ((entries_ + 1) * 2 > slots_.size()) grow();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = static_cast<std::size_t>(k) & mask;; i = (i + 1) & mask)
        if (!slots_[i].used) {
            slots_[i] = {k,
                         static_cast<std::uint32_t>(keys_.size()),
                         static_cast<std::uint32_t>(key.size()),
                         prefix ? static_cast<std::uint32_t>(prefix_entries_++) : 0,
                         weight,
                         true,
                         prefix};
            keys_.append(key);
            ++entries_;
            return true;
        }
}

const WordModel::Slot* WordModel::find(std::uint64_t hash, std::string_view key,
                                       bool prefix) const {
    if (slots_.empty()) return nullptr;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = static_cast<std::size_t>(hash) & mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (!s.used) return nullptr;
        if (s.hash == hash && s.prefix == prefix &&
            std::string_view(keys_).substr(s.key, s.key_len) == key)
            return &s;
    }
}

float WordModel::weight(std::string_view feature) const {
    if (feature.size() < 2 || feature[1] != ':') return 0;
    const bool prefix = feature[0] == 'p';
    const std::string_view key = feature.substr(2);
    const Slot* s = find(hash_key(key, prefix), key, prefix);
    return s != nullptr ? s->weight : 0;
}

Result<std::shared_ptr<const WordModel>> WordModel::parse(std::string_view text,
                                                          const std::string& where) {
    std::shared_ptr<WordModel> m(new WordModel());
    // The table grows with the entries read, at most half full, so a large
    // file of anything else costs no memory.
    m->slots_.resize(16);
    bool have_bias = false;
    std::size_t number = 0;
    for (std::size_t pos = 0; pos <= text.size();) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        const std::string at = where + ":" + std::to_string(number);
        auto bad = [&](std::size_t col, const std::string& why) {
            return fail(Errc::invalid,
                        at + (col != 0 ? ":" + std::to_string(col) : "") + ": " + why);
        };
        const std::size_t tab = line.find('\t');
        if (tab == std::string_view::npos || line.find('\t', tab + 1) != std::string_view::npos)
            return bad(0, "expected FEATURE<TAB>WEIGHT");
        const std::string_view name = line.substr(0, tab);
        const std::string value(line.substr(tab + 1));
        char* end = nullptr;
        errno = 0;
        const double w = std::strtod(value.c_str(), &end);
        if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE ||
            !std::isfinite(w) || !std::isfinite(static_cast<float>(w)))
            return bad(tab + 2, "weight is not a finite number: '" + value + "'");
        if (name == "bias") {
            if (have_bias) return bad(1, "second bias");
            have_bias = true;
            m->bias_ = w;
            continue;
        }
        const bool prefix = name.starts_with("p:");
        if (!prefix && !name.starts_with("w:"))
            return bad(1, "expected bias, w:WORD or p:PREFIX, got '" + std::string(name) + "'");
        const std::string_view key = name.substr(2);
        if (key.empty()) return bad(3, "empty feature");
        if (prefix && char_count(key) != kModelPrefixChars)
            return bad(3, "a prefix has " + std::to_string(kModelPrefixChars) + " characters");
        if (!m->insert(key, prefix, static_cast<float>(w)))
            return bad(1, "duplicate feature '" + std::string(name) + "'");
    }
    if (!have_bias) return fail(Errc::invalid, where + ":1: no bias line");
    return std::shared_ptr<const WordModel>(std::move(m));
}

Result<std::shared_ptr<const WordModel>> WordModel::load_file(const std::string& path) {
    auto text = read_file_bounded(path, kMaxModelBytes);
    if (!text) return fail(Errc::invalid, path + ": " + text.error().message);
    return parse(text.value(), path);
}

WordModel::Weighed WordModel::weigh(const Document& doc) const {
    Weighed out;
    out.spellings.resize(doc.spellings.size());
    // A prefix entry's ordinal -> its id in this document + 1 (0: none yet).
    std::vector<std::uint32_t> ids(prefix_entries_, 0);
    for (std::size_t s = 0; s < doc.spellings.size(); ++s) {
        const std::string_view w = doc.folded_of(doc.tokens[doc.spellings[s]]);
        const WordHash h = hash_word(w);
        if (h.digits_only) continue;
        Spelling& sp = out.spellings[s];
        if (const Slot* slot = find(h.word, w, false)) {
            sp.word = slot->weight;
            out.total += slot->weight;
        }
        if (h.prefix_end == 0) continue;
        const Slot* slot = find(h.prefix, w.substr(0, h.prefix_end), true);
        if (slot == nullptr) continue;
        std::uint32_t& id = ids[slot->ordinal];
        if (id == 0) {
            id = static_cast<std::uint32_t>(++out.prefixes);
            out.total += slot->weight;
        }
        sp.prefix = slot->weight;
        sp.prefix_id = static_cast<std::int32_t>(id - 1);
    }
    return out;
}

std::vector<std::string> word_features(std::string_view folded) {
    const WordHash h = hash_word(folded);
    if (h.digits_only || folded.empty()) return {};
    std::vector<std::string> out{"w:" + std::string(folded)};
    if (h.prefix_end != 0) out.push_back("p:" + std::string(folded.substr(0, h.prefix_end)));
    return out;
}

std::vector<std::vector<std::string>> unit_features(const Document& doc, Scope scope) {
    std::vector<std::vector<std::string>> out;
    std::vector<std::uint32_t> seen(doc.spellings.size(), 0);  // unit + 1
    bool started = false;
    std::uint32_t unit = 0;
    for (const Token& t : doc.tokens) {
        const std::uint32_t u = unit_of(t, scope);
        if (!started || u != unit) {
            out.emplace_back();
            started = true;
            unit = u;
        }
        if (seen[t.spelling] == u + 1) continue;
        seen[t.spelling] = u + 1;
        for (std::string& f : word_features(doc.folded_of(t)))
            if (std::find(out.back().begin(), out.back().end(), f) == out.back().end())
                out.back().push_back(std::move(f));
    }
    std::erase_if(out, [](const auto& u) { return u.empty(); });
    return out;
}

}  // namespace mm::classify
