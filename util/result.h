// Result<T>: the value of a fallible call, or the Failure that says why not.
//
// Store lookups and loaders return Result so that callers must look at the
// failure kind: at the milter an `unavailable` failure becomes a tempfail, in
// the CLI `invalid`/`conflict`/`not_found` become exit code 2.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mm {

enum class Errc {
    invalid,      // the caller's input is wrong (malformed address, bad id)
    not_found,    // a named thing does not exist
    conflict,     // it exists already (duplicate id)
    unavailable,  // the backend cannot answer now (I/O, locked, down): retry later
    internal,     // a broken assumption inside this program
};

const char* to_string(Errc e);

struct Failure {
    Errc code = Errc::internal;
    std::string message;
};

inline Failure fail(Errc code, std::string message) {
    return Failure{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Failure f) : v_(std::move(f)) {}    // NOLINT: implicit by design

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Failure& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Failure> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Failure f) : failed_(true), f_(std::move(f)) {}  // NOLINT: implicit by design

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Failure& error() const { return f_; }

private:
    bool failed_ = false;
    Failure f_;
};

}  // namespace mm
