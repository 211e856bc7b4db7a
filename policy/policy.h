// Policy: the parsed, validated policy.yaml.  Immutable once loaded; the
// daemon holds it through shared_ptr<const Policy> so a reload swaps in a new
// snapshot while messages in flight finish with the one they started with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/classify/lexicon.h"
#include "policy/marketplace/marketplace_rules.h"
#include "policy/rewrite/authentication_results.h"
#include "policy/rewrite/header_privacy.h"
#include "policy/rules/attachment_rule.h"
#include "policy/rules/content_rule.h"
#include "policy/rules/link_rule.h"
#include "policy/rules/privacy_rule.h"
#include "util/result.h"

namespace mm::policy {

// How a transaction that mixes aliases and outside addresses is answered:
// `separate` defers the later recipient with 452 4.5.3 (the client resends it
// in a transaction of its own, nothing is lost); `refuse` answers 550 5.7.1.
// Either way an outside recipient never receives the rewritten message.
enum class MixedRecipients { separate, refuse };

// What a null-sender message (a bounce) for an alias gets (bounces.action):
// `rewrite` delivers it to the alias owner with the other side's addresses
// and hosts replaced (dsn_rewrite.h); `quarantine` holds it; `reject` refuses
// it with 550 5.7.1.
enum class BounceAction { rewrite, quarantine, reject };

// A bounce for a message the marketplace never delivered (backscatter,
// bounces.backscatter): refused with 550 5.7.1, or held.  No "discard": a
// bounce dropped silently is a lost notice nobody can trace.
enum class BackscatterAction { reject, quarantine };

// A message whose MIME structure cannot be classified (malformed.action):
// refused with 550 5.6.0, or delivered without the parts that could not be
// classified.
enum class MalformedAction { reject, strip };

struct Policy {
    // Shown in the audit header and line so a decision can be traced to the
    // policy text that made it.
    std::string version;
    // Which of the sender's headers reach the other side (allow-list by
    // default; see header_privacy.h).  X-Marketplace-* is always removed too.
    HeaderPolicy headers;
    BounceAction bounce_action = BounceAction::rewrite;
    BackscatterAction bounce_backscatter = BackscatterAction::reject;

    AttachmentPolicy attachments;
    LinkPolicy links;
    ContentPolicy content;
    RedactPolicy redact;
    MalformedAction malformed_action = MalformedAction::reject;
    // An alias and an outside address in one transaction (policy.yaml
    // recipients.mixed); see RcptStage.
    MixedRecipients mixed_recipients = MixedRecipients::separate;
    MarketplacePolicy marketplace;
    // The concepts `when:` expressions name (policy.yaml `concepts:`, a file
    // relative to the policy or an inline mapping); null when not given.
    std::shared_ptr<const classify::Lexicon> concepts;
    // Which Authentication-Results to believe, and whether a party's mail
    // must pass SPF or DKIM aligned with its address (authentication_results.h).
    AuthenticationPolicy authentication;
};

// Loads and validates `path`.  Errors name the place: "policy.yaml:42:7: ...".
// Unknown keys are errors, so a typo never silently disables a rule.
Result<std::shared_ptr<const Policy>> load_policy(const std::string& path);

// The keys load_policy accepts, with their documentation (yaml_schema.h):
// what the manual page marketplace-milter-policy(5) is written from.
std::vector<yaml::KeyInfo> policy_schema();

// The defaults a policy file starts from (also used by tests).
Policy default_policy();

}  // namespace mm::policy
