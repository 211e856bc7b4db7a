// What both Store backends derive from a ThreadEvent the same way: the
// [Important] counter's day, the start of the repeat window, and the name a
// thread goes by in error messages.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "alias/thread_state.h"
#include "util/utc_time.h"

namespace mm::alias {

// The UTC day of `t` as YYYY-MM-DD (the [Important] counter's key).
inline std::string utc_day(std::int64_t t) {
    return format_utc(t, "%Y-%m-%d");
}

// Fingerprints older than this are outside the repeat rule's window.
inline std::int64_t window_start(const ThreadEvent& e) {
    return e.now - std::max<std::int64_t>(0, e.repeat_window_s);
}

inline std::string thread_name(std::int64_t pair_id, const std::string& order_id) {
    return "thread of pair " + std::to_string(pair_id) + " order '" + order_id + "'";
}

}  // namespace mm::alias
