// `when:` expressions: concept names (UPPER_SNAKE), `&`, `|`, `!` and
// parentheses; `!` binds tightest, then `&`, then `|`.  Parsed once into a
// postfix program that is evaluated over a bit set of the concepts present
// (at most 64 distinct concepts per expression): a handful of operations
// per evaluation, cheap enough for every match position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace mm::classify {

class Expression {
public:
    static constexpr std::size_t kMaxConcepts = 64;
    struct ParseError {
        std::size_t offset;  // byte offset in the expression
        std::string message;
    };
    // Returns the expression or where it is wrong.
    static Expression parse(std::string_view text, ParseError* error);

    bool ok() const { return !program_.empty(); }
    // The distinct concept names, in order of first use; bit i of a mask
    // passed to eval() is names()[i].
    const std::vector<std::string>& names() const { return names_; }
    // Bits of the concepts that occur outside any `!` (the ones that can
    // make a rule fire).
    std::uint64_t positive() const { return positive_; }
    bool eval(std::uint64_t present) const;
    const std::string& text() const { return text_; }

private:
    enum class Op : std::uint8_t { push, op_not, op_and, op_or };
    struct Step {
        Op op;
        std::uint8_t concept_id;
    };
    friend class ExpressionParser;
    std::string text_;
    std::vector<std::string> names_;
    std::vector<Step> program_;
    std::uint64_t positive_ = 0;
};

}  // namespace mm::classify
