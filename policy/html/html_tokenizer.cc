#include "policy/html/html_tokenizer.h"

#include <array>
#include <iterator>
#include <optional>

namespace mm::policy::html {
namespace {

struct NamedRef {
    std::string_view name;
    char32_t cp;
    bool legacy;  // also recognised without the ';' (HTML5 "legacy" references)
};

// The 106 legacy references (the Latin-1 set, in code point order from
// U+00A0, plus amp/lt/gt/quot and upper-case spellings) and the common
// ';'-only references seen in mail, looked up first; any other name with a
// ';' is looked up in the standard's whole table (kAllNamed).
constexpr std::string_view kLatin1Names[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
    "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
    "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
    "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
    "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
    "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
    "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

constexpr NamedRef kOtherRefs[] = {
    {"amp", '&', true},       {"lt", '<', true},         {"gt", '>', true},
    {"quot", '"', true},      {"AMP", '&', true},        {"LT", '<', true},
    {"GT", '>', true},        {"QUOT", '"', true},       {"COPY", 0xA9, true},
    {"REG", 0xAE, true},      {"apos", '\'', false},     {"colon", ':', false},
    {"period", '.', false},   {"sol", '/', false},       {"bsol", '\\', false},
    {"commat", '@', false},   {"num", '#', false},       {"quest", '?', false},
    {"equals", '=', false},   {"percnt", '%', false},    {"lowbar", '_', false},
    {"excl", '!', false},     {"trade", 0x2122, false},  {"mdash", 0x2014, false},
    {"ndash", 0x2013, false}, {"hellip", 0x2026, false}, {"rsquo", 0x2019, false},
    {"lsquo", 0x2018, false}, {"ldquo", 0x201C, false},  {"rdquo", 0x201D, false},
    {"euro", 0x20AC, false},  {"bull", 0x2022, false},   {"zwnj", 0x200C, false},
    {"zwj", 0x200D, false},   {"hyphen", 0x2010, false}, {"dash", 0x2010, false},
};

std::optional<NamedRef> find_named(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kLatin1Names); ++i)
        if (kLatin1Names[i] == name) return NamedRef{name, static_cast<char32_t>(0xA0 + i), true};
    for (const NamedRef& r : kOtherRefs)
        if (r.name == name) return r;
    return std::nullopt;
}

struct AllNamed {
    std::string_view name;
    char32_t cp1, cp2;
};

constexpr AllNamed kAllNamed[] = {
#include "policy/html/html_entities.inc"
};

const AllNamed* find_all_named(std::string_view name) {
    const auto* it =
        std::lower_bound(std::begin(kAllNamed), std::end(kAllNamed), name,
                         [](const AllNamed& e, std::string_view n) { return e.name < n; });
    return it != std::end(kAllNamed) && it->name == name ? it : nullptr;
}

// The longest legacy reference that is a prefix of `run`.
std::optional<NamedRef> longest_legacy_prefix(std::string_view run) {
    std::optional<NamedRef> best;
    auto consider = [&](std::string_view name, char32_t cp) {
        if (run.starts_with(name) && (!best || name.size() > best->name.size()))
            best = NamedRef{name, cp, true};
    };
    for (std::size_t i = 0; i < std::size(kLatin1Names); ++i)
        consider(kLatin1Names[i], static_cast<char32_t>(0xA0 + i));
    for (const NamedRef& r : kOtherRefs)
        if (r.legacy) consider(r.name, r.cp);
    return best;
}

char32_t numeric_ref_value(std::uint32_t v) {
    static constexpr char32_t kC1[32] = {
        0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0xFFFD;
    if (v >= 0x80 && v <= 0x9F) return kC1[v - 0x80];
    return v;
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Decodes character references (HTML5 tokenizer rules, in an attribute value
// when `attr`) and normalises CR/CRLF to LF, as the tokenizer's input stream
// does.
void decode_refs(std::string_view raw, bool attr, std::string& out) {
    out.clear();
    out.reserve(raw.size());
    const std::size_t n = raw.size();
    for (std::size_t i = 0; i < n;) {
        char c = raw[i];
        if (c == '\r') {
            out.push_back('\n');
            i += (i + 1 < n && raw[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c != '&') {
            // The run up to the next reference or CR, copied whole.
            const std::size_t next = find_any<'&', '\r'>(raw.substr(i));
            const std::size_t len = next == std::string_view::npos ? n - i : next;
            out.append(raw.substr(i, len));
            i += len;
            continue;
        }
        std::size_t j = i + 1;
        if (j < n && raw[j] == '#') {
            ++j;
            bool hex = j < n && (raw[j] == 'x' || raw[j] == 'X');
            if (hex) ++j;
            std::size_t d = j;
            std::uint32_t v = 0;
            while (j < n && (hex ? hex_value(raw[j]) >= 0 : (raw[j] >= '0' && raw[j] <= '9'))) {
                int dv = hex ? hex_value(raw[j]) : raw[j] - '0';
                v = v > 0x10FFFF ? v : v * (hex ? 16 : 10) + static_cast<std::uint32_t>(dv);
                ++j;
            }
            if (j == d) {  // "&#" or "&#x" without digits: not a reference
                out.push_back('&');
                ++i;
                continue;
            }
            if (j < n && raw[j] == ';') ++j;
            append_utf8(out, numeric_ref_value(v));
            i = j;
            continue;
        }
        while (j < n && is_ascii_alnum(raw[j])) ++j;
        std::string_view run = raw.substr(i + 1, j - i - 1);
        if (run.empty()) {
            out.push_back('&');
            ++i;
            continue;
        }
        if (j < n && raw[j] == ';') {
            if (auto r = find_named(run)) {
                append_utf8(out, r->cp);
                i = j + 1;
                continue;
            }
            if (const AllNamed* a = find_all_named(run)) {
                append_utf8(out, a->cp1);
                if (a->cp2 != 0) append_utf8(out, a->cp2);
                i = j + 1;
                continue;
            }
            // Not a name with its ';': a legacy name may still begin it.
        }
        auto r = longest_legacy_prefix(run);
        std::size_t after = i + 1 + (r ? r->name.size() : 0);
        if (!r || (attr && after < n && (raw[after] == '=' || is_ascii_alnum(raw[after])))) {
            out.push_back('&');  // not a reference (or a legacy one kept literal in attributes)
            ++i;
            continue;
        }
        append_utf8(out, r->cp);
        i = after;
    }
}

void normalize_newlines(std::string_view s, std::string& out) {
    out.clear();
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r') {
            out.push_back('\n');
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
        } else {
            out.push_back(s[i]);
        }
    }
}

Tag tag_of(std::string_view lower) {
    using Entry = NameTable<Tag>::Entry;
    static constexpr Entry kTags[] = {
        {"a", Tag::a},
        {"img", Tag::img},
        {"image", Tag::image},
        {"input", Tag::input},
        {"iframe", Tag::iframe},
        {"frame", Tag::frame},
        {"embed", Tag::embed},
        {"object", Tag::object},
        {"applet", Tag::applet},
        {"script", Tag::script},
        {"video", Tag::video},
        {"audio", Tag::audio},
        {"source", Tag::source},
        {"track", Tag::track},
        {"meta", Tag::meta},
        {"style", Tag::style},
        {"svg", Tag::svg},
        {"math", Tag::math},
        {"table", Tag::table},
        {"caption", Tag::caption},
        {"col", Tag::col},
        {"colgroup", Tag::colgroup},
        {"tbody", Tag::tbody},
        {"td", Tag::td},
        {"tfoot", Tag::tfoot},
        {"th", Tag::th},
        {"thead", Tag::thead},
        {"tr", Tag::tr},
        {"title", Tag::title},
        {"textarea", Tag::textarea},
        {"xmp", Tag::xmp},
        {"noembed", Tag::noembed},
        {"noframes", Tag::noframes},
        {"plaintext", Tag::plaintext},
        {"foreignobject", Tag::foreignobject},
        {"desc", Tag::desc},
        {"mi", Tag::mi},
        {"mo", Tag::mo},
        {"mn", Tag::mn},
        {"ms", Tag::ms},
        {"mtext", Tag::mtext},
        {"annotation-xml", Tag::annotation_xml},
        // The "in foreign content" break-out list (font only with attributes; ignored).
        {"b", Tag::breakout},
        {"big", Tag::breakout},
        {"blockquote", Tag::breakout},
        {"body", Tag::breakout},
        {"br", Tag::breakout},
        {"center", Tag::breakout},
        {"code", Tag::breakout},
        {"dd", Tag::breakout},
        {"div", Tag::breakout},
        {"dl", Tag::breakout},
        {"dt", Tag::breakout},
        {"em", Tag::breakout},
        {"h1", Tag::breakout},
        {"h2", Tag::breakout},
        {"h3", Tag::breakout},
        {"h4", Tag::breakout},
        {"h5", Tag::breakout},
        {"h6", Tag::breakout},
        {"head", Tag::breakout},
        {"hr", Tag::breakout},
        {"i", Tag::breakout},
        {"li", Tag::breakout},
        {"listing", Tag::breakout},
        {"menu", Tag::breakout},
        {"nobr", Tag::breakout},
        {"ol", Tag::breakout},
        {"p", Tag::breakout},
        {"pre", Tag::breakout},
        {"ruby", Tag::breakout},
        {"s", Tag::breakout},
        {"small", Tag::breakout},
        {"span", Tag::breakout},
        {"strong", Tag::breakout},
        {"strike", Tag::breakout},
        {"sub", Tag::breakout},
        {"sup", Tag::breakout},
        {"tt", Tag::breakout},
        {"u", Tag::breakout},
        {"ul", Tag::breakout},
        {"var", Tag::breakout},
    };
    // Every tag of every message is looked up (twice when the text
    // rendering runs too).
    static const NameTable<Tag> table(kTags, Tag::other);
    if (lower.size() > 14) return Tag::other;
    return table.find(lower);
}

}  // namespace mm::policy::html
