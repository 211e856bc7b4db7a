// EvaluationGate: a counting semaphore that bounds how many messages are
// evaluated at once (config max_parallel_evaluations).  Every evaluation
// holds a parse tree, decode buffers and possibly a rewritten body; with 100
// SMTP sessions reaching end of message together, letting all of them run
// only multiplies that memory while the CPUs serve a few at a time anyway.
// The wait is bounded (a message still waiting after it is tempfailed, well
// before the MTA's milter timeout).
//
// Thread-safe.  A Permit gives its slot back when it goes out of scope.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

namespace mm::milter {

class EvaluationGate {
public:
    explicit EvaluationGate(int slots) : free_(slots > 0 ? slots : 1) {}

    class Permit {
    public:
        explicit Permit(EvaluationGate* gate) : gate_(gate) {}
        Permit(Permit&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
        Permit& operator=(Permit&&) = delete;
        Permit(const Permit&) = delete;
        Permit& operator=(const Permit&) = delete;
        ~Permit() {
            if (gate_ != nullptr) gate_->give_back();
        }

    private:
        EvaluationGate* gate_;
    };

    // A slot, or nothing if none came free within `timeout`.
    std::optional<Permit> acquire(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        if (!freed_.wait_for(lock, timeout, [&] { return free_ > 0; })) return std::nullopt;
        --free_;
        return std::optional<Permit>(std::in_place, this);
    }

private:
    void give_back() {
        {
            std::lock_guard lock(mu_);
            ++free_;
        }
        freed_.notify_one();
    }

    std::mutex mu_;
    std::condition_variable freed_;
    int free_;
};

}  // namespace mm::milter
