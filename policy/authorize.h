// authorize_recipient: the RCPT-time decision for one recipient.
//
// Rules: a recipient outside the marketplace domain
// is not ours; an unknown alias is 550 5.1.1; a sender that is not the pair's
// counterpart is 550 5.7.1; an alias of a second pair in one transaction is
// 452 4.5.3 so the client resends it in a transaction of its own; a store
// failure is 451 4.3.0.  Pure apart from the directory lookup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "alias/alias_directory.h"
#include "policy/envelope.h"
#include "policy/policy.h"
#include "policy/verdict.h"

namespace mm::policy {

struct RcptOutcome {
    enum class Kind {
        not_ours,
        accepted,
        unknown_alias,
        wrong_sender,
        other_pair,
        mixed,  // an alias and an outside address in one transaction
        tempfail,
    };
    Kind kind = Kind::tempfail;
    std::optional<alias::ResolvedAlias> alias;  // for accepted
    RuleHit rule;                               // for every refusal
    std::string smtp_code, enhanced_code, reply_text;
    // Party ids for the audit trail, as far as they are known.
    std::string sender_party, recipient_party;
};

// `sender` is the normalised envelope sender ("" for the null sender);
// `transaction_pair` is the pair already accepted in this transaction, if any.
RcptOutcome authorize_recipient(alias::AliasDirectory& directory, const std::string& domain,
                                const std::string& sender, const std::string& rcpt_raw,
                                std::optional<std::int64_t> transaction_pair);

// The RCPT stage of one transaction: authorises each recipient against the
// ones already accepted and adds the accepted ones to the envelope.  Used by
// the milter and by the `test` subcommand alike.  Not thread-safe (one per
// transaction).
class RcptStage {
public:
    RcptStage(alias::AliasDirectory& directory, std::string domain, MixedRecipients mixed)
        : directory_(directory), domain_(std::move(domain)), mixed_(mixed) {}

    // `envelope.sender` must be set.  Accepted (or not-ours) recipients are
    // appended to envelope.recipients; a refusal leaves the envelope alone.
    RcptOutcome add(Envelope& envelope, const std::string& rcpt_raw);

private:
    alias::AliasDirectory& directory_;
    std::string domain_;
    MixedRecipients mixed_;
    std::optional<std::int64_t> pair_;
    bool external_ = false;
};

}  // namespace mm::policy
