// Contact details written with blanks between their characters, which a
// reader closes without thinking: "j o h n @ m a i l . c o m", "0 1 7 6 1 2
// 3 4 5 6 7", "john . smith @ mail . com", "john@ mail.com".  The privacy
// rule looks for addresses and numbers in the text with those blanks
// closed too, and replaces what it finds where it stands.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

}  // namespace mm::policy
