// RealtimeSection: SCHED_FIFO while a callback works, the normal policy
// before and after.  Needs CAP_SYS_NICE (scripts/test runs as root); where
// the kernel refuses even root (a container without it) the tests say so
// and skip.
#include <gtest/gtest.h>
#include <sched.h>

#include <time.h>

#include <chrono>
#include <future>
#include <thread>

#include "milter/realtime.h"

namespace mm::milter {
namespace {

constexpr std::chrono::milliseconds kBudget{20};

class RealtimeTest : public ::testing::Test {
protected:
    void TearDown() override { enable_realtime(0, kBudget); }
    void enable_or_skip(int priority) {
        const std::string off = enable_realtime(priority, kBudget);
        if (!off.empty()) GTEST_SKIP() << off;
    }
};

int priority_now() {
    sched_param p{};
    sched_getparam(0, &p);
    return p.sched_priority;
}

TEST_F(RealtimeTest, SectionRaisesThenRestores) {
    enable_or_skip(3);
    EXPECT_TRUE(realtime_enabled());
    ASSERT_EQ(sched_getscheduler(0), SCHED_OTHER);
    {
        RealtimeSection section(true);
        EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);
        EXPECT_EQ(priority_now(), 3);
    }
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    EXPECT_EQ(priority_now(), 0);
}

TEST_F(RealtimeTest, SectionNotWantedLeavesThePolicy) {
    enable_or_skip(1);
    RealtimeSection section(false);
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

TEST_F(RealtimeTest, EnableLeavesTheCallingThreadAsItWas) {
    enable_or_skip(1);
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

// The section changes the calling thread only: another connection's thread,
// running meanwhile, keeps the normal policy.
TEST_F(RealtimeTest, OtherThreadsAreNotAffected) {
    enable_or_skip(1);
    std::promise<void> raised;
    std::promise<int> seen;
    std::thread other([&] {
        raised.get_future().wait();
        seen.set_value(sched_getscheduler(0));
    });
    {
        RealtimeSection section(true);
        raised.set_value();
        EXPECT_EQ(seen.get_future().get(), SCHED_OTHER);
        EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);
    }
    other.join();
}

std::chrono::nanoseconds thread_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

void burn_cpu(std::chrono::milliseconds how_long) {
    const auto until = thread_cpu() + how_long;
    volatile unsigned sink = 0;
    while (thread_cpu() < until) sink = sink + 1;
}

// Work that outlasts the budget finishes at the normal priority; the next
// section gets a fresh budget.
TEST_F(RealtimeTest, BudgetSpentReturnsToNormalPriority) {
    const std::string off = enable_realtime(1, std::chrono::milliseconds(5));
    if (!off.empty()) GTEST_SKIP() << off;
    {
        RealtimeSection section(true);
        burn_cpu(std::chrono::milliseconds(30));
        EXPECT_TRUE(section.budget_spent());
        EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    }
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
    {
        RealtimeSection section(true);
        burn_cpu(std::chrono::milliseconds(1));
        EXPECT_FALSE(section.budget_spent());
        EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);
    }
}

// Time blocked does not count: the budget is CPU time.
TEST_F(RealtimeTest, BudgetIsCpuTimeNotWallTime) {
    const std::string off = enable_realtime(1, std::chrono::milliseconds(5));
    if (!off.empty()) GTEST_SKIP() << off;
    RealtimeSection section(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_FALSE(section.budget_spent());
    EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);
}

TEST_F(RealtimeTest, PriorityZeroTurnsItOff) {
    EXPECT_EQ(enable_realtime(0, kBudget), "realtime_priority is 0");
    EXPECT_FALSE(realtime_enabled());
    RealtimeSection section(true);
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

TEST_F(RealtimeTest, AlreadyRealtimeProcessIsLeftAlone) {
    sched_param p{};
    p.sched_priority = 2;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0) GTEST_SKIP() << "SCHED_FIFO not permitted";
    EXPECT_EQ(enable_realtime(1, kBudget), "the daemon already runs under a realtime policy");
    EXPECT_FALSE(realtime_enabled());
    { RealtimeSection section(true); }
    EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);  // not "restored" to SCHED_OTHER
    p.sched_priority = 0;
    sched_setscheduler(0, SCHED_OTHER, &p);
}

}  // namespace
}  // namespace mm::milter
