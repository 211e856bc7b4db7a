// Realtime scheduling for the short stretches where a message waits on this
// filter (config realtime_priority).
//
// With 20 SMTP sessions on 2 CPUs the MTA's processes keep both cores busy;
// an end of message that needs 0.3 ms of CPU then spends 10-40 ms waiting
// for a core (measured from the audit log's milter_us), and every one of
// those milliseconds holds an SMTP session and a cleanup process open.
// Running it under SCHED_FIFO lets it finish as soon as its input is there.
// Measured (bench/RESULTS.md): milter_us p99 10 -> 0.7 ms on small messages,
// and the MTA's throughput and CPU per message no worse, as the filter's CPU
// time is the same.
//
// Bounded on purpose: only messages whose body is held in memory (at most
// spill_threshold_bytes) run elevated, and a section that uses more than its
// CPU budget (a message built to be slow: 250 KB of a thousand tiny parts
// takes ~150 ms) is returned to the normal priority by a CPU-time timer of
// its thread and finishes there, so no message holds a core away from the
// MTA for longer than the budget.  Everything outside a RealtimeSection runs
// at the normal priority.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mm::milter {

// Checks once, at start, that this process may use SCHED_FIFO at `priority`
// (1-99; 0 turns the feature off), and installs the handler of the budget
// timers' signal (SIGRTMIN).  Returns what to log: empty when enabled,
// otherwise why it is off.  Call before any RealtimeSection, before threads.
std::string enable_realtime(int priority, std::chrono::microseconds budget);

// The budget enable_realtime was given.
std::chrono::microseconds realtime_budget();

// Whether enable_realtime succeeded.
bool realtime_enabled();

// Sections that used up their budget since start (the daemon's metrics).
std::uint64_t realtime_budget_overruns();

// Raises the calling thread to SCHED_FIFO for its lifetime or until it has
// used the budget, when `wanted` and realtime is enabled; restores the normal
// policy after.  Four system calls (the policy and the timer, each set and
// reset): callbacks/on_eom uses one per message.
class RealtimeSection {
public:
    explicit RealtimeSection(bool wanted);
    ~RealtimeSection();
    RealtimeSection(const RealtimeSection&) = delete;
    RealtimeSection& operator=(const RealtimeSection&) = delete;

    // Whether the section was raised and has used up its budget.
    bool budget_spent() const;

private:
    bool raised_ = false;
};

}  // namespace mm::milter
