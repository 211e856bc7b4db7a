// Alias generation from the kernel's CSPRNG (via mm::random_hex).  Thread-safe.
#include "alias/alias_generator.h"

#include <algorithm>

#include "util/hex.h"

namespace mm::alias {

namespace {
constexpr std::size_t kAliasBytes = 8;  // 64 bits -> 16 hex characters
}

std::string generate_alias() {
    return mm::random_hex(kAliasBytes);
}

bool looks_like_alias(const std::string& local) {
    return local.size() == 2 * kAliasBytes && std::all_of(local.begin(), local.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

}  // namespace mm::alias
