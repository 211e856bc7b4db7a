// Alias generation: 16 lowercase hex characters (64 bits) from the kernel's
// CSPRNG (getrandom(2)).  Never derived from an address, so an alias says nothing about its
// owner.  Uniqueness is the store's job (it retries on a collision).
#pragma once

#include <string>

namespace mm::alias {

std::string generate_alias();
// True for a string of exactly 16 lowercase hex characters.
bool looks_like_alias(const std::string& local);

}  // namespace mm::alias
