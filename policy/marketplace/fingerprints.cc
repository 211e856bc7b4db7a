#include "policy/marketplace/fingerprints.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <vector>

#include "policy/marketplace/marketplace_common.h"
#include "util/hex.h"

namespace mm::policy {
namespace {

using marketplace_detail::trim;

// ASCII and Latin-1 capitals (UTF-8 C3 80..C3 9E, except the multiplication
// sign C3 97) to lower case.
std::string lower_utf8(std::string_view s) {
    std::string out(s);
    for (size_t i = 0; i < out.size(); ++i) {
        auto c = static_cast<unsigned char>(out[i]);
        if (c >= 'A' && c <= 'Z')
            out[i] = static_cast<char>(c + 32);
        else if (c == 0xC3 && i + 1 < out.size()) {
            auto d = static_cast<unsigned char>(out[i + 1]);
            if (d >= 0x80 && d <= 0x9E && d != 0x97) out[i + 1] = static_cast<char>(d + 0x20);
            ++i;
        }
    }
    return out;
}

// Letters and digits kept (bytes >= 0x80 are parts of letters), everything
// else one space.
std::string words_only(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80;
        if (keep)
            out.push_back(ch);
        else if (!out.empty() && out.back() != ' ')
            out.push_back(' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

bool starts_with_word(std::string_view line, std::string_view word) {
    if (line.size() < word.size() || line.substr(0, word.size()) != word) return false;
    if (line.size() == word.size()) return true;
    auto c = static_cast<unsigned char>(line[word.size()]);
    return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c >= 0x80);
}

// Lower-case greetings that open a first line (en, de, fr, it, es).
constexpr std::array<std::string_view, 40> kGreetings = {
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "greetings",
    "hallo",
    "liebe",
    "lieber",
    "sehr geehrte",
    "guten tag",
    "guten morgen",
    "guten abend",
    "moin",
    "servus",
    "grüß gott",
    "bonjour",
    "bonsoir",
    "salut",
    "cher",
    "chère",
    "madame",
    "monsieur",
    "ciao",
    "salve",
    "buongiorno",
    "buonasera",
    "gentile",
    "caro",
    "cara",
    "egregio",
    "hola",
    "buenos días",
    "buenos dias",
    "buenas tardes",
    "estimado",
    "estimada",
    "querido",
};

// Lower-case closings, compared with the whole line reduced to words.
constexpr std::array<std::string_view, 44> kClosings = {
    "best regards",
    "kind regards",
    "regards",
    "warm regards",
    "best",
    "thanks",
    "thank you",
    "many thanks",
    "cheers",
    "sincerely",
    "yours sincerely",
    "best wishes",
    "yours",
    "mit freundlichen grüßen",
    "mit freundlichen grüssen",
    "freundliche grüße",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "gruß",
    "grüße",
    "danke",
    "vielen dank",
    "cordialement",
    "bien cordialement",
    "salutations",
    "merci",
    "bien à vous",
    "merci beaucoup",
    "cordiali saluti",
    "distinti saluti",
    "saluti",
    "grazie",
    "un saluto",
    "grazie mille",
    "atentamente",
    "saludos",
    "un saludo",
    "saludos cordiales",
    "gracias",
    "muchas gracias",
    "un cordial saludo",
    "best regards from",
    "regards from",
};

bool is_closing(std::string_view words) {
    return std::find(kClosings.begin(), kClosings.end(), words) != kClosings.end();
}

// "On Mon, 1 Jan 2026, Bob wrote:" and its translations: the line that
// introduces a quote.
bool is_attribution(std::string_view line) {
    static constexpr std::array<std::string_view, 6> kEnds = {
        "wrote:", "schrieb:", "a écrit :", "a écrit:", "ha scritto:", "escribió:"};
    for (std::string_view e : kEnds)
        if (line.size() >= e.size() && line.substr(line.size() - e.size()) == e) return true;
    return false;
}

// A signature block ends the message: at most this many lines after it.
constexpr size_t kSignatureMaxLines = 8;

// The lines that count: up to a "-- " signature separator, without quoted
// lines and quote attributions, lower-cased and trimmed.
std::vector<std::string> unquoted_lines(std::string_view text) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view raw =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        // "-- " is the signature separator; compare before trimming.
        std::string_view no_cr = raw;
        if (!no_cr.empty() && no_cr.back() == '\r') no_cr.remove_suffix(1);
        if (no_cr == "-- " || no_cr == "--") break;
        std::string_view t = trim(raw);
        if (!t.empty() && t.front() == '>') continue;
        std::string lower = lower_utf8(t);
        if (is_attribution(lower)) continue;
        lines.push_back(std::move(lower));
    }
    return lines;
}

// A closing line near the end cuts it and the rest.
void drop_signature(std::vector<std::string>& lines) {
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines.size() - i > kSignatureMaxLines + 1) continue;
        if (is_closing(words_only(lines[i]))) {
            lines.resize(i);
            break;
        }
    }
}

// The opening of the first non-empty line, up to its first ',', '!' or ':'
// (the whole line when it has none).
void drop_greeting(std::vector<std::string>& lines) {
    for (std::string& line : lines) {
        if (line.empty()) continue;
        for (std::string_view g : kGreetings) {
            if (!starts_with_word(line, g)) continue;
            size_t cut = line.find_first_of(",!:");
            line = cut == std::string::npos ? std::string() : line.substr(cut + 1);
            break;
        }
        break;
    }
}

}  // namespace

std::string normalize_for_fingerprint(std::string_view text) {
    std::vector<std::string> lines = unquoted_lines(text);
    drop_signature(lines);
    drop_greeting(lines);
    std::string joined;
    for (const std::string& line : lines) {
        joined += line;
        joined += ' ';
    }
    return words_only(joined);
}

std::string fingerprint(std::string_view text) {
    std::string norm = normalize_for_fingerprint(text);
    if (norm.empty()) return "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(norm.data(), norm.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
    return to_hex(md, len);
}

}  // namespace mm::policy
