// Party roles and the sender check.  Pure functions: thread-safe.
#include "alias/party.h"

#include <algorithm>

#include "util/address.h"

namespace mm::alias {

const char* to_string(Role r) {
    switch (r) {
        case Role::buyer:
            return "buyer";
        case Role::seller:
            return "seller";
    }
    return "buyer";
}

std::optional<Role> parse_role(const std::string& s) {
    if (mm::iequals(s, "buyer")) return Role::buyer;
    if (mm::iequals(s, "seller")) return Role::seller;
    return std::nullopt;
}

bool Party::may_send_from(const std::string& normalized_sender) const {
    // The null sender ("<>", a bounce) is never a party's address.
    if (normalized_sender.empty()) return false;
    if (normalized_sender == address) return true;
    return std::find(senders.begin(), senders.end(), normalized_sender) != senders.end();
}

}  // namespace mm::alias
