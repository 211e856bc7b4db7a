#include "policy/marketplace/marketplace_rules.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "util/address.h"
#include "util/hex.h"

namespace mm::policy {
namespace {

using alias::Role;

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kHour = 3600;
constexpr size_t kReplyMaxChars = 480;
constexpr size_t kOrderIdMaxChars = 64;

RE2::Options regex_options() {
    RE2::Options o;
    o.set_encoding(RE2::Options::EncodingUTF8);
    o.set_case_sensitive(false);
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);
    return o;
}

std::shared_ptr<const RE2> default_order_re() {
    static const std::shared_ptr<const RE2> re =
        std::make_shared<const RE2>(std::string(kDefaultOrderSubjectRegex), regex_options());
    return re;
}

std::shared_ptr<const ContentRules> no_reasons() {
    static const std::shared_ptr<const ContentRules> rules = ContentRules::compile({}).value();
    return rules;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

bool icontains(std::string_view haystack, std::string_view needle) {
    if (needle.empty()) return false;
    if (needle.size() > haystack.size()) return false;
    for (size_t i = 0; i + needle.size() <= haystack.size(); ++i)
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    return false;
}

bool is_id_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.';
}

const std::string* attribute(const alias::Party& p, const char* name) {
    auto it = p.attributes.find(name);
    return it == p.attributes.end() ? nullptr : &it->second;
}

bool attribute_is(const alias::Party& p, const char* name, std::string_view value) {
    const std::string* v = attribute(p, name);
    return v != nullptr && iequals(trim(*v), value);
}

// One line of printable ASCII for an SMTP reply: controls and line breaks
// become spaces, other bytes '?', runs of spaces one space.
std::string reply_line(std::string_view text) {
    std::string out;
    out.reserve(std::min(text.size(), kReplyMaxChars));
    for (size_t i = 0; i < text.size() && out.size() < kReplyMaxChars; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        char o;
        if (c < 0x20 || c == 0x7F)
            o = ' ';
        else if (c >= 0x80) {
            // One '?' per character, not per byte.
            if ((c & 0xC0) == 0x80) continue;
            o = '?';
        } else
            o = static_cast<char>(c);
        if (o == ' ' && (out.empty() || out.back() == ' ')) continue;
        out.push_back(o);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

std::string render(std::string text, const MarketplaceFacts& f, const MarketplacePolicy& p) {
    replace_all(text, "{order}", f.order_id.empty() ? "(none)" : f.order_id);
    replace_all(text, "{tag}", p.important_tag);
    replace_all(text, "{limit}", std::to_string(p.unsolicited_per_order));
    replace_all(text, "{hours}", std::to_string(p.repeat_window_hours));
    return reply_line(text);
}

// ---- IP addresses ---------------------------------------------------------

struct Ip {
    std::array<unsigned char, 16> bytes{};
    int bits = 0;  // 32 or 128
};

// "1.2.3.4", "::1", "[1.2.3.4]", "IPv6:::1", "::ffff:1.2.3.4" (as IPv4).
std::optional<Ip> parse_ip(std::string_view text) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    if (text.size() > 5 && iequals(text.substr(0, 5), "ipv6:")) text.remove_prefix(5);
    if (text.empty() || text.size() > 64) return std::nullopt;
    std::string s(text);
    Ip ip;
    if (inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) {
        ip.bits = 32;
        return ip;
    }
    if (inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
        static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(ip.bytes.data(), kMapped, 12) == 0) {
            std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
            std::fill(ip.bytes.begin() + 4, ip.bytes.end(), 0);
            ip.bits = 32;
        } else {
            ip.bits = 128;
        }
        return ip;
    }
    return std::nullopt;
}

struct Cidr {
    Ip ip;
    int prefix = 0;
};

std::optional<Cidr> parse_cidr(std::string_view text) {
    text = trim(text);
    size_t slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    Cidr c{*ip, ip->bits};
    if (slash != std::string_view::npos) {
        std::string_view n = text.substr(slash + 1);
        if (n.empty() || n.size() > 3) return std::nullopt;
        int v = 0;
        for (char ch : n) {
            if (ch < '0' || ch > '9') return std::nullopt;
            v = v * 10 + (ch - '0');
        }
        if (v > ip->bits) return std::nullopt;
        c.prefix = v;
    }
    return c;
}

bool cidr_contains(const Cidr& c, const Ip& ip) {
    if (c.ip.bits != ip.bits) return false;
    int full = c.prefix / 8;
    if (std::memcmp(c.ip.bytes.data(), ip.bytes.data(), static_cast<size_t>(full)) != 0)
        return false;
    int rest = c.prefix % 8;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
    return (c.ip.bytes[static_cast<size_t>(full)] & mask) ==
           (ip.bytes[static_cast<size_t>(full)] & mask);
}

// ---- normalisation --------------------------------------------------------

// ASCII and Latin-1 capitals (UTF-8 C3 80..C3 9E, not x) to lower case.
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

}  // namespace

