// Response-time report: per seller, how fast buyer messages were answered.
//
// Pure: takes the store's response-time log (Store::response_times) and
// computes, per seller, the number of buyer messages, how many were
// answered, the median and 90th percentile of the response time (answered
// messages only), and the share answered within a window.  The CLI's
// `report response-times` prints it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "alias/thread_state.h"

namespace mm::alias {

struct SellerResponseStats {
    std::string seller_id;
    int buyer_messages = 0;   // entries in the log
    int answered = 0;         // with a first reply
    int answered_within = 0;  // first reply within the window
    // Unanswered entries younger than the window: they may still be answered
    // in time, so they are left out of the share.
    int pending = 0;
    std::optional<double> median_s;  // over answered entries; nullopt if none
    std::optional<double> p90_s;
    // answered_within / (buyer_messages - pending); nullopt if that is 0.
    std::optional<double> share_within;
};

// Percentile p (0..1) of sorted values, interpolating linearly between the
// two closest ranks (numpy's default): the median of an even count is the
// mean of the middle two.  Requires a non-empty, ascending `sorted`.
double percentile(const std::vector<double>& sorted, double p);

// One entry per seller, in seller id order (entries may come in any order).
// `within_s`: the window for the share; `now`: for pending entries.  Sellers
// named in `always` get an entry (all zero) even without log entries.
std::vector<SellerResponseStats> response_report(const std::vector<ResponseTime>& log,
                                                 std::int64_t within_s, std::int64_t now,
                                                 const std::vector<std::string>& always = {});

// Seconds as hours with one decimal, e.g. 5400 -> 1.5.
double hours_1dp(double seconds);

}  // namespace mm::alias
