#include "alias/response_report.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace mm::alias {

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    p = std::clamp(p, 0.0, 1.0);
    const double rank = p * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(rank));
    const auto hi = static_cast<std::size_t>(std::ceil(rank));
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

std::vector<SellerResponseStats> response_report(const std::vector<ResponseTime>& log,
                                                 std::int64_t within_s, std::int64_t now,
                                                 const std::vector<std::string>& always) {
    struct Acc {
        SellerResponseStats stats;
        std::vector<double> times;
    };
    std::map<std::string, Acc> by_seller;
    for (const auto& id : always) by_seller[id].stats.seller_id = id;
    for (const auto& e : log) {
        Acc& a = by_seller[e.seller_id];
        a.stats.seller_id = e.seller_id;
        ++a.stats.buyer_messages;
        if (e.first_reply_at != 0) {
            const auto t = std::max<std::int64_t>(0, e.first_reply_at - e.buyer_message_at);
            ++a.stats.answered;
            if (t <= within_s) ++a.stats.answered_within;
            a.times.push_back(static_cast<double>(t));
        } else if (now - e.buyer_message_at < within_s) {
            ++a.stats.pending;
        }
    }
    std::vector<SellerResponseStats> out;
    out.reserve(by_seller.size());
    for (auto& [id, a] : by_seller) {
        std::sort(a.times.begin(), a.times.end());
        if (!a.times.empty()) {
            a.stats.median_s = percentile(a.times, 0.5);
            a.stats.p90_s = percentile(a.times, 0.9);
        }
        const int decided = a.stats.buyer_messages - a.stats.pending;
        if (decided > 0)
            a.stats.share_within = static_cast<double>(a.stats.answered_within) / decided;
        out.push_back(std::move(a.stats));
    }
    return out;
}

double hours_1dp(double seconds) {
    return std::round(seconds / 360.0) / 10.0;
}

}  // namespace mm::alias
