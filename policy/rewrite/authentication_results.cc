#include "policy/rewrite/authentication_results.h"

#include <libpsl.h>

#include <algorithm>

#include "util/strings.h"

namespace mm::policy {
namespace {

// The lexical units of RFC 8601 after CFWS: RFC 2045 tokens, quoted strings
// and the specials the grammar uses.  '.' is a token character (RFC 2045),
// so "header.d" and "example.com" are one token each.
struct Lexeme {
    enum class Kind { token, quoted, special, end, error };
    Kind kind = Kind::end;
    std::string text;  // a quoted string unquoted; a special's character
};

class Lexer {
public:
    explicit Lexer(std::string_view s) : s_(s) {}

    Lexeme next() {
        if (!skip_cfws()) return {Lexeme::Kind::error, {}};
        if (pos_ >= s_.size()) return {Lexeme::Kind::end, {}};
        const char c = s_[pos_];
        if (c == '"') return quoted();
        if (is_special(c)) {
            ++pos_;
            return {Lexeme::Kind::special, std::string(1, c)};
        }
        const std::size_t begin = pos_;
        while (pos_ < s_.size() && is_token_char(s_[pos_])) ++pos_;
        return {Lexeme::Kind::token, std::string(s_.substr(begin, pos_ - begin))};
    }

    Lexeme peek() {
        const std::size_t at = pos_;
        Lexeme l = next();
        pos_ = at;
        return l;
    }

private:
    // RFC 2045 tspecials; '.' is not one.
    static bool is_special(char c) {
        return std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos;
    }
    static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
    static bool is_token_char(char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f && !is_special(c);
    }

    // White space and comments, which nest and may hold quoted pairs.
    bool skip_cfws() {
        while (pos_ < s_.size()) {
            if (is_space(s_[pos_])) {
                ++pos_;
                continue;
            }
            if (s_[pos_] != '(') return true;
            int depth = 0;
            do {
                const char c = s_[pos_++];
                if (c == '\\') {
                    ++pos_;
                } else if (c == '(') {
                    ++depth;
                } else if (c == ')') {
                    --depth;
                }
            } while (depth > 0 && pos_ < s_.size());
            if (depth > 0) return false;
        }
        return true;
    }

    Lexeme quoted() {
        std::string out;
        for (++pos_; pos_ < s_.size(); ++pos_) {
            const char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                return {Lexeme::Kind::quoted, std::move(out)};
            }
            if (c == '\\' && pos_ + 1 < s_.size()) ++pos_;
            out.push_back(s_[pos_]);
        }
        return {Lexeme::Kind::error, {}};
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

bool is_special(const Lexeme& l, char c) {
    return l.kind == Lexeme::Kind::special && l.text.size() == 1 && l.text[0] == c;
}

bool is_value(const Lexeme& l) {
    return l.kind == Lexeme::Kind::token || l.kind == Lexeme::Kind::quoted;
}

// The grammar over the lexemes; every function returns false on a field
// that does not follow it.
class Parser {
public:
    explicit Parser(std::string_view s) : lex_(s) {}

    std::optional<AuthResults> field() {
        AuthResults out;
        Lexeme id = lex_.next();
        if (!is_value(id) || id.text.empty()) return std::nullopt;
        out.authserv_id = to_lower(id.text);
        Lexeme l = lex_.next();
        if (l.kind == Lexeme::Kind::token &&
            std::all_of(l.text.begin(), l.text.end(), [](char c) { return c >= '0' && c <= '9'; }))
            l = lex_.next();                          // authres-version
        if (l.kind == Lexeme::Kind::end) return out;  // RFC 7601 allowed an empty result list
        bool first = true;
        while (is_special(l, ';')) {
            Lexeme method = lex_.next();
            if (method.kind == Lexeme::Kind::end) {  // a trailing ';'
                l = std::move(method);
                break;
            }
            if (first && method.kind == Lexeme::Kind::token && iequals(method.text, "none")) {
                l = lex_.next();
                return l.kind == Lexeme::Kind::end ? std::optional<AuthResults>(out) : std::nullopt;
            }
            first = false;
            AuthResult r;
            if (!resinfo(method, r, l)) return std::nullopt;
            out.results.push_back(std::move(r));
        }
        if (l.kind != Lexeme::Kind::end) return std::nullopt;
        return out;
    }

private:
    // methodspec [reasonspec] *propspec, up to the lexeme after it (`after`).
    bool resinfo(const Lexeme& method, AuthResult& r, Lexeme& after) {
        if (method.kind != Lexeme::Kind::token) return false;
        r.method = to_lower(method.text);
        Lexeme l = lex_.next();
        if (is_special(l, '/')) {  // method-version
            if (lex_.next().kind != Lexeme::Kind::token) return false;
            l = lex_.next();
        }
        if (!is_special(l, '=')) return false;
        Lexeme result = lex_.next();
        if (result.kind != Lexeme::Kind::token) return false;
        r.result = to_lower(result.text);
        for (l = lex_.next(); l.kind == Lexeme::Kind::token; l = lex_.next()) {
            if (!property(l, r)) return false;
        }
        after = std::move(l);
        return true;
    }

