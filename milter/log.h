// Logging to syslog (facility mail), optionally mirrored to stderr (stderr
// alone when there is no syslog socket at start).  Lines
// about one message start with its queue id, as Postfix and OpenDKIM do:
// "4XbQ1: reject: ...".  Thread-safe (syslog is).
#pragma once

#include <syslog.h>

namespace mm::milter {

void log_open(bool to_stderr);
void log_msg(int priority, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace mm::milter