// ---- MarketplacePolicy ----------------------------------------------------

MarketplacePolicy::MarketplacePolicy()
    : order_subject_re(default_order_re()), contact_reasons(no_reasons()) {}

// ---- order id, trusted tooling ---------------------------------------------

std::optional<std::string> extract_order_id(const Message& message,
                                            const MarketplacePolicy& policy) {
    if (const std::string* h = message.find("X-Marketplace-Order")) {
        std::string_view v = trim(*h);
        if (!v.empty() && v.size() <= kOrderIdMaxChars &&
            std::all_of(v.begin(), v.end(), is_id_char))
            return std::string(v);
    }
    const std::string* subject = message.find("Subject");
    if (subject == nullptr || !policy.order_subject_re || !policy.order_subject_re->ok())
        return std::nullopt;
    const RE2& re = *policy.order_subject_re;
    std::array<re2::StringPiece, 2> m;
    int n = std::min(re.NumberOfCapturingGroups(), 1) + 1;
    if (!re.Match(*subject, 0, subject->size(), RE2::UNANCHORED, m.data(), n)) return std::nullopt;
    re2::StringPiece id = (n == 2 && m[1].data() != nullptr) ? m[1] : m[0];
    std::string out = reply_line(std::string_view(id.data(), id.size()));
    if (out.empty() || out.size() > kOrderIdMaxChars) return std::nullopt;
    return out;
}

bool is_trusted_tooling(const MarketplacePolicy& policy, std::string_view client_address,
                        std::string_view authenticated_sender) {
    std::string_view sender = trim(authenticated_sender);
    if (!sender.empty()) {
        std::string norm = normalize_address(sender);
        for (const std::string& s : policy.trusted_tooling.senders)
            if (s == norm) return true;
    }
    if (auto ip = parse_ip(client_address)) {
        for (const std::string& c : policy.trusted_tooling.clients)
            if (auto cidr = parse_cidr(c); cidr && cidr_contains(*cidr, *ip)) return true;
    }
    return false;
}

// ---- fingerprint -----------------------------------------------------------

std::string normalize_for_fingerprint(std::string_view text) {
    // Lines, without quotes and quote attributions.
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
    // Signature: a closing line near the end cuts the rest.
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines.size() - i > kSignatureMaxLines + 1) continue;
        if (is_closing(words_only(lines[i]))) {
            lines.resize(i);
            break;
        }
    }
    // Greeting: the opening of the first non-empty line, up to its first
    // ',', '!' or ':' (the whole line when it has none).
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

// ---- decide ----------------------------------------------------------------

