#include "policy/yaml_schema.h"

#include "util/file.h"

#include <charconv>

namespace mm::yaml {

Result<YAML::Node> load_file(const std::string& path, std::size_t max_bytes) {
    auto text = read_file_bounded(path, max_bytes);
    if (!text) return fail(Errc::invalid, path + ": " + text.error().message);
    try {
        return YAML::Load(text.value());
    } catch (const YAML::Exception& e) {
        return fail(Errc::invalid, where(path, e.mark) + e.msg);
    }
}

void error_at(const YAML::Mark& mark, const std::string& message) {
    throw SchemaError(mark, message);
}

void unknown_choice(const Entry& e, std::string_view what, const std::string& name,
                    const std::vector<std::string_view>& names) {
    std::string expected;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) expected += i + 1 == names.size() ? " or " : ", ";
        expected += names[i];
    }
    error_at(e.value.Mark(),
             "unknown " + std::string(what) + " '" + name + "' (expected " + expected + ")");
}

std::string where(const std::string& file, const YAML::Mark& mark) {
    int line = mark.is_null() ? 1 : mark.line + 1;
    int col = mark.is_null() ? 1 : mark.column + 1;
    return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
}

const char* type_name(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Scalar:
            return "a scalar";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

std::string get_string(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsScalar())
        error_at(e.value.Mark(), e.name + ": expected a string, got " + type_name(e.value));
    return e.value.Scalar();
}

std::string get_nonempty_string(const Entry& e) {
    std::string s = get_string(e);
    if (s.empty()) error_at(e.value.Mark(), e.name + ": must not be empty");
    return s;
}

// A decimal integer in [min, max]; no hex, octal, floats or units.
long long get_int(const Entry& e, long long min, long long max) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsScalar())
        error_at(e.value.Mark(), e.name + ": expected an integer, got " + type_name(e.value));
    const std::string& s = e.value.Scalar();
    long long v = 0;
    const char* first = s.data();
    const char* last = s.data() + s.size();
    if (first != last && *first == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && ptr == last && (v < min || v > max)))
        error_at(e.value.Mark(), e.name + ": " + s + " is out of range (" + std::to_string(min) +
                                     " to " + std::to_string(max) + ")");
    if (ec != std::errc() || ptr != last || s.empty())
        error_at(e.value.Mark(), e.name + ": expected an integer, got '" + s + "'");
    return v;
}

// YAML 1.2 core booleans only: yes/no/on/off are too easy to misread.
bool get_bool(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (e.value.IsScalar()) {
        const std::string& s = e.value.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
        error_at(e.value.Mark(), e.name + ": expected true or false, got '" + s + "'");
    }
    error_at(e.value.Mark(), e.name + ": expected true or false, got " + type_name(e.value));
}

std::vector<std::string> get_string_list(const Entry& e, const std::string& what) {
    expect_list(e);
    std::vector<std::string> out;
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(), e.name + ": expected " + what + ", got " + type_name(item));
        out.push_back(item.Scalar());
    }
    return out;
}

void expect_map(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsMap())
        error_at(e.value.Mark(), e.name + ": expected a mapping, got " + type_name(e.value));
}

void expect_list(const Entry& e) {
    if (e.value.IsNull()) error_at(e.key.Mark(), e.name + ": missing value");
    if (!e.value.IsSequence())
        error_at(e.value.Mark(), e.name + ": expected a list, got " + type_name(e.value));
}

Entry list_item(const Entry& list, std::size_t i, const YAML::Node& item) {
    return {list.name + "[" + std::to_string(i) + "]", item, item};
}

}  // namespace mm::yaml
