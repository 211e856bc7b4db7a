// A Unix time as UTC text (strftime's `format`), for dates in store keys,
// JSON output and log lines.  Thread-safe (gmtime_r).
#pragma once

#include <cstdint>
#include <string>

namespace mm {

// `format` must expand to fewer than 64 bytes; "" if it does not.
std::string format_utc(std::int64_t unix_seconds, const char* format);

}  // namespace mm
