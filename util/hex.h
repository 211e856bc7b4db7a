// Random identifiers and hex encoding.  random_hex() draws from the kernel's
// CSPRNG (getrandom) and throws std::runtime_error if it cannot: an alias or
// audit id must never come from a weak source.  Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mm {

std::string to_hex(const unsigned char* data, size_t len);
// `bytes` random bytes as 2*bytes lowercase hex characters.
std::string random_hex(size_t bytes);
// HMAC-SHA256(key, data) as lowercase hex.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace mm
