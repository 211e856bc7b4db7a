// The marketplace's parties and pairs, as the store keeps them.
//
// A Party is a buyer or a seller with one delivery address (where mail for it
// goes) and a list of approved sender addresses (the addresses it may write
// from; the delivery address is always approved).  A Pair joins one buyer and
// one seller and owns two aliases: buyer_alias reaches the buyer and is what
// the seller writes to; seller_alias reaches the seller.  Aliases are stored
// as their 16-hex-character local part; the domain comes from the config.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mm::alias {

enum class Role { buyer, seller };

const char* to_string(Role r);
std::optional<Role> parse_role(const std::string& s);

// Party attributes the marketplace rules read (values "on" / "off"; absent
// means the default).
inline constexpr const char* kAttrOptout = "optout";  // buyer: no unsolicited mail; default off
inline constexpr const char* kAttrMessaging =
    "messaging";  // seller: "off" = on vacation; default on
inline constexpr const char* kAttrAwayText = "away_text";  // seller: the vacation notice text

struct Party {
    std::string id;
    Role role = Role::buyer;
    std::string address;               // normalised delivery address
    std::string display_name;          // may be empty
    std::vector<std::string> senders;  // extra approved sender addresses, normalised
    std::map<std::string, std::string> attributes;

    // True when `normalized_sender` is the delivery address or an approved sender.
    bool may_send_from(const std::string& normalized_sender) const;
};

struct Pair {
    std::int64_t id = 0;
    std::string buyer_id;
    std::string seller_id;
    std::string buyer_alias;   // local part; reaches the buyer
    std::string seller_alias;  // local part; reaches the seller
    std::int64_t created = 0;  // unix seconds
};

// What an alias resolves to: the pair, the party that receives mail sent to
// the alias (owner) and the only party allowed to write to it (counterpart).
struct ResolvedAlias {
    Pair pair;
    Party owner;
    Party counterpart;
    // The counterpart's own alias in this pair (what the owner sees as From).
    const std::string& counterpart_alias() const {
        return owner.role == Role::buyer ? pair.seller_alias : pair.buyer_alias;
    }
};

}  // namespace mm::alias
