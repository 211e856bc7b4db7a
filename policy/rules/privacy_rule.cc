#include "policy/rules/privacy_rule.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>

#include "policy/limits.h"
#include "policy/rules/spaced_contacts.h"
#include "policy/rules/text_normalize.h"
#include "util/address.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

// Local part and domain as mail clients write them, Unicode letters
// included (EAI); the domain is captured to recognise aliases.  No counted
// repetition of a Unicode class: RE2 expands it into a DFA that outgrows
// its memory budget.
const RE2& email_re() {
    static const RE2 re(
        R"([\p{L}\p{N}._%+\-!#$&'*/=?^`{|}~]+@((?:[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?\.)+\p{L}\p{L}+))");
    return re;
}

// Phone numbers in three shapes, one capture group each so the checks in
// plausible_phone() can depend on the shape:
//   1. international: +CC or 00CC, then digit groups ("+49 30 1234 5678",
//      "+1 (555) 123-4567", "+49 (0)30 1234567");
//   2. North American: "(555) 123-4567", "555-123-4567", "555.123.4567",
//      "1-800-555-1234", "555 123 4567";
//   3. national with a trunk 0: "030 1234567", "06 12 34 56 78",
//      "(030) 1234567", "01711234567".
// Order ids, dates, ZIP codes and tracking numbers are rejected afterwards,
// by the characters around a match and by its digit count: RE2 has no
// look-around, and one readable pattern per shape beats a clever one.
const RE2& phone_re() {
    static const RE2 re([] {
        // Between groups: a space, a dot, a slash or any dash, with up to
        // three blanks around it, or up to three blanks; a group may stand
        // in parentheses ("0176 (1234) 5678").
        const std::string sep =
            R"((?:[ \t]{0,3}[.\-/\x{2010}-\x{2015}\x{2212}][ \t]{0,3}|[ \t]{1,3})?)";
        return R"(((?:\+|00)[1-9]\d{0,3}(?:)" + sep + R"(\(0\))?(?:)" + sep +
               R"(\(?\d{1,5}\)?){1,7}))"
               R"(|(\(\d{3}\)[ .\-]?\d{3}[ .\-]\d{4}|(?:1[ .\-])?\d{3}[.\-]\d{3}[.\-]\d{4}|\d{3} \d{3} \d{4}))"
               R"(|(\(0[1-9]\d{0,4}\)[ ]?\d{2,8}(?:)" +
               sep + R"(\(?\d{2,8}\)?){0,4}|0[1-9]\d{0,4}(?:)" + sep + R"(\(?\d{2,8}\)?){1,5}))";
    }());
    return re;
}

// A leading day-month-year or year-month-day: "05.11.2026", "2026-11-23".
const RE2& date_re() {
    static const RE2 re(
        R"(\d{1,2}[./\-]\d{1,2}[./\-](?:\d{4}|\d{2})|\d{4}[./\-]\d{1,2}[./\-]\d{1,2})");
    return re;
}

// US ZIP+4 ("02134-1234"): the national shape would take it otherwise.
const RE2& zip4_re() {
    static const RE2 re(R"(\d{5}-\d{4})");
    return re;
}

bool is_alnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}
bool is_joiner(char c) {
    return c == '-' || c == '.' || c == '/' || c == ':' || c == ',';
}

