// ThreadInfo: what a message answers, as the Message-ID mapping found it
// (see message_ids.h).  Its own header so that verdict.h can carry it.
#pragma once

#include <optional>
#include <string>

#include "alias/party.h"

namespace mm::policy {

// From the mapped In-Reply-To / References of a message.  Ids are without
// angle brackets; original ids must never be shown to the other side (nor
// written to the audit trail).
struct ThreadInfo {
    bool is_reply = false;
    // The message answered: the first In-Reply-To id of this pair, else the
    // last References id of this pair.
    std::string answers_marketplace_id;
    std::string answers_original_id;                 // of this pair; empty if it had none
    std::optional<alias::Role> answers_sender_role;  // who wrote the answered message
    // The oldest message of the thread this pair knows (first References id
    // of this pair, else the answered message).
    std::string thread_marketplace_id;
};

}  // namespace mm::policy
