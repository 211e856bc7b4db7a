#include "policy/html/html_nesting.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace mm::policy::html {
namespace {

// Names are compared by a 64-bit hash of their lower-case spelling: two
// names that collide would only make the count a little off.
constexpr std::uint64_t name_hash(std::string_view s) {
    std::uint64_t h = 14695981039346656037ull;
    for (char c : s) {
        h ^= static_cast<unsigned char>(lower_char(c));
        h *= 1099511628211ull;
    }
    return h;
}

enum : std::uint32_t {
    kVoid = 1,          // never open (br, img, ...)
    kSkip = 2,          // html, head, body: one each, whatever the markup says
    kSpecial = 4,       // the spec's "special" elements (an end tag stops at them)
    kScopeDefault = 8,  // "has an element in scope" boundaries
    kScopeList = 16,    // ... and for list items
    kScopeButton = 32,  // ... and for buttons (a p closes within it)
    kScopeTable = 64,   // "in table scope" boundaries
    kFormatting = 128,  // closed by the adoption agency
    kClosesP = 256,     // its start tag closes an open p
    kHeading = 512,     // h1-h6
    kAnyScope = kScopeDefault | kScopeList | kScopeButton | kScopeTable | kSpecial,
};

// The start tags that close an open element of their kind first, in the bits
// above the flags.
enum Rule : std::uint32_t {
    kNoRule,
    kListItem,  // li
    kDefItem,   // dd, dt
    kReopen,    // a, nobr, button: one open at a time (within scope)
    kOption,
    kOptgroup,
    kSelect,   // a select in a select ends the first
    kRow,      // tr
    kCell,     // td, th
    kSection,  // thead, tbody, tfoot
    kTable,    // a table straight in a table ends the first
    kForm,     // a form in a form is ignored
};
constexpr int kRuleShift = 16;
constexpr std::uint32_t rule(Rule r) {
    return static_cast<std::uint32_t>(r) << kRuleShift;
}

struct Known {
    std::string_view name;
    std::uint32_t flags;
};

constexpr std::uint32_t kBlock = kClosesP | kSpecial;
constexpr std::uint32_t kBoundary = kScopeDefault | kSpecial;

constexpr Known kKnown[] = {
    {"area", kVoid},
    {"base", kVoid},
    {"basefont", kVoid},
    {"bgsound", kVoid},
    {"br", kVoid},
    {"col", kVoid},
    {"embed", kVoid},
    {"frame", kVoid},
    {"hr", kVoid | kClosesP},
    {"img", kVoid},
    {"image", kVoid},
    {"input", kVoid},
    {"keygen", kVoid},
    {"link", kVoid},
    {"meta", kVoid},
    {"param", kVoid},
    {"source", kVoid},
    {"track", kVoid},
    {"wbr", kVoid},
    {"html", kSkip},
    {"head", kSkip},
    {"body", kSkip},

    {"applet", kBoundary},
    {"caption", kBoundary},
    {"marquee", kBoundary},
    {"object", kBoundary},
    {"td", kBoundary | rule(kCell)},
    {"th", kBoundary | rule(kCell)},
    {"template", kBoundary | kScopeTable},
    {"table", kBoundary | kScopeTable | kClosesP | rule(kTable)},
    {"ul", kBlock | kScopeList},
    {"ol", kBlock | kScopeList},
    {"button", kSpecial | kScopeButton | rule(kReopen)},

    {"a", kFormatting | rule(kReopen)},
    {"b", kFormatting},
    {"big", kFormatting},
    {"code", kFormatting},
    {"em", kFormatting},
    {"font", kFormatting},
    {"i", kFormatting},
    {"nobr", kFormatting | rule(kReopen)},
    {"s", kFormatting},
    {"small", kFormatting},
    {"strike", kFormatting},
    {"strong", kFormatting},
    {"tt", kFormatting},
    {"u", kFormatting},

    {"address", kBlock},
    {"article", kBlock},
    {"aside", kBlock},
    {"blockquote", kBlock},
    {"center", kBlock},
    {"details", kBlock},
    {"dialog", kBlock},
    {"dir", kBlock},
    {"div", kBlock},
    {"dl", kBlock},
    {"fieldset", kBlock},
    {"figcaption", kBlock},
    {"figure", kBlock},
    {"footer", kBlock},
    {"header", kBlock},
    {"hgroup", kBlock},
    {"main", kBlock},
    {"menu", kBlock},
    {"nav", kBlock},
    {"p", kBlock},
    {"section", kBlock},
    {"search", kBlock},
    {"summary", kBlock},
    {"pre", kBlock},
    {"listing", kBlock},
    {"form", kBlock | rule(kForm)},
    {"plaintext", kBlock},
    {"xmp", kBlock},
    {"li", kBlock | rule(kListItem)},
    {"dd", kBlock | rule(kDefItem)},
    {"dt", kBlock | rule(kDefItem)},
    {"h1", kBlock | kHeading},
    {"h2", kBlock | kHeading},
    {"h3", kBlock | kHeading},
    {"h4", kBlock | kHeading},
    {"h5", kBlock | kHeading},
    {"h6", kBlock | kHeading},

    {"iframe", kSpecial},
    {"noembed", kSpecial},
    {"noframes", kSpecial},
    {"noscript", kSpecial},
    {"script", kSpecial},
    {"style", kSpecial},
    {"textarea", kSpecial},
    {"title", kSpecial},
    {"select", kSpecial | rule(kSelect)},
    {"tbody", kSpecial | rule(kSection)},
    {"thead", kSpecial | rule(kSection)},
    {"tfoot", kSpecial | rule(kSection)},
    {"tr", kSpecial | rule(kRow)},
    {"colgroup", kSpecial},
    {"frameset", kSpecial},
    {"option", rule(kOption)},
    {"optgroup", rule(kOptgroup)},
};

// The known names by hash: open addressing over twice as many slots as
// names, filled once (every start tag is looked up).
class KnownTable {
public:
    KnownTable() {
        for (const Known& k : kKnown) {
            const std::uint64_t h = name_hash(k.name);
            std::size_t i = h & kMask;
            while (hashes_[i] != 0) i = (i + 1) & kMask;
            hashes_[i] = h;
            flags_[i] = k.flags;
        }
    }
    std::uint32_t flags(std::uint64_t h) const {
        for (std::size_t i = h & kMask; hashes_[i] != 0; i = (i + 1) & kMask)
            if (hashes_[i] == h) return flags_[i];
        return 0;
    }

private:
    static constexpr std::size_t kSlots = 256, kMask = kSlots - 1;
    static_assert(2 * std::size(kKnown) <= kSlots);
    std::array<std::uint64_t, kSlots> hashes_{};
    std::array<std::uint32_t, kSlots> flags_{};
};

std::uint32_t flags_of(std::uint64_t h) {
    static const KnownTable table;
    return table.flags(h);
}

constexpr std::uint64_t kNameP = name_hash("p"), kNameLi = name_hash("li"),
                        kNameDd = name_hash("dd"), kNameDt = name_hash("dt"),
                        kNameOption = name_hash("option"), kNameOptgroup = name_hash("optgroup"),
                        kNameSelect = name_hash("select"), kNameTr = name_hash("tr"),
                        kNameTd = name_hash("td"), kNameTh = name_hash("th"),
                        kNameThead = name_hash("thead"), kNameTbody = name_hash("tbody"),
                        kNameTfoot = name_hash("tfoot"), kNameTable = name_hash("table"),
                        kNameCaption = name_hash("caption"), kNameForm = name_hash("form");

}  // namespace

