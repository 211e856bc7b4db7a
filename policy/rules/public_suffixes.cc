#include "policy/rules/public_suffixes.h"

#include <ctime>

namespace mm::policy {

const psl_ctx_t* public_suffixes() {
    // psl_latest never returns null: it falls back to psl_builtin().
    static const psl_ctx_t* const ctx = psl_latest(nullptr);
    return ctx;
}

std::string public_suffix_source() {
    if (public_suffixes() != psl_builtin()) return psl_dist_filename();
    const std::time_t built = psl_builtin_file_time();
    char day[16] = "?";
    if (std::tm tm{}; gmtime_r(&built, &tm) != nullptr) std::strftime(day, sizeof day, "%F", &tm);
    return std::string("built-in (") + day + ")";
}

}  // namespace mm::policy
