// MessageIdRecord: one Message-ID the marketplace gave a delivered message.
//
// Every message between the two parties of a pair is delivered with a fresh
// marketplace Message-ID (random local part @ marketplace domain); the record
// maps it to the Message-ID the sender's client gave the message, so that
// In-Reply-To and References can be mapped back on the way to the other side
// (see policy/message_ids.h).  Ids are stored without the angle brackets;
// marketplace ids are lower case.
#pragma once

#include <cstdint>
#include <string>

#include "alias/party.h"

namespace mm::alias {

struct MessageIdRecord {
    std::string marketplace_id;  // "3f9a...@marketplace.example", what the recipient saw
    std::string original_id;     // what the sender's client wrote; empty if it wrote none
    std::int64_t pair_id = 0;
    Role sender_role = Role::buyer;  // who wrote the message
    std::int64_t created = 0;        // unix seconds
};

}  // namespace mm::alias
