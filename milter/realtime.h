// Realtime scheduling for the short stretches where a message waits on this
// filter (config realtime_priority).
//
// With 20 SMTP sessions on 2 CPUs the MTA's processes keep both cores busy;
// a callback that needs 0.3 ms of CPU then spends 10-40 ms waiting for a core
// (measured from the audit log's milter_us), and every one of those
// milliseconds holds an SMTP session and a cleanup process open.  Running
// the callback's work under SCHED_FIFO lets it finish as soon as its input
// is there.  Measured (bench/RESULTS.md): milter_us p99 10 -> 0.6 ms on small
// messages, and the MTA's throughput and CPU per message no worse, as the
// filter's CPU time is the same and fewer wake-ups preempt it midway.
//
// Bounded on purpose: only messages whose body is held in memory (at most
// spill_threshold_bytes) run elevated, so a large message cannot hold a core
// away from the MTA for long; everything outside a RealtimeSection runs at
// the normal priority.  The kernel's realtime throttling
// (kernel.sched_rt_runtime_us) is the backstop.
#pragma once

#include <string>

namespace mm::milter {

// Checks once, at start, that this process may use SCHED_FIFO at `priority`
// (1-99; 0 turns the feature off).  Returns what to log: empty when enabled,
// otherwise why it is off.  Call before any RealtimeSection.
std::string enable_realtime(int priority);

// Whether enable_realtime succeeded.
bool realtime_enabled();

// Raises the calling thread to SCHED_FIFO for its lifetime, when `wanted`
// and realtime is enabled; restores the normal policy after.  Two system
// calls: for callbacks that do work, not for the one that copies a header.
class RealtimeSection {
public:
    explicit RealtimeSection(bool wanted);
    ~RealtimeSection();
    RealtimeSection(const RealtimeSection&) = delete;
    RealtimeSection& operator=(const RealtimeSection&) = delete;

private:
    bool raised_ = false;
};

}  // namespace mm::milter
