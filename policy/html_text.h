// html_to_text: the text a reader sees in an HTML part (libxml2's HTML parser,
// script and style dropped, block elements as line breaks), for content rules
// and redaction, which judge words, not markup.  Never used to decide which
// links survive: that is link_rule's job on the original bytes.  Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace mm::policy {

std::string html_to_text(std::string_view html);

}  // namespace mm::policy