// Keys are name hashes (0 stands for an empty slot: a name hashing to 0 is
// kept as 1); linear probing, deletion by shifting the probe run back.
std::size_t Nesting::TopTable::slot(std::uint64_t key) const {
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = static_cast<std::size_t>(key ^ (key >> 29)) & mask;
    while (keys_[i] != 0 && keys_[i] != key) i = (i + 1) & mask;
    return i;
}

std::uint32_t Nesting::TopTable::get(std::uint64_t key) const {
    if (key == 0) key = 1;
    const std::size_t i = slot(key);
    return keys_[i] == key ? values_[i] : 0;
}

void Nesting::TopTable::set(std::uint64_t key, std::uint32_t value) {
    if (key == 0) key = 1;
    std::size_t i = slot(key);
    if (value != 0) {
        if (keys_[i] == 0) {
            keys_[i] = key;
            ++size_;
        }
        values_[i] = value;
        if (2 * size_ > keys_.size()) grow();
        return;
    }
    if (keys_[i] == 0) return;
    const std::size_t mask = keys_.size() - 1;
    keys_[i] = 0;
    --size_;
    for (std::size_t j = (i + 1) & mask; keys_[j] != 0; j = (j + 1) & mask) {
        const std::size_t home = static_cast<std::size_t>(keys_[j] ^ (keys_[j] >> 29)) & mask;
        // Move the entry back into the hole when its home is not between
        // the hole and it (cyclically).
        if (((j - home) & mask) >= ((j - i) & mask)) {
            keys_[i] = keys_[j];
            values_[i] = values_[j];
            keys_[j] = 0;
            i = j;
        }
    }
}

void Nesting::TopTable::grow() {
    std::vector<std::uint64_t> keys(keys_.size() * 2);
    std::vector<std::uint32_t> values(keys.size());
    keys.swap(keys_);
    values.swap(values_);
    size_ = 0;
    for (std::size_t k = 0; k < keys.size(); ++k)
        if (keys[k] != 0) set(keys[k], values[k]);
}

bool Nesting::in_scope_set(std::uint32_t flags, Scope s) {
    switch (s) {
        case Scope::element:
            return flags & kScopeDefault;
        case Scope::list_item:
            return flags & (kScopeDefault | kScopeList);
        case Scope::button:
            return flags & (kScopeDefault | kScopeButton);
        case Scope::table:
            return flags & kScopeTable;
        case Scope::special:
            break;
    }
    return flags & (kScopeDefault | kSpecial);
}

std::size_t Nesting::top_of(std::uint64_t name) const {
    return top_.get(name);
}

