// The Store's input rules (see validation.h).
#include "alias/validation.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "util/address.h"

namespace mm::alias {

namespace {

bool valid_order_kind(const std::string& k) {
    return k == "standard" || k == "handmade" || k == "custom" || k == "wine" || k == "gift-return";
}

bool valid_fulfilment(const std::string& f) {
    return f == "fba" || f == "fbm";
}

}  // namespace

bool valid_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

Result<Party> validated_party(const Party& in) {
    if (!valid_id(in.id))
        return fail(Errc::invalid,
                    "party id '" + in.id + "' is malformed (expected [A-Za-z0-9._-]{1,64})");
    Party p = in;
    p.address = mm::normalize_address(in.address);
    if (!mm::is_valid_address(p.address))
        return fail(Errc::invalid,
                    "party '" + in.id + "': address '" + in.address + "' is malformed");
    if (in.display_name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
        return fail(Errc::invalid, "party '" + in.id + "': display name contains CR, LF or NUL");
    p.senders.clear();
    for (const auto& raw : in.senders) {
        std::string s = mm::normalize_address(raw);
        if (!mm::is_valid_address(s))
            return fail(Errc::invalid,
                        "party '" + in.id + "': sender address '" + raw + "' is malformed");
        if (std::find(p.senders.begin(), p.senders.end(), s) == p.senders.end())
            p.senders.push_back(std::move(s));
    }
    return p;
}

bool valid_message_id(const std::string& id) {
    return id.size() <= 998 && std::none_of(id.begin(), id.end(), [](char c) {
               auto u = static_cast<unsigned char>(c);
               return u <= 0x20 || u == 0x7f || c == '<' || c == '>';
           });
}

Result<void> validate_message_id_record(const MessageIdRecord& record) {
    if (record.marketplace_id.empty() || !valid_message_id(record.marketplace_id))
        return fail(Errc::invalid, "message id '" + record.marketplace_id + "' is malformed");
    if (!valid_message_id(record.original_id))
        return fail(Errc::invalid,
                    "original message id of '" + record.marketplace_id + "' is malformed");
    return {};
}

Result<void> validate_delivery(const Delivery& delivery) {
    const bool hex = delivery.key.size() == 64 &&
                     std::all_of(delivery.key.begin(), delivery.key.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    if (!hex)
        return fail(Errc::invalid, "delivery key '" + delivery.key +
                                       "' is malformed (expected 64 lowercase hex characters)");
    if (!valid_message_id(delivery.marketplace_id))
        return fail(Errc::invalid, "delivery " + delivery.key.substr(0, 12) + ": message id '" +
                                       delivery.marketplace_id + "' is malformed");
    if (delivery.created != 0 && delivery.expires <= delivery.created)
        return fail(Errc::invalid,
                    "delivery " + delivery.key.substr(0, 12) + " expires before it was created");
    return {};
}

Result<void> validate_order(const Order& order) {
    if (!valid_id(order.id))
        return fail(Errc::invalid,
                    "order id '" + order.id + "' is malformed (expected [A-Za-z0-9._-]{1,64})");
    if (!valid_order_kind(order.kind))
        return fail(Errc::invalid,
                    "order '" + order.id + "': kind '" + order.kind +
                        "' is not one of standard, handmade, custom, wine, gift-return");
    if (!valid_fulfilment(order.fulfilment))
        return fail(Errc::invalid, "order '" + order.id + "': fulfilment '" + order.fulfilment +
                                       "' is not fba or fbm");
    return {};
}

}  // namespace mm::alias
