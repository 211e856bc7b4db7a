#include "milter/realtime.h"

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace mm::milter {
namespace {

// Written once by enable_realtime before libmilter starts its threads.
std::atomic<int> g_priority{0};
// The policy the process runs under (libmilter's threads inherit it), which a
// section returns to: SCHED_OTHER or SCHED_BATCH/IDLE if started that way.
int g_normal_policy = SCHED_OTHER;

bool set_fifo(int priority) {
    sched_param p{};
    p.sched_priority = priority;
    return sched_setscheduler(0, SCHED_FIFO, &p) == 0;
}

void set_normal() {
    sched_param p{};
    sched_setscheduler(0, g_normal_policy, &p);
}

}  // namespace

std::string enable_realtime(int priority) {
    g_priority = 0;
    if (priority <= 0) return "realtime_priority is 0";
    const int policy = sched_getscheduler(0);
    if (policy == SCHED_FIFO || policy == SCHED_RR)
        return "the daemon already runs under a realtime policy";
    if (policy >= 0) g_normal_policy = policy;
    if (!set_fifo(priority))
        return std::string("SCHED_FIFO at priority ") + std::to_string(priority) +
               " is not permitted (" + std::strerror(errno) +
               "; give the daemon CAP_SYS_NICE or RLIMIT_RTPRIO >= " + std::to_string(priority) +
               ", e.g. LimitRTPRIO= in its systemd unit)";
    set_normal();
    g_priority = priority;
    return "";
}

bool realtime_enabled() {
    return g_priority.load(std::memory_order_relaxed) > 0;
}

RealtimeSection::RealtimeSection(bool wanted) {
    const int priority = g_priority.load(std::memory_order_relaxed);
    if (wanted && priority > 0) raised_ = set_fifo(priority);
}

RealtimeSection::~RealtimeSection() {
    if (raised_) set_normal();
}

}  // namespace mm::milter
