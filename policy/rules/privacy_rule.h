// PrivacyRule: email addresses that are not marketplace aliases, and phone
// numbers, found in message text are replaced by a marker (or the message is
// refused, per policy).  The marketplace's guidelines forbid both in seller
// messages.  Pure and thread-safe (patterns compiled once, immutable).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/yaml_schema.h"

namespace mm::policy {

struct RedactPolicy {
    bool seller_to_buyer = false;  // redact in messages a seller sends
    bool buyer_to_seller = false;  // ... and in those a buyer sends
    bool emails = true;
    bool phones = true;
    enum class Action { redact, reject } action = Action::redact;
    std::string marker = "[redacted]";
};

struct Redaction {
    std::string kind;   // "email" or "phone"
    std::string found;  // the text removed (never logged verbatim: audit keeps only kind+count)
};

struct RedactResult {
    std::string text;  // equal to the input when nothing was found
    std::vector<Redaction> redactions;
};

// Addresses in `marketplace_domain` (aliases) are kept.
RedactResult redact_text(std::string_view text, const RedactPolicy& policy,
                         const std::string& marketplace_domain);

// policy.yaml `privacy:` section (privacy.redact: {...}).
void load_privacy_section(const yaml::Entry& e, RedactPolicy& out);

}  // namespace mm::policy