bool is_letter(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

// Whether what stands before `begin` lets a phone number start there (the
// first half of stands_alone).  A label may be glued to it ("Tel:0176…",
// "Number,0176…", "_0176…_"); a word or a number joined by other
// punctuation is part of something longer ("AB-0301234567").
bool may_start_alone(std::string_view text, std::size_t begin) {
    if (begin == 0) return true;
    const char p = text[begin - 1];
    if (is_alnum(p) || p == '@' || p == '+') return false;
    if (begin == 1 || !is_alnum(text[begin - 2])) return true;
    if (p == '_') return false;
    if (p == ':' || p == ',') return is_letter(text[begin - 2]);
    return !is_joiner(p);
}

// Whether the word at `i` goes on as a name (a domain, a path, an
// address: "0301234567.example.com") rather than a sentence
// ("…5678.Thanks").
bool goes_on_as_name(std::string_view text, std::size_t i) {
    while (i < text.size() && is_alnum(text[i])) ++i;
    if (i + 1 >= text.size()) return false;
    const char c = text[i];
    return c == '/' || c == '@' || ((c == '.' || c == '-' || c == '_') && is_alnum(text[i + 1]));
}

// A phone number stands on its own: not glued to letters or digits ("1Z999AA10123456784"),
// not inside an address or a URL path, and not one group of a longer
// punctuated number ("123-1234567-1234567").
bool stands_alone(std::string_view text, std::size_t begin, std::size_t end) {
    if (!may_start_alone(text, begin)) return false;
    if (end + 1 >= text.size()) return end == text.size() || !is_alnum(text[end]);
    const char n = text[end], after = text[end + 1];
    if (is_alnum(n) || n == '@') return false;
    if (n == '_') return !is_alnum(after);
    if (!is_joiner(n) || !is_alnum(after)) return true;
    if (n == ',' || n == ':') return is_letter(after);
    if (n == '.') return is_letter(after) && !goes_on_as_name(text, end + 1);
    return false;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Whether a phone_re match can start at text[at], by its first two bytes:
// "+" and 1-9; "(" and a digit; a digit and a digit, or "1" and one of
// " .-" ("1-800-...").
// Whether one of the eight bytes of w is a digit, '+' or '(': a byte where a
// phone number can start.  Most eight-byte stretches of prose have none.
bool any_phone_start(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    const std::uint64_t low7 = w & ~high;
    const std::uint64_t digit =
        (low7 + ones * (0x80 - '0')) & ~(low7 + ones * (0x80 - '9' - 1)) & ~w & high;
    const auto has = [&](char c) {
        const std::uint64_t x = w ^ (ones * static_cast<unsigned char>(c));
        return (x - ones) & ~x & high;
    };
    return (digit | has('+') | has('(')) != 0;
}

bool may_start_phone(std::string_view text, std::size_t at) {
    if (at + 1 >= text.size()) return false;
    const char c = text[at], n = text[at + 1];
    if (c == '+') return n >= '1' && n <= '9';
    if (c == '(') return is_digit(n);
    if (!is_digit(c)) return false;
    return is_digit(n) || (c == '1' && (n == ' ' || n == '.' || n == '-'));
}

enum class Shape { international, north_american, national };

bool plausible_phone(std::string_view m, Shape shape) {
    int digits = 0;
    for (char c : m)
        if (c >= '0' && c <= '9') ++digits;
    if (shape == Shape::international) {
        // "(0)" is the trunk prefix written out for national callers; E.164
        // allows at most 15 digits.
        if (m.find("(0)") != std::string_view::npos) --digits;
        return digits >= 7 && digits <= 15;
    }
    if (shape == Shape::north_american) return true;  // the pattern fixes 10 or 11 digits
    if (digits < 8 || digits > 13) return false;
    re2::StringPiece sp(m.data(), m.size());
    if (RE2::FullMatch(sp, zip4_re())) return false;
    // A date followed by more groups of the same kind is a longer number
    // ("06.12.34.56.78"); a date followed by a space and a time is a date.
    re2::StringPiece rest = sp;
    if (!RE2::Consume(&rest, date_re())) return true;
    return !rest.empty() && rest[0] != ' ';
}

struct Span {
    std::size_t begin, end;
    const char* kind;
    bool replace;
    std::size_t domain = 0;  // an address's domain begins there
};

// Whether the address-shaped id at `begin` is an image's cid: source
// (src="cid:…", url(cid:…)): the id names the part the HTML shows, not a
// mailbox, and a reader never sees it.  A cid: URL anywhere else, a link's
// href above all, a client shows on hover: it is redacted as an address.
bool names_inline_image(std::string_view text, std::size_t begin) {
    if (begin < 4 || !iequals(text.substr(begin - 4, 4), "cid:")) return false;
    std::size_t p = begin - 4;
    if (p > 0 && (text[p - 1] == '"' || text[p - 1] == '\'')) --p;
    for (std::string_view lead : {"src=", "url("})
        if (p >= lead.size() && iequals(text.substr(p - lead.size(), lead.size()), lead))
            return true;
    return false;
}

// A text of addresses is refused at limits.max_redactions, before it is
// all kept, and a search over it checks the CPU budget as it goes.
class MatchBound {
public:
    void found(bool replace) {
        if (replace) check_redactions(++replaced_);
        if ((++matches_ & 255u) == 0) check_cpu_budget();
    }

private:
    std::size_t replaced_ = 0, matches_ = 0;
};

// Every address (aliases too, not to be replaced) and phone number in `text`.
std::vector<Span> find_contacts(std::string_view text, const RedactPolicy& policy,
                                const std::string& alias_domain, RedactSource source) {
    const re2::StringPiece input(text.data(), text.size());
    MatchBound bound;

    // Every address, aliases included, is found first: digits inside an
    // address ("order-0301234567@...") are never a phone number.
    std::vector<Span> spans;
    // The pattern needs an '@': most texts have none and skip its scan.
    if (text.find('@') != std::string_view::npos) {
        re2::StringPiece m[2];
        std::size_t pos = 0;
        while (pos < text.size() &&
               email_re().Match(input, pos, text.size(), RE2::UNANCHORED, m, 2)) {
            auto begin = static_cast<std::size_t>(m[0].data() - text.data());
            auto end = begin + m[0].size();
            std::string domain = to_lower(std::string_view(m[1].data(), m[1].size()));
            bool alias = !alias_domain.empty() && domain == alias_domain;
            const bool image = source == RedactSource::markup && names_inline_image(text, begin);
            spans.push_back({begin, end, "email", policy.emails && !alias && !image,
                             static_cast<std::size_t>(m[1].data() - text.data())});
            pos = end;
            bound.found(spans.back().replace);
        }
    }
    if (policy.phones) {
        re2::StringPiece m[4];
        std::size_t pos = 0;
        std::vector<Span> phones;
        // The match alone first: most candidates (digits glued to letters in
        // tracking numbers and URLs) fail stands_alone(), and only the ones
        // left need the groups, which cost RE2 a second, slower engine.  The
        // groups of the same span anchored at both ends are those of the
        // unanchored match (the pattern has no assertions on its context).
        while (pos < text.size()) {
            // RE2 searches from the first start that stands_alone() can
            // take, not from pos: a match starting before it would be
            // refused and only send the search on from its next byte.  So
            // the same matches are judged, with fewer calls and less text
            // scanned (tracking numbers, prose).
            std::size_t at = pos;
            for (std::size_t looked = at; at < text.size(); ++at) {
                if (at >= looked && at + 8 <= text.size()) {
                    std::uint64_t w;
                    std::memcpy(&w, text.data() + at, 8);
                    looked = at + 8;
                    if (!any_phone_start(w)) {
                        at += 7;
                        continue;
                    }
                }
                const auto c = static_cast<unsigned char>(text[at]);
                if (c > '9' || (c < '0' && c != '+' && c != '(')) continue;
                if (may_start_phone(text, at) && may_start_alone(text, at)) break;
            }
            if (at == text.size() ||
                !phone_re().Match(input, at, text.size(), RE2::UNANCHORED, m, 1))
                break;
            auto begin = static_cast<std::size_t>(m[0].data() - text.data());
            auto end = begin + m[0].size();
            bool in_email = std::any_of(spans.begin(), spans.end(), [&](const Span& s) {
                return begin < s.end && s.begin < end;
            });
            auto shape = [&] {
                phone_re().Match(input, begin, end, RE2::ANCHOR_BOTH, m, 4);
                return m[1].data()   ? Shape::international
                       : m[2].data() ? Shape::north_american
                                     : Shape::national;
            };
            if (!in_email && stands_alone(text, begin, end) &&
                plausible_phone(text.substr(begin, end - begin), shape())) {
                phones.push_back({begin, end, "phone", true});
                pos = end;
                bound.found(true);
            } else {
                // A rejected match may still hide a number that starts later.
                pos = begin + 1;
                bound.found(false);
            }
        }
        spans.insert(spans.end(), phones.begin(), phones.end());
    }
    return spans;
}

}  // namespace

std::vector<RedactSpan> find_redactions(std::string_view text, const RedactPolicy& policy,
                                        const std::string& marketplace_domain,
                                        RedactSource source) {
    const std::string alias_domain = to_lower(marketplace_domain);
    std::vector<Span> spans = find_contacts(text, policy, alias_domain, source);
    // Spread over blanks ("j o h n @ …", "0 1 7 6 …"), found in the text
    // with those closed and replaced where they stand.
    if (auto closed = close_spaced_contacts(text)) {
        for (const Span& c : find_contacts(closed->text, policy, alias_domain, source)) {
            if (!c.replace) continue;
            if (c.domain != 0 &&
                !ends_in_public_suffix(
                    std::string_view(closed->text).substr(c.domain, c.end - c.domain)))
                continue;
            const auto [b, e] = closed->map.source(c.begin, c.end);
            auto overlaps = [b = b, e = e](const Span& s) { return b < s.end && s.begin < e; };
            if (std::none_of(spans.begin(), spans.end(), overlaps))
                spans.push_back({b, e, c.kind, true});
        }
    }

    if (policy.emails) {
        MatchBound bound;
        for (const SpelledAddress& a : spelled_out_addresses(text))
            if (a.domain != alias_domain &&
                std::none_of(spans.begin(), spans.end(),
                             [&](const Span& s) { return a.begin < s.end && s.begin < a.end; })) {
                spans.push_back({a.begin, a.end, "email", true});
                bound.found(true);
            }
    }

    std::vector<RedactSpan> out;
    for (const Span& s : spans)
        if (s.replace) out.push_back({s.begin, s.end, s.kind});
    std::sort(out.begin(), out.end(),
              [](const RedactSpan& a, const RedactSpan& b) { return a.begin < b.begin; });
    return out;
}

RedactResult redact_text(std::string_view text, const RedactPolicy& policy,
                         const std::string& marketplace_domain, RedactSource source) {
    RedactResult out;
    const NormalizedText n = normalize_text(text, Normalize::characters);
    const std::vector<RedactSpan> spans =
        find_redactions(n.text, policy, marketplace_domain, source);
    if (spans.empty()) {
        out.text = std::string(text);
        return out;
    }
    out.text.reserve(text.size());
    std::size_t at = 0;
    for (const RedactSpan& s : spans) {
        auto [begin, end] = n.source_span(s.begin, s.end);
        begin = std::max(begin, at);
        out.text.append(text.substr(at, begin - at));
        out.text.append(policy.marker);
        out.redactions.push_back({s.kind, n.text.substr(s.begin, s.end - s.begin)});
        at = std::max(at, end);
    }
    out.text.append(text.substr(at));
    return out;
}

// ---- policy.yaml `privacy:` ------------------------------------------------

namespace {

using yaml::Entry;
using yaml::error_at;
using RKey = yaml::Key<RedactPolicy>;

void load_action(const Entry& e, RedactPolicy& p) {
    using A = RedactPolicy::Action;
    p.action = yaml::get_choice<A>(e, "action", {{"redact", A::redact}, {"reject", A::reject}});
}

// The marker goes into the message text: no control characters, so it cannot
// break a line or a header, and short.
void load_marker(const Entry& e, RedactPolicy& p) {
    std::string m = yaml::get_nonempty_string(e);
    if (m.size() > 100) error_at(e.value.Mark(), e.name + ": longer than 100 characters");
    if (std::any_of(m.begin(), m.end(), [](char c) {
            auto u = static_cast<unsigned char>(c);
            return u < 0x20 || u == 0x7f;
        }))
        error_at(e.value.Mark(), e.name + ": must not contain control characters");
    p.marker = std::move(m);
}

constexpr RKey kRedactKeys[] = {
    {"seller_to_buyer",
     false,
     yaml::load_flag<RedactPolicy, &RedactPolicy::seller_to_buyer>,
     {"true | false", "true",
      "Redact in messages sellers send (sellers may not give buyers their addresses or numbers)."}},
    {"buyer_to_seller",
     false,
     yaml::load_flag<RedactPolicy, &RedactPolicy::buyer_to_seller>,
     {"true | false", "false", "Redact in messages buyers send."}},
    {"emails",
     false,
     yaml::load_flag<RedactPolicy, &RedactPolicy::emails>,
     {"true | false", "true", "Redact email addresses that are not marketplace aliases."}},
    {"phones",
     false,
     yaml::load_flag<RedactPolicy, &RedactPolicy::phones>,
     {"true | false", "true", "Redact phone numbers."}},
    {"action",
     false,
     load_action,
     {"redact | reject", "redact",
      "redact replaces what was found by marker; reject refuses the message with 550 5.7.1."}},
    {"marker",
     false,
     load_marker,
     {"string, at most 100 characters, no control characters", "\"[redacted]\"",
      "What a redacted address or number is replaced by."}},
};

void load_redact(const Entry& e, RedactPolicy& p) {
    yaml::load_section<RedactPolicy>(e, kRedactKeys, p);
}

constexpr RKey kPrivacyKeys[] = {
    {"redact",
     false,
     load_redact,
     {"mapping", "",
      "Addresses and phone numbers in message text. Auto-replies are always redacted.",
      +[] { return yaml::describe<RedactPolicy>(kRedactKeys); }}},
};

}  // namespace

std::vector<yaml::KeyInfo> privacy_section_schema() {
    return yaml::describe<RedactPolicy>(kPrivacyKeys);
}

void load_privacy_section(const yaml::Entry& e, RedactPolicy& out) {
    yaml::load_section<RedactPolicy>(e, kPrivacyKeys, out);
}

}  // namespace mm::policy
