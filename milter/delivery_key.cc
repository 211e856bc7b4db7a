#include "milter/delivery_key.h"

#include <vector>

#include "audit/audit_binding.h"
#include "util/hex.h"

namespace mm::milter {

std::string delivery_key(const policy::Envelope& envelope, const policy::Message& message,
                         const std::string& key, std::string* body_digest) {
    std::vector<std::string> recipients;
    recipients.reserve(envelope.recipients.size());
    for (const auto& r : envelope.recipients) recipients.push_back(r.raw);
    const BoundFields fields = bound_fields(message.headers, recipients, message.body);
    std::string out =
        hmac_sha256_hex(key, "marketplace-milter delivery 1\nmsgid " + fields.message_id +
                                 "\ndate " + fields.date + "\nfrom " + envelope.sender + "\nrcpt " +
                                 fields.recipients + "\nbody " + fields.body_sha256);
    if (body_digest != nullptr) *body_digest = fields.body_sha256;
    return out;
}

}  // namespace mm::milter
