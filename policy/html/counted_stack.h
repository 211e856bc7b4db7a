// A stack of small enum values (below N) with a count per value, so that
// asking whether a value is on it costs nothing, and with views: a view
// starts as the stack it was made from, reads it instead of copying it, and
// keeps its own pushes and pops apart.  The tokenizer keeps the open
// svg/math elements in one, and its lookaheads read them through views (a
// search per end tag, and a copy per lookahead, made deep foreign content
// quadratic).
//
// Internal to policy/html.  Not thread-safe; a view must not outlive the
// stack it reads, nor be used while that stack changes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mm::policy::html {

template <class T, std::size_t N>
class CountedStack {
public:
    CountedStack() = default;

    bool empty() const { return base_len_ == 0 && own_.empty(); }
    T front() const { return base_len_ > 0 ? (*base_)[0] : own_.front(); }
    T back() const { return own_.empty() ? (*base_)[base_len_ - 1] : own_.back(); }

    void push(T t) {
        own_.push_back(t);
        ++count_[index(t)];
    }

    void clear() {
        own_.clear();
        base_len_ = 0;
        count_ = {};
    }

    // Pops down to and including the topmost `t`, when one is on the stack.
    void pop_to(T t) {
        if (count_[index(t)] == 0) return;
        for (;;) {
            const T top = back();
            --count_[index(top)];
            if (own_.empty())
                --base_len_;
            else
                own_.pop_back();
            if (top == t) return;
        }
    }

    // A stack that starts as this one.  This stack must outlive the view and
    // not change while it is used; a view of a view is a copy.
    CountedStack view() const {
        CountedStack v;
        v.count_ = count_;
        if (base_ == nullptr) {
            v.base_ = &own_;
            v.base_len_ = own_.size();
        } else {
            v.own_.assign(base_->begin(), base_->begin() + static_cast<std::ptrdiff_t>(base_len_));
            v.own_.insert(v.own_.end(), own_.begin(), own_.end());
        }
        return v;
    }

private:
    static std::size_t index(T t) { return static_cast<std::size_t>(t); }

    const std::vector<T>* base_ = nullptr;  // a view's first base_len_ elements
    std::size_t base_len_ = 0;
    std::vector<T> own_;
    std::array<std::uint32_t, N> count_{};
};

}  // namespace mm::policy::html
