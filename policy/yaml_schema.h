// Declared YAML schemas with file:line:col errors, for policy.yaml and the
// daemon config.
//
// A section is a table of Key<T> rows (name, required, loader, doc);
// load_mapping walks a mapping against it, so unknown and duplicate keys are
// errors and a typo never silently disables a setting.  Loaders throw
// SchemaError at the offending node; the file loader turns it into
// "FILE:LINE:COL: message".
//
// The same rows document the keys: describe() turns a table into KeyInfo
// rows, from which the build writes the manual pages (packaging/man/), and a
// test fails for a key the loader accepts without a type and description.
// So a key cannot be added without its documentation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace mm::yaml {

class SchemaError : public std::runtime_error {
public:
    SchemaError(const YAML::Mark& mark, const std::string& message)
        : std::runtime_error(message), mark(mark) {}
    YAML::Mark mark;
};

// Reads and parses a YAML file of at most `max_bytes`; errors are
// "FILE: cannot open: ..." or "FILE:LINE:COL: <YAML syntax error>".
Result<YAML::Node> load_file(const std::string& path, std::size_t max_bytes);

[[noreturn]] void error_at(const YAML::Mark& mark, const std::string& message);
// "FILE:LINE:COL: " with 1-based line and column.
std::string where(const std::string& file, const YAML::Mark& mark);
const char* type_name(const YAML::Node& n);

// One key/value pair, with the dotted name used in messages ("bounces.action").
struct Entry {
    std::string name;
    YAML::Node key;
    YAML::Node value;
};

std::string get_string(const Entry& e);
std::string get_nonempty_string(const Entry& e);
long long get_int(const Entry& e, long long min, long long max);
bool get_bool(const Entry& e);
// A list of strings (scalars); `what` names an item in errors ("a header name").
std::vector<std::string> get_string_list(const Entry& e, const std::string& what);
void expect_map(const Entry& e);
void expect_list(const Entry& e);
// An entry for item `i` of a list, for per-item errors ("content.rules[2]").
Entry list_item(const Entry& list, std::size_t i, const YAML::Node& item);

struct KeyInfo;

// What the manual says about one key.
struct Doc {
    std::string_view type = {};           // "string", "integer 0-600000", "list of strings" ...
    std::string_view default_value = {};  // as written in the file; empty: required, or none
    std::string_view description = {};    // one paragraph of plain text
    // The keys of a mapping value (or of each mapping in a list), if any.
    std::vector<KeyInfo> (*section)() = nullptr;
};

// A table row without its loader: what the documentation is built from.
struct KeyInfo {
    std::string_view name;
    bool required = false;
    Doc doc;
};

// A Key's loader that sets the bool member `Member` of T.
template <class T, bool T::*Member>
void load_flag(const Entry& e, T& out) {
    out.*Member = get_bool(e);
}

// The value of a closed set that `e` names; else an error
// "unknown WHAT 'x' (expected a, b or c)".
[[noreturn]] void unknown_choice(const Entry& e, std::string_view what, const std::string& name,
                                 const std::vector<std::string_view>& names);
template <class E>
E get_choice(const Entry& e, std::string_view what,
             std::initializer_list<std::pair<std::string_view, E>> choices) {
    const std::string name = get_string(e);
    std::vector<std::string_view> names;
    for (const auto& [n, value] : choices) {
        if (n == name) return value;
        names.push_back(n);
    }
    unknown_choice(e, what, name, names);
}

template <class T>
struct Key {
    std::string_view name;
    bool required;
    void (*load)(const Entry& e, T& out);
    Doc doc = {};
};

template <class T>
std::vector<KeyInfo> describe(std::span<const Key<T>> keys) {
    std::vector<KeyInfo> out;
    for (const Key<T>& key : keys) out.push_back({key.name, key.required, key.doc});
    return out;
}

// Walks `map` against `keys`.  `section` is "" at the top level, else the
// enclosing dotted name.
template <class T>
void load_mapping(const YAML::Node& map, std::string_view section, std::span<const Key<T>> keys,
                  T& out) {
    const std::string in = section.empty() ? "" : " in '" + std::string(section) + "'";
    std::vector<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
        // Copies: it->first refers into a temporary that dies with the statement.
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar())
            error_at(k.Mark(), "expected a key name, got " + std::string(type_name(k)));
        const std::string& name = k.Scalar();
        auto spec = std::find_if(keys.begin(), keys.end(),
                                 [&](const Key<T>& key) { return key.name == name; });
        if (spec == keys.end()) error_at(k.Mark(), "unknown key '" + name + "'" + in);
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
            error_at(k.Mark(), "duplicate key '" + name + "'" + in);
        seen.push_back(name);
        spec->load({section.empty() ? name : std::string(section) + "." + name, k, v}, out);
    }
    for (const Key<T>& key : keys) {
        if (key.required && std::find(seen.begin(), seen.end(), key.name) == seen.end())
            error_at(map.Mark(), "missing required key '" + std::string(key.name) + "'" + in);
    }
}

// A mapping-valued entry loaded against its own table.
template <class T>
void load_section(const Entry& e, std::span<const Key<T>> keys, T& out) {
    expect_map(e);
    load_mapping(e.value, e.name, keys, out);
}

}  // namespace mm::yaml
