#include "policy/classify/expression.h"

#include <algorithm>

namespace mm::classify {

// Recursive descent over  or := and ('|' and)* ; and := unary ('&' unary)* ;
// unary := '!' unary | '(' or ')' | NAME.  Nesting is bounded so that a
// hostile policy cannot exhaust the stack.
class ExpressionParser {
public:
    ExpressionParser(std::string_view s, Expression& out) : s_(s), out_(out) {}

    bool run(Expression::ParseError* error) {
        if (!parse_or(0) || (skip(), pos_ != s_.size())) {
            if (error_.empty()) fail("unexpected '" + std::string(1, s_[pos_]) + "'");
            if (error != nullptr) *error = {pos_, error_};
            return false;
        }
        return true;
    }

private:
    static constexpr int kMaxDepth = 32;

    void skip() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n'))
            ++pos_;
    }
    bool fail(std::string message) {
        if (error_.empty()) error_ = std::move(message);
        return false;
    }
    bool peek(char c) {
        skip();
        return pos_ < s_.size() && s_[pos_] == c;
    }
    void emit(Expression::Op op, std::uint8_t concept_id = 0) {
        out_.program_.push_back({op, concept_id});
    }

    bool parse_or(int depth) {
        if (!parse_and(depth)) return false;
        while (peek('|')) {
            ++pos_;
            if (!parse_and(depth)) return false;
            emit(Expression::Op::op_or);
        }
        return true;
    }
    bool parse_and(int depth) {
        if (!parse_unary(depth, false)) return false;
        while (peek('&')) {
            ++pos_;
            if (!parse_unary(depth, false)) return false;
            emit(Expression::Op::op_and);
        }
        return true;
    }
    bool parse_unary(int depth, bool negated) {
        if (depth > kMaxDepth) return fail("nested too deeply");
        skip();
        if (pos_ == s_.size()) return fail("expected a concept name, '!' or '('");
        char c = s_[pos_];
        if (c == '!') {
            ++pos_;
            if (!parse_unary(depth + 1, !negated)) return false;
            emit(Expression::Op::op_not);
            return true;
        }
        if (c == '(') {
            ++pos_;
            std::size_t before = pos_;
            bool saved = negated_;
            negated_ = negated;
            bool ok = parse_or(depth + 1);
            negated_ = saved;
            if (!ok) return false;
            if (!peek(')')) {
                if (pos_ == s_.size()) pos_ = before - 1;
                return fail("missing ')'");
            }
            ++pos_;
            return true;
        }
        return parse_name(negated || negated_);
    }
    bool parse_name(bool negated) {
        std::size_t b = pos_;
        while (pos_ < s_.size() && ((s_[pos_] >= 'A' && s_[pos_] <= 'Z') ||
                                    (s_[pos_] >= '0' && s_[pos_] <= '9') || s_[pos_] == '_'))
            ++pos_;
        if (pos_ == b || !(s_[b] >= 'A' && s_[b] <= 'Z')) {
            if (pos_ < s_.size() && s_[pos_] >= 'a' && s_[pos_] <= 'z')
                return fail("concept names are UPPER_SNAKE_CASE");
            return fail("expected a concept name, '!' or '('");
        }
        std::string name(s_.substr(b, pos_ - b));
        auto& names = out_.names_;
        auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end()) {
            if (names.size() == Expression::kMaxConcepts) {
                pos_ = b;
                return fail("more than 64 concepts in one expression");
            }
            names.push_back(std::move(name));
            it = names.end() - 1;
        }
        auto index = static_cast<std::uint8_t>(it - names.begin());
        if (!negated) out_.positive_ |= std::uint64_t{1} << index;
        emit(Expression::Op::push, index);
        return true;
    }

    std::string_view s_;
    Expression& out_;
    std::size_t pos_ = 0;
    bool negated_ = false;
    std::string error_;
};

Expression Expression::parse(std::string_view text, ParseError* error) {
    Expression e;
    e.text_ = std::string(text);
    ExpressionParser p(text, e);
    if (!p.run(error)) return Expression{};
    if (e.positive_ == 0) {
        if (error != nullptr) *error = {0, "needs at least one concept outside '!'"};
        return Expression{};
    }
    return e;
}

bool Expression::eval(std::uint64_t present) const {
    // The stack of intermediate truth values, one bit each.
    std::uint64_t stack = 0;
    int depth = 0;
    for (const Step& s : program_) {
        switch (s.op) {
            case Op::push:
                stack = (stack << 1) | ((present >> s.concept_id) & 1u);
                ++depth;
                break;
            case Op::op_not:
                stack ^= 1u;
                break;
            case Op::op_and:
                stack = (stack >> 1) & (stack | ~std::uint64_t{1});
                --depth;
                break;
            case Op::op_or:
                stack = (stack >> 1) | (stack & 1u);
                --depth;
                break;
        }
    }
    return depth == 1 && (stack & 1u);
}

}  // namespace mm::classify
