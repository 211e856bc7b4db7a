#include "util/hex.h"

// The SHA256_* functions, deprecated since OpenSSL 3.0 (see HmacPads).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
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

namespace {

// HMAC-SHA256 on OpenSSL's SHA-256 functions: the key's two padded blocks
// are hashed once (again when the key changes, at a reload) and each call
// goes on from copies of those two states, plain structs.  EVP_MAC did the
// same with digest contexts allocated, duplicated and freed per call, which
// cost as much as the hashing itself (six HMACs a message).  The SHA256_*
// functions are deprecated since OpenSSL 3.0 in favour of EVP; they run the
// same block code (SHA extensions included) without the provider layer.
struct HmacPads {
    SHA256_CTX inner;
    SHA256_CTX outer;
};

HmacPads make_pads(std::string_view key) {
    constexpr std::size_t kBlock = SHA256_CBLOCK;
    unsigned char k[kBlock] = {};
    const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
    if (key.size() > kBlock)
        SHA256(key_bytes, key.size(), k);  // a longer key is its digest
    else
        std::memcpy(k, key_bytes, key.size());
    unsigned char ipad[kBlock], opad[kBlock];
    for (std::size_t i = 0; i < kBlock; ++i) {
        ipad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
        opad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
    }
    HmacPads pads;
    if (SHA256_Init(&pads.inner) != 1 || SHA256_Update(&pads.inner, ipad, kBlock) != 1 ||
        SHA256_Init(&pads.outer) != 1 || SHA256_Update(&pads.outer, opad, kBlock) != 1)
        throw std::runtime_error("HMAC-SHA256: cannot key the digest");
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    return pads;
}

class KeyedPads {
public:
    HmacPads copy_for(std::string_view key) {
        std::lock_guard lock(mu_);
        if (!keyed_ || key != key_) {
            pads_ = make_pads(key);
            key_.assign(key);
            keyed_ = true;
        }
        return pads_;
    }

private:
    std::mutex mu_;
    bool keyed_ = false;  // guarded by mu_
    HmacPads pads_{};     // guarded by mu_
    std::string key_;     // guarded by mu_
};

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    static KeyedPads keyed;
    HmacPads pads = keyed.copy_for(key);
    unsigned char inner[SHA256_DIGEST_LENGTH];
    unsigned char md[SHA256_DIGEST_LENGTH];
    const bool ok = SHA256_Update(&pads.inner, data.data(), data.size()) == 1 &&
                    SHA256_Final(inner, &pads.inner) == 1 &&
                    SHA256_Update(&pads.outer, inner, sizeof inner) == 1 &&
                    SHA256_Final(md, &pads.outer) == 1;
    OPENSSL_cleanse(&pads, sizeof pads);
    if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
    return to_hex(md, sizeof md);
}

}  // namespace mm
