// The fingerprint the repeat rule compares seller messages by: the text as a
// reader would call it "the same message", hashed.  Greetings, signatures,
// quoted replies, case, punctuation and white space do not count (English,
// German, French, Italian and Spanish greetings and closings are known).
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace mm::policy {

// The text as the repeat rule compares it: lower-cased, quoted lines ('>')
// and quote attributions dropped, a greeting first line and a signature
// ("-- " or a closing such as "Best regards,") dropped, punctuation and
// white space collapsed.
std::string normalize_for_fingerprint(std::string_view text);

// SHA-256 (lowercase hex) of normalize_for_fingerprint(text); "" when the
// normalised text is empty (nothing to compare).
std::string fingerprint(std::string_view text);

}  // namespace mm::policy
