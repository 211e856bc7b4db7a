// Logging to syslog (the config's log.facility, mail by default), optionally mirrored to stderr
// (stderr alone when there is no syslog socket at start).  Lines about one message start with its
// queue id, as Postfix and OpenDKIM do: "4XbQ1: reject: ...".  Thread-safe (syslog is).
#pragma once

#include <syslog.h>

#include <string>

namespace mm::milter {

void log_open(bool to_stderr, int facility = LOG_MAIL);
void log_msg(int priority, const char* format, ...) __attribute__((format(printf, 2, 3)));

// What a line about one message starts with: its queue id, or "NOQUEUE"
// before Postfix assigned one (as Postfix logs it).  Valid while `qid` lives.
inline const char* log_qid(const std::string& qid) {
    return qid.empty() ? "NOQUEUE" : qid.c_str();
}

}  // namespace mm::milter
