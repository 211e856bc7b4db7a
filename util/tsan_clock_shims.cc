// Linked into every program of a ThreadSanitizer build (MM_SANITIZE=thread),
// never into any other build.
//
// libstdc++ implements std::timed_mutex::try_lock_for and the steady-clock
// waits of std::condition_variable with pthread_mutex_clocklock and
// pthread_cond_clockwait, which the ThreadSanitizer runtime of this compiler
// does not intercept (llvm-project issue 62623).  It then misses the lock and
// the unlock-relock around the wait, and reports "unlock of an unlocked
// mutex" and races that are not there.  These definitions come before libc's
// in symbol lookup and hand the same waits to the intercepted realtime
// calls, so ThreadSanitizer sees every lock the program takes.
#include <pthread.h>
#include <time.h>

namespace {

constexpr long long kNanos = 1000000000LL;

timespec to_realtime(clockid_t clock, const timespec* abstime) {
    if (clock == CLOCK_REALTIME) return *abstime;
    timespec now{}, real{};
    clock_gettime(clock, &now);
    clock_gettime(CLOCK_REALTIME, &real);
    long long left = (abstime->tv_sec - now.tv_sec) * kNanos + (abstime->tv_nsec - now.tv_nsec);
    if (left < 0) left = 0;
    const long long at = real.tv_nsec + left;
    timespec out{};
    out.tv_sec = real.tv_sec + static_cast<time_t>(at / kNanos);
    out.tv_nsec = static_cast<long>(at % kNanos);
    return out;
}

}  // namespace

extern "C" {

int pthread_cond_clockwait(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock,
                           const timespec* abstime) {
    const timespec at = to_realtime(clock, abstime);
    return pthread_cond_timedwait(cond, mutex, &at);
}

int pthread_mutex_clocklock(pthread_mutex_t* mutex, clockid_t clock,
                            const timespec* abstime) noexcept {
    const timespec at = to_realtime(clock, abstime);
    return pthread_mutex_timedlock(mutex, &at);
}

}  // extern "C"
