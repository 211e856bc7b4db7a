// PrivacyRule: email addresses that are not marketplace aliases, and phone
// numbers, found in message text are replaced by a marker (or the message is
// refused, per policy).  The marketplace's guidelines forbid both in seller
// messages.  They are looked for in the text as a reader sees it: invisible
// characters removed and NFKC applied (text_normalize.h), and in HTML the
// rendered text, character references decoded and tags crossed.  Pure and
// thread-safe (patterns compiled once, immutable).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/yaml_schema.h"

namespace mm::policy {

struct RedactPolicy {
    // Per direction: the marketplace's rules forbid sellers to give buyers an
    // address or a number (on by default); a buyer giving theirs to a seller
    // is the buyer's choice (off).
    bool seller_to_buyer = true;   // redact in messages a seller sends
    bool buyer_to_seller = false;  // ... and in those a buyer sends
    bool emails = true;
    bool phones = true;
    enum class Action { redact, reject } action = Action::redact;
    std::string marker = "[redacted]";
};

struct Redaction {
    std::string kind;   // "email" or "phone"
    std::string found;  // the text removed (never logged verbatim: audit keeps only kind+count)
};

struct RedactResult {
    std::string text;  // equal to the input when nothing was found
    std::vector<Redaction> redactions;
};

// Addresses in `marketplace_domain` (aliases) are kept.  What a match
// covers in `text` as given is replaced, invisible characters inside it
// included.
// What a text is: words a reader sees, or HTML source read as it is.  In
// source an image's `cid:` source names a MIME part, not a mailbox (an
// inline image's id looks like part1.abc@host): it is kept.
enum class RedactSource { text, markup };
RedactResult redact_text(std::string_view text, const RedactPolicy& policy,
                         const std::string& marketplace_domain,
                         RedactSource source = RedactSource::text);

// The same for an HTML part (privacy_html.cc).  Matches are found in the text
// a reader sees and replaced in the text nodes that show them: the first
// gets the marker (HTML-escaped), the others of one match are emptied, the
// markup stays.  Attribute values and hidden text are then redacted as
// redact_text does.  Should a rendering of the result still show something
// to redact (the markup read differently than the tokenizer reads it), the
// part becomes its redacted text rendering in a <pre>.  Nothing to redact:
// `text` is `html` unchanged.  `readings` are the renderings of `html` the
// caller has made already (html_text.h); those not given are made here.
struct HtmlReadings {
    // html_to_text(html): it spares the mapped rendering when it shows
    // nothing to redact.
    const std::string* full = nullptr;
    // html_to_visible_text(html), nullopt included (nothing hidden).
    const std::optional<std::string>* visible = nullptr;
};
RedactResult redact_html(std::string_view html, const RedactPolicy& policy,
                         const std::string& marketplace_domain, const HtmlReadings& readings = {});

// Where redact_text replaces in `text`, read as it is (no normalisation):
// sorted, apart.
struct RedactSpan {
    std::size_t begin, end;
    const char* kind;  // "email" or "phone"
};
std::vector<RedactSpan> find_redactions(std::string_view text, const RedactPolicy& policy,
                                        const std::string& marketplace_domain,
                                        RedactSource source = RedactSource::text);

// policy.yaml `privacy:` section (privacy.redact: {...}).
void load_privacy_section(const yaml::Entry& e, RedactPolicy& out);
// Its keys, documented (yaml_schema.h).
std::vector<yaml::KeyInfo> privacy_section_schema();

}  // namespace mm::policy
