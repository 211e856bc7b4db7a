#include "audit/audit_binding.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>

#include "util/address.h"
#include "util/hex.h"

namespace mm::milter {
namespace {

// Fetched once: an implicit fetch per digest goes through OpenSSL's provider
// store under its global lock (util/hex.cc measured that for the HMAC).
// Never freed: OpenSSL's own exit handler may run before a static destructor.
const EVP_MD* sha256_md() {
    static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) throw std::runtime_error("SHA-256: no implementation");
    return md;
}

class BodyDigest {
public:
    BodyDigest() : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), sha256_md(), nullptr) != 1)
            throw std::runtime_error("SHA-256: cannot start a digest");
    }

    // Bare LF becomes CRLF, also when the CR ended the previous chunk.
    void feed(std::string_view chunk) {
        std::size_t start = 0;
        for (std::size_t i = chunk.find('\n'); i != std::string_view::npos;
             i = chunk.find('\n', i + 1)) {
            const bool after_cr = i > 0 ? chunk[i - 1] == '\r' : prev_cr_;
            if (after_cr) continue;
            update(chunk.substr(start, i - start));
            update("\r\n");
            start = i + 1;
        }
        update(chunk.substr(start));
        if (!chunk.empty()) prev_cr_ = chunk.back() == '\r';
    }

    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1)
            throw std::runtime_error("SHA-256: cannot finish the digest");
        return to_hex(md, len);
    }

private:
    void update(std::string_view s) {
        if (!s.empty() && EVP_DigestUpdate(ctx_.get(), s.data(), s.size()) != 1)
            throw std::runtime_error("SHA-256: digest update failed");
    }

    struct CtxFree {
        void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
    };
    std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
    bool prev_cr_ = false;
};

std::string first_field(const std::vector<policy::Header>& headers, std::string_view name) {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return canonical_field(h.value);
    return "";
}

}  // namespace

std::string canonical_field(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value)
        if (c != '\r' && c != '\n') out.push_back(c);
    const auto first = out.find_first_not_of(" \t");
    if (first == std::string::npos) return "";
    const auto last = out.find_last_not_of(" \t");
    return out.substr(first, last - first + 1);
}

std::string canonical_recipients(const std::vector<std::string>& addresses) {
    std::vector<std::string> norm;
    norm.reserve(addresses.size());
    for (const auto& a : addresses) {
        std::string n = normalize_address(a);
        if (!n.empty()) norm.push_back(std::move(n));
    }
    std::sort(norm.begin(), norm.end());
    norm.erase(std::unique(norm.begin(), norm.end()), norm.end());
    std::string out;
    for (const auto& n : norm) {
        if (!out.empty()) out += ',';
        out += n;
    }
    return out;
}

std::string body_sha256(const policy::MessageBody& body) {
    BodyDigest digest;
    body.for_each_chunk([&digest](std::string_view piece) { digest.feed(piece); });
    return digest.hex();
}

BoundFields bound_fields(const std::vector<policy::Header>& headers,
                         const std::vector<std::string>& recipients,
                         const policy::MessageBody& body) {
    return bound_fields(headers, recipients, body_sha256(body));
}

BoundFields bound_fields(const std::vector<policy::Header>& headers,
                         const std::vector<std::string>& recipients, std::string body_digest) {
    return {first_field(headers, "Message-ID"), canonical_recipients(recipients),
            first_field(headers, "Date"), std::move(body_digest)};
}

const std::string& bound_value(const BoundFields& fields, std::string_view name) {
    if (name == "msgid") return fields.message_id;
    if (name == "rcpt") return fields.recipients;
    if (name == "date") return fields.date;
    if (name == "body") return fields.body_sha256;
    throw std::invalid_argument("no bound field named " + std::string(name));
}

std::string bind_tag(std::string_view name, std::string_view value, const std::string& key) {
    std::string data = "X-Marketplace-Audit bind\n";
    data += name;
    data += '\n';
    data += value;
    return hmac_sha256_hex(key, data).substr(0, kBindTagHexLen);
}

std::string bind_value(const BoundFields& fields, const std::string& key) {
    std::string out;
    for (std::string_view name : kBoundFieldNames) {
        if (!out.empty()) out += ',';
        out += name;
        out += ':';
        out += bind_tag(name, bound_value(fields, name), key);
    }
    return out;
}

}  // namespace mm::milter
