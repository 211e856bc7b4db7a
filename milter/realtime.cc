#include "milter/realtime.h"

#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace mm::milter {
namespace {

// Written once by enable_realtime before libmilter starts its threads.
std::atomic<int> g_priority{0};
// The policy the process runs under (libmilter's threads inherit it), which a
// section returns to: SCHED_OTHER or SCHED_BATCH/IDLE if started that way.
int g_normal_policy = SCHED_OTHER;
std::atomic<long> g_budget_ns{0};
// Set by the budget's signal handler on the thread it interrupts.
thread_local volatile std::sig_atomic_t t_budget_spent = 0;
// Counted when a section ends, not in the handler.
std::atomic<std::uint64_t> g_overruns{0};

int budget_signal() {
    return SIGRTMIN;
}

bool set_fifo(int priority) {
    sched_param p{};
    p.sched_priority = priority;
    return sched_setscheduler(0, SCHED_FIFO, &p) == 0;
}

void set_normal() {
    sched_param p{};
    sched_setscheduler(0, g_normal_policy, &p);
}

// Runs on the thread whose budget ran out: back to the normal policy, the
// section's work goes on there.  A system call and a flag: async-signal-safe.
void on_budget_spent(int) {
    const int saved = errno;
    set_normal();
    t_budget_spent = 1;
    errno = saved;
}

// A CPU-time timer of the calling thread, made at its first section and
// deleted when the thread ends (libmilter ends a connection's thread with the
// connection).
class ThreadBudgetTimer {
public:
    ThreadBudgetTimer() {
        sigevent ev{};
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = budget_signal();
        ev._sigev_un._tid = gettid();
        ok_ = timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &id_) == 0;
    }
    ~ThreadBudgetTimer() {
        if (ok_) timer_delete(id_);
    }
    ThreadBudgetTimer(const ThreadBudgetTimer&) = delete;
    ThreadBudgetTimer& operator=(const ThreadBudgetTimer&) = delete;

    bool arm(long ns) {
        itimerspec t{};
        t.it_value.tv_sec = ns / 1000000000L;
        t.it_value.tv_nsec = ns % 1000000000L;
        return ok_ && timer_settime(id_, 0, &t, nullptr) == 0;
    }
    void disarm() {
        itimerspec t{};
        if (ok_) timer_settime(id_, 0, &t, nullptr);
    }

private:
    timer_t id_{};
    bool ok_ = false;
};

ThreadBudgetTimer& thread_timer() {
    // Per thread, not per connection: a CPU-time clock belongs to a thread.
    thread_local ThreadBudgetTimer timer;
    return timer;
}

}  // namespace

std::string enable_realtime(int priority, std::chrono::microseconds budget) {
    g_priority = 0;
    if (priority <= 0) return "realtime_priority is 0";
    const int policy = sched_getscheduler(0);
    if (policy == SCHED_FIFO || policy == SCHED_RR)
        return "the daemon already runs under a realtime policy";
    if (policy >= 0) g_normal_policy = policy;
    struct sigaction sa {};
    sa.sa_handler = on_budget_spent;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(budget_signal(), &sa, nullptr) != 0)
        return std::string("cannot install the realtime budget's signal handler: ") +
               std::strerror(errno);
    if (!set_fifo(priority))
        return std::string("SCHED_FIFO at priority ") + std::to_string(priority) +
               " is not permitted (" + std::strerror(errno) +
               "; give the daemon CAP_SYS_NICE or RLIMIT_RTPRIO >= " + std::to_string(priority) +
               ", e.g. LimitRTPRIO= in its systemd unit)";
    set_normal();
    g_budget_ns = static_cast<long>(budget.count()) * 1000L;
    g_priority = priority;
    return "";
}

std::chrono::microseconds realtime_budget() {
    return std::chrono::microseconds(g_budget_ns.load(std::memory_order_relaxed) / 1000);
}

bool realtime_enabled() {
    return g_priority.load(std::memory_order_relaxed) > 0;
}

RealtimeSection::RealtimeSection(bool wanted) {
    const int priority = g_priority.load(std::memory_order_relaxed);
    if (!wanted || priority <= 0) return;
    // Without a working budget no section is raised: unbounded realtime
    // work could keep the MTA from the CPUs.
    t_budget_spent = 0;
    if (!thread_timer().arm(g_budget_ns.load(std::memory_order_relaxed))) return;
    raised_ = set_fifo(priority);
    if (!raised_) thread_timer().disarm();
}

std::uint64_t realtime_budget_overruns() {
    return g_overruns.load(std::memory_order_relaxed);
}

bool RealtimeSection::budget_spent() const {
    return raised_ && t_budget_spent != 0;
}

RealtimeSection::~RealtimeSection() {
    if (!raised_) return;
    thread_timer().disarm();
    if (t_budget_spent != 0) g_overruns.fetch_add(1, std::memory_order_relaxed);
    set_normal();
}

}  // namespace mm::milter
