// Envelope: the SMTP envelope of one transaction, after RCPT authorisation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alias/party.h"

namespace mm::policy {

struct Recipient {
    std::string raw;      // exactly as received (angle brackets included): smfi_delrcpt needs it
    std::string address;  // normalised
    std::optional<alias::ResolvedAlias> alias;  // set when the recipient is one of our aliases
};

struct Envelope {
    std::string client_addr;            // e.g. "127.0.0.1"
    std::string sender_raw;             // MAIL FROM argument as received
    std::string sender;                 // normalised; empty for the null sender
    std::string auth_sender;            // SASL login ({auth_authen}); empty if none
    std::vector<Recipient> recipients;  // only the accepted ones

    // The pair this transaction carries (every alias recipient shares it).
    const alias::ResolvedAlias* alias_recipient() const;
};

}  // namespace mm::policy
