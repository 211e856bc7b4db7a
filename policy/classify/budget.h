// The caller's bounds, as the classifier's loops see them.
//
// mm_classify knows nothing of messages or their limits (policy/limits.h
// lies above it), yet its loops run over a message's whole text: the
// caller passes a check that throws once its CPU budget is spent
// (policy::check_cpu_budget), which every text-sized loop calls through a
// BudgetStride, so no loop's bound rests on its data structures alone; and
// the most words it will hold, as each word costs memory (a token, its
// spelling), past which tokenize() throws TooManyWords.
#pragma once

#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

namespace mm::classify {

// Throws to stop the work; null: no budget.
using BudgetCheck = void (*)();

struct WorkBounds {
    BudgetCheck check = nullptr;
    std::size_t max_tokens = std::numeric_limits<std::size_t>::max();
};

class TooManyWords : public std::length_error {
public:
    explicit TooManyWords(std::size_t limit)
        : std::length_error("more than " + std::to_string(limit) + " words"), limit_(limit) {}
    std::size_t limit() const { return limit_; }

private:
    std::size_t limit_;
};

// Calls the check once per `stride` units of work: a clock read is a
// system call, a token a few hundred instructions.
class BudgetStride {
public:
    static constexpr std::size_t kDefaultStride = 4096;

    explicit BudgetStride(BudgetCheck check, std::size_t stride = kDefaultStride)
        : check_(check), stride_(stride), left_(stride) {}

    void tick(std::size_t work = 1) {
        if (check_ == nullptr) return;
        if (work < left_) {
            left_ -= work;
            return;
        }
        left_ = stride_;
        check_();
    }

    // At a boundary worth checking whatever the count (a new text).
    void now() const {
        if (check_ != nullptr) check_();
    }

private:
    BudgetCheck check_;
    std::size_t stride_;
    std::size_t left_;
};

}  // namespace mm::classify
