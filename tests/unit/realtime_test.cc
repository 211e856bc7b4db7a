// RealtimeSection: SCHED_FIFO while a callback works, the normal policy
// before and after.  Needs CAP_SYS_NICE (scripts/test runs as root); where
// the kernel refuses even root (a container without it) the tests say so
// and skip.
#include <gtest/gtest.h>
#include <sched.h>

#include <future>
#include <thread>

#include "milter/realtime.h"

namespace mm::milter {
namespace {

class RealtimeTest : public ::testing::Test {
protected:
    void TearDown() override { enable_realtime(0); }
    void enable_or_skip(int priority) {
        const std::string off = enable_realtime(priority);
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

TEST_F(RealtimeTest, PriorityZeroTurnsItOff) {
    EXPECT_EQ(enable_realtime(0), "realtime_priority is 0");
    EXPECT_FALSE(realtime_enabled());
    RealtimeSection section(true);
    EXPECT_EQ(sched_getscheduler(0), SCHED_OTHER);
}

TEST_F(RealtimeTest, AlreadyRealtimeProcessIsLeftAlone) {
    sched_param p{};
    p.sched_priority = 2;
    if (sched_setscheduler(0, SCHED_FIFO, &p) != 0) GTEST_SKIP() << "SCHED_FIFO not permitted";
    EXPECT_EQ(enable_realtime(1), "the daemon already runs under a realtime policy");
    EXPECT_FALSE(realtime_enabled());
    { RealtimeSection section(true); }
    EXPECT_EQ(sched_getscheduler(0), SCHED_FIFO);  // not "restored" to SCHED_OTHER
    p.sched_priority = 0;
    sched_setscheduler(0, SCHED_OTHER, &p);
}

}  // namespace
}  // namespace mm::milter
