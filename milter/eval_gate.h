// EvaluationGate: a counting semaphore that bounds how many messages are
// evaluated at once (config max_parallel_evaluations).  Every evaluation
// holds a parse tree, decode buffers and possibly a rewritten body; with 100
// SMTP sessions reaching end of message together, letting all of them run
// only multiplies that memory while the CPUs serve a few at a time anyway.
// The wait is bounded (a message still waiting after it is tempfailed, well
// before the MTA's milter timeout).
//
// Thread-safe.  A Permit gives its slot back when it goes out of scope.
// load() says how many slots are taken and how many evaluations wait (the
// daemon's metrics).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

namespace mm::milter {

class EvaluationGate {
public:
    explicit EvaluationGate(int slots) : slots_(slots > 0 ? slots : 1), free_(slots_) {}

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
        ++waiting_;
        const bool got = freed_.wait_for(lock, timeout, [&] { return free_ > 0; });
        --waiting_;
        if (!got) return std::nullopt;
        --free_;
        return std::optional<Permit>(std::in_place, this);
    }

    struct Load {
        int in_flight = 0;  // slots taken
        int queued = 0;     // evaluations waiting for one
    };
    Load load() {
        std::lock_guard lock(mu_);
        return {slots_ - free_, waiting_};
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
    const int slots_;
    int free_;
    int waiting_ = 0;
};

}  // namespace mm::milter
