#include "util/hex.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
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

struct MacCtxFree {
    void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

// HMAC() fetches the HMAC and SHA-256 implementations from OpenSSL's
// provider store on every call, under its global locks: with one audit
// header per message on 20 connection threads that was ~3% of the filter's
// CPU.  One context is keyed once (again when the key changes, at a reload)
// and each call works on a copy of it.
class KeyedHmac {
public:
    MacCtxPtr copy_for(std::string_view key) {
        std::lock_guard lock(mu_);
        if (!keyed_ || key != key_) {
            keyed_ = make(key);
            key_.assign(key);
        }
        MacCtxPtr copy(EVP_MAC_CTX_dup(keyed_.get()));
        if (!copy) throw std::runtime_error("HMAC-SHA256: cannot copy the keyed context");
        return copy;
    }

private:
    static MacCtxPtr make(std::string_view key) {
        struct MacFree {
            void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
        };
        std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
        if (!mac) throw std::runtime_error("HMAC-SHA256: no HMAC implementation");
        MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));  // holds its own reference to mac
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                     OSSL_PARAM_construct_end()};
        if (!ctx || EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()),
                                 key.size(), params) != 1)
            throw std::runtime_error("HMAC-SHA256: cannot key the context");
        return ctx;
    }

    std::mutex mu_;
    MacCtxPtr keyed_;  // guarded by mu_
    std::string key_;  // guarded by mu_
};

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
    static KeyedHmac keyed;
    MacCtxPtr ctx = keyed.copy_for(key);
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1 ||
        EVP_MAC_final(ctx.get(), md, &md_len, sizeof md) != 1)
        throw std::runtime_error("HMAC-SHA256 failed");
    return to_hex(md, md_len);
}

}  // namespace mm
