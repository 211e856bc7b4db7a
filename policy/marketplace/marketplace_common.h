// Helpers the marketplace files share (rules, policy loader, fingerprints):
// trimming, the characters of ids, one printable line for an SMTP reply, and
// the RE2 options of every marketplace pattern.  Internal to
// policy/marketplace; pure and thread-safe.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>

#include "policy/rules/content_rule.h"

namespace mm::policy::marketplace_detail {

// Order ids and contact-reason ids are at most this long.
inline constexpr size_t kIdMaxChars = 64;

// Without surrounding spaces, tabs, CRs and LFs.
std::string_view trim(std::string_view s);

// Letters, digits, '-', '_' and '.': what an order or reason id may hold.
bool is_id_char(char c);

// One line of printable ASCII for an SMTP reply: controls and line breaks
// become spaces, other characters '?', runs of spaces one space; at most
// the length an SMTP reply line can carry.
std::string reply_line(std::string_view text);

// UTF-8, case-insensitive, quiet, with a memory cap, as the loader checks
// the patterns it accepts.
RE2::Options regex_options();

// The contact-reason rules of a policy that configures none: one shared,
// empty set.
const std::shared_ptr<const ContentRules>& no_contact_reasons();

}  // namespace mm::policy::marketplace_detail
