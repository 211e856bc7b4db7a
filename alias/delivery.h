// Delivery: a message whose marketplace state is committed, kept so that the
// MTA's retry of that same message is judged as it was.
//
// The milter commits a message's state (thread, repeat fingerprint,
// unsolicited count, [Important] counter) before its final reply reaches the
// MTA.  Killed in that window, the MTA tempfails the message and the sender
// retries it: judged afresh, the retry would meet its own fingerprint (a
// repeat of itself) or its own unsolicited slot.  So the commit also stores
// a Delivery under a key that only the same message has (a digest of its
// original Message-ID, Date, envelope sender and recipients and body; see
// milter/delivery_key.h), with the judgement it got; a retry finds it,
// gets the same Message-ID and the same judgement, and writes nothing again.
// A record lives as long as the repeat window: after that the state it
// guards is gone too.
#pragma once

#include <cstdint>
#include <string>

namespace mm::alias {

struct Delivery {
    std::string key;  // 64 lowercase hex characters
    std::int64_t pair_id = 0;
    std::string marketplace_id;  // the Message-ID it was given, without brackets ("" = none)
    // The caller's judgement of the message, replayed on a retry; opaque to
    // the store ("" = only the Message-ID mapping was committed).
    std::string outcome;
    std::int64_t created = 0;  // unix seconds; 0 = now
    std::int64_t expires = 0;  // unix seconds; found only before this
};

}  // namespace mm::alias