    // reasonspec or propspec, its key in `key`: "reason", "header.d", or
    // "smtp" "." "mailfrom" with space between.
    bool property(const Lexeme& first, AuthResult& r) {
        std::string key = to_lower(first.text);
        Lexeme l = lex_.next();
        while (l.kind == Lexeme::Kind::token) {  // "ptype . property" written apart
            key += to_lower(l.text);
            l = lex_.next();
        }
        if (!is_special(l, '=')) return false;
        if (key != "reason") {
            const std::size_t dot = key.find('.');
            if (dot == 0 || dot == std::string::npos || dot + 1 == key.size()) return false;
        }
        std::string value;
        if (!pvalue(value)) return false;
        if (key != "reason") r.properties.emplace_back(std::move(key), std::move(value));
        return true;
    }

    // value, or [local-part] "@" domain-name.
    bool pvalue(std::string& value) {
        Lexeme l = lex_.peek();
        bool read = false;
        if (is_value(l)) {
            value = lex_.next().text;
            read = true;
            l = lex_.peek();
        }
        if (is_special(l, '@')) {
            lex_.next();
            Lexeme domain = lex_.next();
            if (domain.kind != Lexeme::Kind::token) return false;
            value += "@" + domain.text;
            return true;
        }
        return read;
    }

    Lexer lex_;
};

std::string domain_of(std::string_view value) {
    const std::size_t at = value.rfind('@');
    return to_lower(at == std::string_view::npos ? value : value.substr(at + 1));
}

// The domain a pass vouches for, by method; empty when it names none.
std::string vouched_domain(const AuthResult& r) {
    const char* keys[3] = {nullptr, nullptr, nullptr};
    if (r.method == "spf") {
        keys[0] = "smtp.mailfrom";
    } else if (r.method == "dkim") {
        keys[0] = "header.d";
        keys[1] = "header.i";
    } else if (r.method == "dmarc") {
        keys[0] = "header.from";
    }
    for (const char* key : keys) {
        if (key == nullptr) break;
        if (const std::string* v = r.property(key); v != nullptr && !v->empty())
            return domain_of(*v);
    }
    return {};
}

}  // namespace

const std::string* AuthResult::property(std::string_view key) const {
    for (const auto& [k, v] : properties)
        if (k == key) return &v;
    return nullptr;
}

std::optional<AuthResults> parse_authentication_results(std::string_view value) {
    return Parser(value).field();
}

std::string organizational_domain(std::string_view domain) {
    std::string name = to_lower(domain);
    while (!name.empty() && name.back() == '.') name.pop_back();
    const char* reg = psl_registrable_domain(psl_builtin(), name.c_str());
    return reg != nullptr ? std::string(reg) : name;
}

SenderAuthentication judge_authentication(const Message& message,
                                          const AuthenticationPolicy& policy,
                                          std::string_view domain) {
    SenderAuthentication out;
    const std::string party = domain.empty() ? std::string() : organizational_domain(domain);
    int occurrence = 0;
    for (const Header& h : message.headers) {
        if (!iequals(h.name, "Authentication-Results")) continue;
        ++occurrence;
        const std::optional<AuthResults> field = parse_authentication_results(h.value);
        if (!field ||
            std::find(policy.trusted_authserv_ids.begin(), policy.trusted_authserv_ids.end(),
                      field->authserv_id) == policy.trusted_authserv_ids.end()) {
            out.untrusted.push_back(occurrence);
            continue;
        }
        ++out.trusted;
        if (party.empty() || !out.aligned_pass.empty()) continue;
        for (const AuthResult& r : field->results) {
            if (r.result != "pass") continue;
            const std::string vouched = vouched_domain(r);
            if (!vouched.empty() && organizational_domain(vouched) == party) {
                out.aligned_pass = r.method + " " + vouched;
                break;
            }
        }
    }
    return out;
}

}  // namespace mm::policy
