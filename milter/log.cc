#include "milter/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace mm::milter {
namespace {

// Set once by log_open, before libmilter starts any thread.
bool g_syslog = true;

}  // namespace

void log_open(bool to_stderr, int facility) {
    // Without a syslog socket (a container, a test box) glibc tries to
    // connect again for every line: a socket and a failed connect per
    // message.  With stderr on, the lines go there alone; the next start
    // looks for the socket again.
    g_syslog = !to_stderr || access("/dev/log", F_OK) == 0;
    if (g_syslog) {
        openlog("marketplace-milter", LOG_PID | LOG_NDELAY | (to_stderr ? LOG_PERROR : 0),
                facility);
    } else {
        log_msg(LOG_NOTICE, "no syslog socket (/dev/log): logging to stderr only");
    }
}

void log_msg(int priority, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    if (g_syslog) {
        vsyslog(priority, format, ap);
    } else {
        // As syslog's LOG_PERROR writes it, in one write so that lines of
        // concurrent connections do not interleave.
        char line[2048];
        int n = std::snprintf(line, sizeof line, "marketplace-milter[%d]: ", getpid());
        if (n < 0) n = 0;
        const int m =
            std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, format, ap);
        size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
        if (len > sizeof line - 2) len = sizeof line - 2;
        line[len++] = '\n';
        (void)!write(STDERR_FILENO, line, len);
    }
    va_end(ap);
}

}  // namespace mm::milter
