// The input rules of the Store contract (store.h), shared by every backend so
// that each refuses the same input with the same message.  Pure functions:
// thread-safe.
#pragma once

#include <string>

#include "alias/delivery.h"
#include "alias/message_id.h"
#include "alias/party.h"
#include "alias/thread_state.h"
#include "util/result.h"

namespace mm::alias {

// A party or order id: [A-Za-z0-9._-]{1,64}.
bool valid_id(const std::string& id);

// The party as it is stored (addresses normalised, senders de-duplicated in
// their order), or invalid.
Result<Party> validated_party(const Party& party);

// A Message-ID as the store keeps it: no angle brackets, white space,
// control characters, at most 998 characters (one header line).  May be empty.
bool valid_message_id(const std::string& id);

// invalid unless the marketplace id is non-empty and both ids are valid.
Result<void> validate_message_id_record(const MessageIdRecord& record);

// invalid unless the key is 64 lowercase hex characters, the Message-ID is
// valid and the record expires after it was created.
Result<void> validate_delivery(const Delivery& delivery);

// invalid unless the id, kind and fulfilment are ones Order allows.
Result<void> validate_order(const Order& order);

}  // namespace mm::alias
