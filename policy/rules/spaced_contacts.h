// Contact details written with blanks between their characters, which a
// reader closes without thinking: "j o h n @ m a i l . c o m", "0 1 7 6 1 2
// 3 4 5 6 7", "john . smith @ mail . com", "john@ mail.com".  The privacy
// rule looks for addresses and numbers in the text with those blanks
// closed too, and replaces what it finds where it stands.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rules/offset_map.h"

namespace mm::policy {

struct ClosedText {
    std::string text;
    OffsetMap map;  // `text` -> the text given
};

// `t` with the blanks closed (up to three spaces or tabs, never a line
// break) that stand between two single characters, next to a lone '@' or
// '.', after a word that ends with '@' or before one that starts with it.
// Each chain of words so
// joined is one piece of the map: a match inside it maps to all of it.
// nullopt when there is nothing to close, the common case, found without
// copying.
std::optional<ClosedText> close_spaced_contacts(std::string_view t);

// Addresses spelled out: "john(at)mail(dot)com", "john [at] mail [.] com",
// "john at mail dot com", with the words of our five languages ("arroba",
// "punkt", ...).  A bare "at" counts only with a spelled-out dot, and the
// last label must be a listed public suffix, so that "we are at
// shop.example" is not one.  Each with the domain as written plainly.
struct SpelledAddress {
    std::size_t begin, end;
    std::string domain;
};
std::vector<SpelledAddress> spelled_out_addresses(std::string_view t);

// Whether `domain` ends in a suffix of the public list, its explicit
// entries only (an address read from a text's looser forms must look like
// one: "me @ home . Thanks" does not).
bool ends_in_public_suffix(std::string_view domain);

}  // namespace mm::policy