std::size_t Nesting::scope_top(Scope s) const {
    return scopes_[static_cast<int>(s)].empty() ? 0 : scopes_[static_cast<int>(s)].back() + 1;
}

void Nesting::push(std::uint64_t name, std::uint32_t flags) {
    const auto index = static_cast<std::uint32_t>(stack_.size());
    stack_.push_back({name, flags, top_.get(name)});
    top_.set(name, index + 1);
    if (flags & kAnyScope)
        for (int s = 0; s < kScopes; ++s)
            if (in_scope_set(flags, static_cast<Scope>(s)))
                scopes_[static_cast<std::size_t>(s)].push_back(index);
    max_depth_ = std::max(max_depth_, stack_.size());
}

void Nesting::pop_to(std::size_t index) {
    while (stack_.size() > index) {
        const Open e = stack_.back();
        const auto at = static_cast<std::uint32_t>(stack_.size() - 1);
        top_.set(e.name, e.prev_same);  // the table holds only open names
        if (e.flags & kAnyScope)
            for (auto& s : scopes_)
                if (!s.empty() && s.back() == at) s.pop_back();
        stack_.pop_back();
    }
}

void Nesting::close_in_scope(std::uint64_t name, Scope s) {
    const std::size_t i = top_of(name);
    if (i != 0 && i > scope_top(s)) pop_to(i - 1);
}

// The start tag's effect on the open elements in HTML content; false when
// it opens nothing.
bool Nesting::html_start(std::uint64_t name, std::uint32_t flags) {
    if (flags & kSkip) return false;
    if (flags & kClosesP) close_in_scope(kNameP, Scope::button);
    if ((flags & kHeading) && !stack_.empty() && (stack_.back().flags & kHeading))
        pop_to(stack_.size() - 1);
    const auto top_is = [&](std::uint64_t n) { return !stack_.empty() && stack_.back().name == n; };
    switch (static_cast<Rule>(flags >> kRuleShift)) {
        case kNoRule:
            break;
        case kListItem:
            close_in_scope(kNameLi, Scope::list_item);
            break;
        case kDefItem:
            close_nearest({kNameDd, kNameDt}, Scope::element);
            break;
        case kReopen:
            close_in_scope(name, Scope::element);
            break;
        case kOption:
        case kOptgroup:
            if (top_is(kNameOption)) pop_to(stack_.size() - 1);
            if (name == kNameOptgroup && top_is(kNameOptgroup)) pop_to(stack_.size() - 1);
            break;
        case kSelect:
            if (const std::size_t i = top_of(kNameSelect)) {  // acts as </select>
                pop_to(i - 1);
                return false;
            }
            break;
        case kRow:
            close_in_scope(kNameTr, Scope::table);
            break;
        case kCell:
            close_nearest({kNameTd, kNameTh}, Scope::table);
            break;
        case kSection:
            close_nearest({kNameThead, kNameTbody, kNameTfoot}, Scope::table);
            break;
        case kTable: {
            // A table straight in a table (no cell between) ends the first.
            const std::size_t i = top_of(kNameTable);
            if (i != 0 && i > std::max({top_of(kNameTd), top_of(kNameTh), top_of(kNameCaption)}))
                pop_to(i - 1);
            break;
        }
        case kForm:
            if (top_of(kNameForm) != 0) return false;  // a form in a form is ignored
            break;
    }
    return (flags & kVoid) == 0;
}

// The nearest open element of any of `names`, closed when it is in scope.
void Nesting::close_nearest(std::initializer_list<std::uint64_t> names, Scope s) {
    std::size_t i = 0;
    for (std::uint64_t n : names) i = std::max(i, top_of(n));
    if (i != 0 && i > scope_top(s)) pop_to(i - 1);
}

bool Nesting::start_tag(std::string_view src, const Token& t, bool foreign) {
    const std::uint64_t name = name_hash(src.substr(t.inner_b, t.inner_e - t.inner_b));
    if (foreign) {
        // svg/math: what is not self-closing stays open until its end tag.
        if (t.self_closing) return false;
        push(name, 0);
        return true;
    }
    if (t.self_closing && (t.tag == Tag::svg || t.tag == Tag::math)) return false;
    const std::uint32_t flags = flags_of(name);
    if (!html_start(name, flags)) return false;
    push(name, flags);
    return true;
}

void Nesting::end_tag(std::string_view src, const Token& t) {
    const std::uint64_t name = name_hash(src.substr(t.inner_b, t.inner_e - t.inner_b));
    const std::size_t i = top_of(name);
    if (i == 0) return;
    const std::uint32_t flags = stack_[i - 1].flags;
    if (flags & (kScopeDefault | kScopeTable)) {
        pop_to(i - 1);  // a table or cell closes whatever is open in it
    } else if (flags & (kSpecial | kFormatting)) {
        if (i > scope_top(Scope::element)) pop_to(i - 1);
    } else if (i > scope_top(Scope::special)) {
        pop_to(i - 1);  // an ordinary element: not past a special one
    }
}

}  // namespace mm::policy::html
