// How deep the elements of an HTML part nest, counted along the tokenizer's
// tokens as a browser's tree builder would nest them, closely enough to tell
// markup nested tens of levels (every real message) from markup nested
// thousands (built to exhaust whoever walks the tree).  The link rule refuses
// a part nested deeper than the policy allows before anything walks it.
//
// The model keeps the open elements and the rules that decide most of the
// depth: void elements, end tags closing by name within their scope, the
// start tags that close an open element (p by blocks, li, dd/dt, option,
// table rows and cells, headings, a, nobr, button, select, nested table and
// form), html/head/body never counted, foreign content closed by name.  It
// builds nothing else; each token costs amortised constant time (a name hash
// and two table look-ups).
//
// Internal to policy/: used by the link rule's cut.  One Nesting reads one
// part on one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "policy/html/html_tokenizer.h"

namespace mm::policy::html {

class Nesting {
public:
    // A start tag `t` of `src`, as the tokenizer gave it; `foreign`: the tag
    // is in svg/math content (the tokenizer's in_foreign() after it).  True
    // when it opened an element (now the innermost one; whatever it closed
    // first was closed before).
    bool start_tag(std::string_view src, const Token& t, bool foreign);
    void end_tag(std::string_view src, const Token& t);

    // The elements open now, and the most that were open at once.
    std::size_t depth() const { return stack_.size(); }
    std::size_t max_depth() const { return max_depth_; }

private:
    struct Open {
        std::uint64_t name;
        std::uint32_t flags;
        std::uint32_t prev_same;  // 1 + index of the next open element of this name, or 0
    };
    // The sets of elements that bound a search of the open elements.
    enum class Scope { element, list_item, button, table, special };
    static constexpr int kScopes = 5;
    static bool in_scope_set(std::uint32_t flags, Scope s);

    std::size_t top_of(std::uint64_t name) const;  // 1 + index of the topmost open `name`, or 0
    std::size_t scope_top(Scope s) const;          // 1 + index of the topmost boundary, or 0
    void push(std::uint64_t name, std::uint32_t flags);
    void pop_to(std::size_t index);  // pops the element at `index` and all above it
    void close_in_scope(std::uint64_t name, Scope s);
    void close_nearest(std::initializer_list<std::uint64_t> names, Scope s);
    bool html_start(std::uint64_t name, std::uint32_t flags);

    // Name -> 1 + index of its topmost open element, for open names only:
    // open addressing, so that opening and closing an element allocates
    // nothing (a node map cost a malloc and a free per element).
    class TopTable {
    public:
        std::uint32_t get(std::uint64_t key) const;
        void set(std::uint64_t key, std::uint32_t value);  // 0 erases
    private:
        std::size_t slot(std::uint64_t key) const;
        void grow();
        std::vector<std::uint64_t> keys_ = std::vector<std::uint64_t>(64);  // 0: empty
        std::vector<std::uint32_t> values_ = std::vector<std::uint32_t>(64);
        std::size_t size_ = 0;
    };

    std::vector<Open> stack_;
    TopTable top_;
    std::array<std::vector<std::uint32_t>, kScopes> scopes_;  // indices of open boundaries
    std::size_t max_depth_ = 0;
};

}  // namespace mm::policy::html
