#include "policy/authorize.h"

#include "util/address.h"

namespace mm::policy {

static RcptOutcome refuse(RcptOutcome::Kind kind, const char* rule, std::string detail,
                          const char* code, const char* xcode, const char* text) {
    RcptOutcome out;
    out.kind = kind;
    out.rule = {rule, std::move(detail)};
    out.smtp_code = code;
    out.enhanced_code = xcode;
    out.reply_text = text;
    return out;
}

RcptOutcome authorize_recipient(alias::AliasDirectory& directory, const std::string& domain,
                                const std::string& sender, const std::string& rcpt_raw,
                                std::optional<std::int64_t> transaction_pair) {
    const std::string rcpt = normalize_address(rcpt_raw);
    if (!iequals(domain_part(rcpt), domain)) {
        RcptOutcome out;
        out.kind = RcptOutcome::Kind::not_ours;
        return out;
    }

    const std::string local(local_part(rcpt));
    auto found = directory.resolve(local);
    if (!found)
        return refuse(RcptOutcome::Kind::tempfail, "store.unavailable", found.error().message,
                      "451", "4.3.0",
                      "Temporary failure looking up the recipient, try again later");
    if (!*found)
        return refuse(RcptOutcome::Kind::unknown_alias, "rcpt.unknown_alias",
                      "no marketplace alias " + local, "550", "5.1.1",
                      "Recipient address rejected: unknown marketplace alias");

    alias::ResolvedAlias& resolved = **found;
    const bool sender_ok = !sender.empty() && resolved.counterpart.may_send_from(sender);
    auto with_parties = [&](RcptOutcome out) {
        out.recipient_party = resolved.owner.id;
        if (sender_ok) out.sender_party = resolved.counterpart.id;
        return out;
    };
    // The null sender (a bounce) cannot be authorised by address; evaluate()
    // decides what happens to it.
    if (!sender.empty() && !sender_ok)
        return with_parties(refuse(
            RcptOutcome::Kind::wrong_sender, "rcpt.sender_not_counterpart",
            "sender is not an approved address of party " + resolved.counterpart.id +
                " for alias " + local,
            "550", "5.7.1", "Sender address is not allowed to write to this marketplace alias"));
    if (transaction_pair && *transaction_pair != resolved.pair.id)
        return with_parties(
            refuse(RcptOutcome::Kind::other_pair, "rcpt.other_pair",
                   "alias " + local + " belongs to another conversation", "452", "4.5.3",
                   "Too many recipients: one marketplace conversation per message, send this "
                   "recipient in a separate message"));

    RcptOutcome out = with_parties(RcptOutcome{});
    out.kind = RcptOutcome::Kind::accepted;
    out.alias = std::move(resolved);
    return out;
}

RcptOutcome RcptStage::add(Envelope& envelope, const std::string& rcpt_raw) {
    using Kind = RcptOutcome::Kind;
    RcptOutcome out = authorize_recipient(directory_, domain_, envelope.sender, rcpt_raw, pair_);
    const bool alias = out.kind == Kind::accepted;
    const bool external = out.kind == Kind::not_ours;
    if ((alias && external_) || (external && pair_)) {
        // The outside recipient would get the alias-rewritten message, or the
        // pair would get a copy whose other recipient is outside: neither.
        const bool separate = mixed_ == MixedRecipients::separate;
        RcptOutcome mixed = refuse(
            Kind::mixed, "rcpt.mixed", "marketplace alias and outside recipient in one transaction",
            separate ? "452" : "550", separate ? "4.5.3" : "5.7.1",
            separate ? "Marketplace aliases and other recipients cannot share a message, send "
                       "this recipient in a separate message"
                     : "Marketplace messages cannot be copied to addresses outside the "
                       "marketplace");
        mixed.sender_party = out.sender_party;
        mixed.recipient_party = out.recipient_party;
        return mixed;
    }
    if (alias || external) {
        if (alias) pair_ = out.alias->pair.id;
        external_ = external_ || external;
        envelope.recipients.push_back({rcpt_raw, normalize_address(rcpt_raw), out.alias});
    }
    return out;
}

}  // namespace mm::policy