namespace {

struct Reasons {
    std::vector<std::string> ids;
    std::string source;  // "header" | "patterns (LANG)" | "untrusted header ignored; ..."
};

Reasons find_reasons(const MarketplaceFacts& f, const MarketplacePolicy& p) {
    Reasons r;
    std::string_view header = trim(f.contact_reason_header);
    if (f.trusted_tooling && !header.empty()) {
        r.source = "trusted header";
        size_t pos = 0;
        while (pos <= header.size()) {
            size_t comma = header.find(',', pos);
            std::string_view tok = trim(header.substr(
                pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
            pos = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
            if (!tok.empty() && tok.size() <= 64 && std::all_of(tok.begin(), tok.end(), is_id_char))
                r.ids.push_back(to_lower(tok));
        }
        return r;
    }
    std::vector<std::string_view> texts;
    texts.reserve(f.texts.size() + 1);
    texts.push_back(f.subject);
    for (const std::string& t : f.texts) texts.push_back(t);
    const ContentRules& rules = p.contact_reasons ? *p.contact_reasons : *no_reasons();
    std::string langs;
    for (const ContentHit& h : rules.scan(texts)) {
        r.ids.push_back(h.rule_id);
        if (langs.find(h.language) == std::string::npos)
            langs += (langs.empty() ? "" : ",") + h.language;
    }
    r.source = header.empty() ? "patterns" : "patterns (untrusted header ignored)";
    if (!langs.empty()) r.source += " " + langs;
    return r;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
    return out.empty() ? "none" : out;
}

struct Builder {
    MarketplaceDecision& d;
    const MarketplaceFacts& f;
    const MarketplacePolicy& p;

    void hit(std::string id, std::string detail) {
        d.rules.push_back({std::move(id), reply_line(detail)});
    }
    MarketplaceDecision& reject(std::string id, std::string detail, const std::string& text,
                                bool render_text = true) {
        hit(std::move(id), std::move(detail));
        d.update.allowed = false;
        d.decision = "reject";
        d.smtp_code = "550";
        d.enhanced_code = "5.7.1";
        d.reply_text = render_text ? render(text, f, p) : reply_line(text);
        return d;
    }
    void quarantine(std::string id, std::string detail, const std::string& text) {
        hit(std::move(id), std::move(detail));
        if (d.decision != "quarantine") d.reply_text = render(text, f, p);
        d.decision = "quarantine";
    }
};

MarketplaceDecision decide_impl(const MarketplaceFacts& f, const alias::ThreadState& state,
                                const MarketplacePolicy& p) {
    MarketplaceDecision d;
    d.update.writer = f.writer;
    d.update.allowed = true;
    d.decision = "accept";
    Builder b{d, f, p};

    if (f.writer == Role::buyer) {
        const alias::Party& seller = f.recipient;
        bool away = attribute_is(seller, alias::kAttrMessaging, "off");
        if (away && !state.exists) {
            const std::string* away_text = attribute(seller, alias::kAttrAwayText);
            bool own = away_text != nullptr && !trim(*away_text).empty();
            return b.reject("marketplace.vacation", "seller has messaging off; new buyer refused",
                            own ? *away_text : p.messages.vacation, !own);
        }
        d.update.counts_as_buyer_message = !f.auto_reply;
        if (away) b.hit("marketplace.vacation", "seller has messaging off; existing thread passes");
        b.hit("marketplace.buyer_message",
              f.auto_reply ? "buyer auto-reply: delivered, does not count as the buyer writing"
                           : "buyer message");
        return d;
    }

    // A seller writes to a buyer.
    const alias::Party& buyer = f.recipient;
    const std::optional<alias::Order>& order = f.order;
    const std::string order_label = f.order_id.empty() ? "(none)" : f.order_id;
    const bool opted_out = attribute_is(buyer, alias::kAttrOptout, "on");
    const bool fba = order && iequals(order->fulfilment, "fba");
    const bool gift_return = order && iequals(order->kind, "gift-return");
    const bool exempt = order && contains(p.exempt_order_kinds, order->kind);
    const bool buyer_started = state.exists && state.started_by == Role::buyer;
    const bool buyer_recent =
        state.last_buyer_at > 0 &&
        f.now - state.last_buyer_at <= static_cast<std::int64_t>(p.buyer_window_days) * kDay;
    // The buyer wrote after the seller's last message: this answers it.
    const bool answers_buyer =
        state.exists && state.last_buyer_at > 0 && state.last_buyer_at >= state.last_seller_at;
    const bool tag_used = icontains(f.subject, p.important_tag);
    d.update.important_used = tag_used;
    d.update.unsolicited = !answers_buyer;

    std::optional<Reasons> reasons;
    auto get_reasons = [&]() -> const Reasons& {
        if (!reasons) {
            reasons = find_reasons(f, p);
            d.contact_reasons = reasons->ids;
        }
        return *reasons;
    };

    // Gift returns: only the buyer starts.
    if (gift_return && !buyer_started)
        return b.reject("marketplace.gift_return",
                        "gift-return order " + order_label + ": seller may not start the thread",
                        p.messages.gift_return);

    // FBA: replies only, except product inquiries.
    if (fba && (buyer_started || answers_buyer)) {
        b.hit("marketplace.fba_reply_only", "FBA order " + order_label + ": seller replies");
    } else if (fba) {
        const Reasons& r = get_reasons();
        if (!p.fba_product_inquiry_reason.empty() && contains(r.ids, p.fba_product_inquiry_reason))
            b.hit("marketplace.fba_reply_only",
                  "FBA order " + order_label + ": product inquiry (" + r.source + ") may start");
        else
            return b.reject("marketplace.fba_reply_only",
                            "FBA order " + order_label +
                                ": seller may only reply (reasons: " + join(r.ids) + ")",
                            p.messages.fba_reply_only);
    }

    // [Important]: critical, misuse, daily threshold.
    bool critical = false;
    if (tag_used) {
        const Reasons& r = get_reasons();
        std::vector<std::string> crit;
        for (const std::string& id : r.ids)
            if (contains(p.critical_reasons, id)) crit.push_back(id);
        critical = !crit.empty();
        if (critical) {
            b.hit("marketplace.critical",
                  "tagged and critical: " + join(crit) + " (" + r.source + ")");
        } else {
            std::string detail =
                "tagged but not critical (reasons: " + join(r.ids) + "; " + r.source + ")";
            switch (p.important_action) {
                case MarketplacePolicy::ImportantAction::reject:
                    return b.reject("marketplace.important_misuse", detail,
                                    p.messages.important_misuse);
                case MarketplacePolicy::ImportantAction::quarantine:
                    b.quarantine("marketplace.important_misuse", detail,
                                 p.messages.important_misuse);
                    break;
                case MarketplacePolicy::ImportantAction::flag:
                    b.hit("marketplace.important_misuse", detail + "; flagged");
                    break;
            }
        }
        if (static_cast<std::int64_t>(state.important_today) + 1 > p.important_daily_threshold)
            b.quarantine("marketplace.important_quarantine",
                         "seller's tag use " + std::to_string(state.important_today + 1) +
                             " today (threshold " + std::to_string(p.important_daily_threshold) +
                             ")",
                         p.messages.important_quarantine);
    }

    // Opt-out.
    if (opted_out) {
        if (buyer_started)
            b.hit("marketplace.buyer_thread", "buyer opted out; thread started by the buyer");
        else if (buyer_recent)
            b.hit("marketplace.buyer_thread", "buyer opted out; buyer wrote within " +
                                                  std::to_string(p.buyer_window_days) + " days");
        else if (exempt)
            b.hit("marketplace.exempt_order",
                  "buyer opted out; order kind '" + order->kind + "' is exempt");
        else if (!critical)
            return b.reject("marketplace.optout",
                            "buyer opted out; order " + order_label +
                                (tag_used ? ": tagged but not critical" : ": not tagged critical"),
                            p.messages.opted_out);
    }

    // Unsolicited messages per order: the limit is the order's; a message
    // that names no order is counted but not limited.
    if (!answers_buyer && !f.order_id.empty()) {
        int sent = state.unsolicited_since_buyer;
        if (critical)
            b.hit("marketplace.unsolicited_limit", "critical message: not limited");
        else if (sent >= p.unsolicited_per_order)
            return b.reject("marketplace.unsolicited_limit",
                            "order " + order_label + ": " + std::to_string(sent) +
                                " unsolicited since the buyer last wrote (limit " +
                                std::to_string(p.unsolicited_per_order) + ")",
                            p.messages.unsolicited_limit);
        else
            b.hit("marketplace.unsolicited_limit", "order " + order_label + ": unsolicited " +
                                                       std::to_string(sent + 1) + " of " +
                                                       std::to_string(p.unsolicited_per_order));
    }

    // Repeats: any text part equal (normalised) to a recent one.  A window of
    // 0 hours switches the rule off.
    const std::int64_t since = f.now - static_cast<std::int64_t>(p.repeat_window_hours) * kHour;
    for (const std::string& text :
         p.repeat_window_hours > 0 ? f.texts : std::span<const std::string>{}) {
        std::string fp = fingerprint(text);
        if (fp.empty()) continue;
        if (d.update.fingerprint.empty()) d.update.fingerprint = fp;
        for (const auto& [old, at] : state.recent_fingerprints) {
            if (old == fp && at >= since)
                return b.reject("marketplace.repeat",
                                "same text sent to this buyer " +
                                    std::to_string((f.now - at) / 60) +
                                    " minutes ago (fingerprint " + fp.substr(0, 12) + ")",
                                p.messages.repeat);
        }
    }
    if (d.rules.empty()) b.hit("marketplace.reply", "seller answers the buyer");
    return d;
}

}  // namespace

MarketplaceDecision decide(const MarketplaceFacts& facts, const alias::ThreadState& state,
                           const MarketplacePolicy& policy) noexcept {
    try {
        return decide_impl(facts, state, policy);
    } catch (...) {
        MarketplaceDecision d;
        d.update.allowed = false;
        d.update.writer = facts.writer;
        d.decision = "tempfail";
        d.smtp_code = "451";
        d.enhanced_code = "4.3.0";
        d.reply_text = "Temporary failure in the marketplace rules";
        d.rules.push_back({"marketplace.internal", "rules failed (out of memory)"});
        return d;
    }
}

// ---- policy.yaml `marketplace:` --------------------------------------------

namespace {

using yaml::Entry;
using yaml::error_at;

struct ReasonDraft {
    ContentRule rule;
    bool critical = false;
    YAML::Mark id_mark;
};

struct Draft {
    MarketplacePolicy* out = nullptr;
    std::optional<std::vector<ReasonDraft>> reasons;
    YAML::Mark reasons_mark;
    YAML::Mark fba_mark;
    bool fba_set = false;
};

int get_int_in(const Entry& e, long long min, long long max) {
    return static_cast<int>(yaml::get_int(e, min, max));
}

std::string get_line(const Entry& e, bool nonempty) {
    std::string s = nonempty ? yaml::get_nonempty_string(e) : yaml::get_string(e);
    if (s.find_first_of("\r\n") != std::string::npos)
        error_at(e.value.Mark(), e.name + ": must be one line");
    return s;
}

std::string get_reason_id(const Entry& e) {
    std::string id = yaml::get_string(e);
    if (id.empty()) return id;
    if (id.size() > 64 || !std::all_of(id.begin(), id.end(), is_id_char))
        error_at(e.value.Mark(),
                 e.name + ": '" + id + "' must be at most 64 letters, digits and . - _");
    return to_lower(id);
}

void load_tag(const Entry& e, Draft& d) {
    std::string tag = get_line(e, true);
    d.out->important_tag = tag;
}

void load_action(const Entry& e, Draft& d) {
    std::string a = yaml::get_string(e);
    using A = MarketplacePolicy::ImportantAction;
    if (a == "reject")
        d.out->important_action = A::reject;
    else if (a == "quarantine")
        d.out->important_action = A::quarantine;
    else if (a == "flag")
        d.out->important_action = A::flag;
    else
        error_at(e.value.Mark(),
                 e.name + ": unknown action '" + a + "' (expected reject, quarantine or flag)");
}

void load_threshold(const Entry& e, Draft& d) {
    d.out->important_daily_threshold = get_int_in(e, 0, 1000000);
}
void load_window_days(const Entry& e, Draft& d) {
    d.out->buyer_window_days = get_int_in(e, 0, 3650);
}
void load_exempt(const Entry& e, Draft& d) {
    d.out->exempt_order_kinds = yaml::get_string_list(e, "an order kind");
}
void load_per_order(const Entry& e, Draft& d) {
    d.out->unsolicited_per_order = get_int_in(e, 0, 1000);
}
void load_repeat_hours(const Entry& e, Draft& d) {
    d.out->repeat_window_hours = get_int_in(e, 0, 24 * 3650);
}

void load_order_regex(const Entry& e, Draft& d) {
    std::string s = yaml::get_nonempty_string(e);
    auto re = std::make_shared<const RE2>(s, regex_options());
    if (!re->ok()) error_at(e.value.Mark(), e.name + ": " + re->error());
    d.out->order_subject_regex = std::move(s);
    d.out->order_subject_re = std::move(re);
}

void load_clients(const Entry& e, MarketplacePolicy::TrustedTooling& t) {
    yaml::expect_list(e);
    t.clients.clear();
    for (const auto& item : e.value) {
        if (!item.IsScalar() || !parse_cidr(item.Scalar()))
            error_at(item.Mark(), e.name +
                                      ": expected an IP address or prefix (1.2.3.4, "
                                      "10.0.0.0/8, 2001:db8::/32)");
        t.clients.push_back(std::string(trim(item.Scalar())));
    }
}

void load_senders(const Entry& e, MarketplacePolicy::TrustedTooling& t) {
    yaml::expect_list(e);
    t.senders.clear();
    for (const auto& item : e.value) {
        if (!item.IsScalar() || !is_valid_address(normalize_address(item.Scalar())))
            error_at(item.Mark(), e.name + ": expected an email address");
        t.senders.push_back(normalize_address(item.Scalar()));
    }
}

constexpr yaml::Key<MarketplacePolicy::TrustedTooling> kToolingKeys[] = {
    {"clients", false, load_clients},
    {"senders", false, load_senders},
};

void load_tooling(const Entry& e, Draft& d) {
    yaml::load_section<MarketplacePolicy::TrustedTooling>(e, kToolingKeys, d.out->trusted_tooling);
}

void load_fba_reason(const Entry& e, Draft& d) {
    d.out->fba_product_inquiry_reason = get_reason_id(e);
    d.fba_mark = e.value.Mark();
    d.fba_set = true;
}

#define MM_MESSAGE_LOADER(field)                                                \
    void load_message_##field(const Entry& e, MarketplacePolicy::Messages& m) { \
        m.field = get_line(e, true);                                            \
    }
MM_MESSAGE_LOADER(opted_out)
MM_MESSAGE_LOADER(vacation)
MM_MESSAGE_LOADER(important_misuse)
MM_MESSAGE_LOADER(important_quarantine)
MM_MESSAGE_LOADER(unsolicited_limit)
MM_MESSAGE_LOADER(repeat)
MM_MESSAGE_LOADER(fba_reply_only)
MM_MESSAGE_LOADER(gift_return)
#undef MM_MESSAGE_LOADER

constexpr yaml::Key<MarketplacePolicy::Messages> kMessageKeys[] = {
    {"opted_out", false, load_message_opted_out},
    {"vacation", false, load_message_vacation},
    {"important_misuse", false, load_message_important_misuse},
    {"important_quarantine", false, load_message_important_quarantine},
    {"unsolicited_limit", false, load_message_unsolicited_limit},
    {"repeat", false, load_message_repeat},
    {"fba_reply_only", false, load_message_fba_reply_only},
    {"gift_return", false, load_message_gift_return},
};

void load_messages(const Entry& e, Draft& d) {
    yaml::load_section<MarketplacePolicy::Messages>(e, kMessageKeys, d.out->messages);
}

// -- contact_reasons --

void load_reason_id(const Entry& e, ReasonDraft& r) {
    std::string id = get_reason_id(e);
    if (id.empty()) error_at(e.value.Mark(), e.name + ": must not be empty");
    r.rule.id = std::move(id);
    r.id_mark = e.value.Mark();
}
void load_reason_description(const Entry& e, ReasonDraft& r) {
    r.rule.description = yaml::get_string(e);
}
void load_reason_critical(const Entry& e, ReasonDraft& r) {
    r.critical = yaml::get_bool(e);
}

void load_reason_language(const Entry& e, ReasonDraft& r) {
    yaml::expect_list(e);
    const std::string language = e.key.Scalar();
    size_t n = 0;
    for (const auto& item : e.value) {
        ++n;
        if (!item.IsScalar() || item.Scalar().empty())
            error_at(item.Mark(),
                     e.name + ": expected a regular expression, got " +
                         (item.IsScalar() ? "an empty string" : yaml::type_name(item)));
        // Compiled here (as ContentRules will) so a bad one is reported at
        // its own line and column.
        RE2 re(item.Scalar(), regex_options());
        if (!re.ok())
            error_at(item.Mark(), e.name + " pattern " + std::to_string(n) + ": " + re.error());
        r.rule.patterns.push_back({language, item.Scalar()});
    }
}

constexpr yaml::Key<ReasonDraft> kReasonLanguageKeys[] = {
    {"en", false, load_reason_language}, {"de", false, load_reason_language},
    {"fr", false, load_reason_language}, {"it", false, load_reason_language},
    {"es", false, load_reason_language},
};

void load_reason_patterns(const Entry& e, ReasonDraft& r) {
    yaml::load_section<ReasonDraft>(e, kReasonLanguageKeys, r);
}

constexpr yaml::Key<ReasonDraft> kReasonKeys[] = {
    {"id", true, load_reason_id},
    {"description", false, load_reason_description},
    {"critical", false, load_reason_critical},
    {"patterns", false, load_reason_patterns},
};

void load_reasons(const Entry& e, Draft& d) {
    yaml::expect_list(e);
    std::vector<ReasonDraft> reasons;
    for (std::size_t i = 0; i < e.value.size(); ++i) {
        const YAML::Node item = e.value[i];
        const Entry ie = yaml::list_item(e, i, item);
        ReasonDraft r;
        yaml::load_section<ReasonDraft>(ie, kReasonKeys, r);
        for (const ReasonDraft& prev : reasons)
            if (prev.rule.id == r.rule.id)
                error_at(r.id_mark, ie.name + ": duplicate reason id '" + r.rule.id + "'");
        r.rule.action = ContentRule::Action::flag;
        reasons.push_back(std::move(r));
    }
    d.reasons = std::move(reasons);
    d.reasons_mark = e.value.Mark();
}

constexpr yaml::Key<Draft> kMarketplaceKeys[] = {
    {"important_tag", false, load_tag},
    {"important_action", false, load_action},
    {"important_daily_threshold", false, load_threshold},
    {"buyer_window_days", false, load_window_days},
    {"exempt_order_kinds", false, load_exempt},
    {"unsolicited_per_order", false, load_per_order},
    {"repeat_window_hours", false, load_repeat_hours},
    {"order_subject_regex", false, load_order_regex},
    {"trusted_tooling", false, load_tooling},
    {"contact_reasons", false, load_reasons},
    {"fba_product_inquiry_reason", false, load_fba_reason},
    {"messages", false, load_messages},
};

}  // namespace

void load_marketplace_section(const yaml::Entry& e, MarketplacePolicy& out) {
    MarketplacePolicy p = out;
    Draft d;
    d.out = &p;
    yaml::load_section<Draft>(e, kMarketplaceKeys, d);
    if (d.reasons) {
        if (!p.fba_product_inquiry_reason.empty()) {
            bool known = std::any_of(
                d.reasons->begin(), d.reasons->end(),
                [&](const ReasonDraft& r) { return r.rule.id == p.fba_product_inquiry_reason; });
            if (!known)
                error_at(d.fba_set ? d.fba_mark : d.reasons_mark,
                         e.name + ".fba_product_inquiry_reason: '" + p.fba_product_inquiry_reason +
                             "' is not one of contact_reasons");
        }
        std::vector<ContentRule> rules;
        p.critical_reasons.clear();
        for (ReasonDraft& r : *d.reasons) {
            if (r.critical) p.critical_reasons.push_back(r.rule.id);
            // A reason without patterns is known only from the trusted header.
            if (!r.rule.patterns.empty()) rules.push_back(std::move(r.rule));
        }
        auto compiled = ContentRules::compile(std::move(rules));
        if (!compiled)
            error_at(d.reasons_mark, e.name + ".contact_reasons: " + compiled.error().message);
        p.contact_reasons = std::move(compiled.value());
        if (p.critical_reasons.empty())
            error_at(d.reasons_mark,
                     e.name + ".contact_reasons: no reason is critical: " + p.important_tag +
                         " could never let a message through an opt-out");
    }
    out = std::move(p);
}

}  // namespace mm::policy
