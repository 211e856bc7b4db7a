#include "milter/log.h"

#include <cstdarg>

namespace mm::milter {

void log_open(bool to_stderr) {
    openlog("marketplace-milter", LOG_PID | LOG_NDELAY | (to_stderr ? LOG_PERROR : 0), LOG_MAIL);
}

void log_msg(int priority, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}

}  // namespace mm::milter
