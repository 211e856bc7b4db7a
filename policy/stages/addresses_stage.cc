// The stages that name the parties: which pair the message is for, and every
// address of the counterpart's replaced by this pair's aliases (envelope,
// From, To/Cc).
#include <set>

#include "policy/rewrite/from_header.h"
#include "policy/stages/stage.h"

namespace mm::policy::stages {
namespace {

std::string alias_address(const std::string& local, const EvalContext& ctx) {
    return local + "@" + ctx.domain;
}

}  // namespace

void map_recipients(const Envelope& envelope, Edits& edits) {
    std::set<std::string> added;
    for (const auto& r : envelope.recipients) {
        if (!r.alias) continue;
        edits.remove_rcpts.push_back(r.raw);
        if (added.insert(r.alias->owner.address).second)
            edits.add_rcpts.push_back("<" + r.alias->owner.address + ">");
    }
}

// Mail that is not for an alias (e.g. outbound through the same MTA) gets
// nothing but the forged headers removed.
StageResult identify_pair(const StageInput& in, Verdict& draft) {
    if (in.pair == nullptr) return stopping(proceed());
    draft.recipient_party = in.pair->owner.id;
    return proceed();
}

// The counterpart writes: the envelope goes to the owner's real address and
// comes from the counterpart's alias; From: names the alias.  An auto-reply
// sent with the null sender keeps <>.
StageResult rewrite_sender(const StageInput& in, Verdict& draft) {
    const alias::ResolvedAlias& pair = *in.pair;
    const std::string sender_alias = alias_address(pair.counterpart_alias(), in.context);
    Edits& edits = draft.edits;
    draft.sender_party = pair.counterpart.id;

    map_recipients(in.envelope, edits);
    if (!in.envelope.sender.empty()) edits.envelope_from = "<" + sender_alias + ">";

    const std::string from = make_from_header(pair.counterpart.display_name, sender_alias);
    const int froms = in.message.count("From");
    for (int i = froms; i >= 2; --i)
        edits.headers.push_back({HeaderEdit::Op::remove, "From", i, {}});
    edits.headers.push_back(
        {froms >= 1 ? HeaderEdit::Op::change : HeaderEdit::Op::add, "From", 1, from});

    draft.rules.push_back({"alias.rewrite", std::string(alias::to_string(pair.counterpart.role)) +
                                                " " + pair.counterpart.id + " -> " +
                                                alias::to_string(pair.owner.role) + " " +
                                                pair.owner.id});
    return modify();
}

// To/Cc hold only this pair's aliases, as the directory names them.
StageResult rewrite_recipient_headers(const StageInput& in, Verdict& draft) {
    const alias::ResolvedAlias& pair = *in.pair;
    const std::string& owner_alias =
        pair.owner.role == alias::Role::buyer ? pair.pair.buyer_alias : pair.pair.seller_alias;
    const AliasMailbox addressed{alias_address(owner_alias, in.context), pair.owner.display_name};
    const AliasMailbox counterpart{alias_address(pair.counterpart_alias(), in.context),
                                   pair.counterpart.display_name};
    RecipientEdits recipients =
        recipient_header_edits(in.message, in.context.domain, addressed, counterpart);
    draft.edits.headers.insert(draft.edits.headers.end(), recipients.edits.begin(),
                               recipients.edits.end());
    if (!recipients.changed()) return proceed();
    // Counts only: the addresses themselves never go to the audit trail.
    std::string detail =
        "removed " + std::to_string(recipients.removed_addresses) + " address(es) from To/Cc";
    if (recipients.removed_other_aliases > 0)
        detail +=
            " (" + std::to_string(recipients.removed_other_aliases) + " in the marketplace domain)";
    if (recipients.renamed > 0)
        detail += ", replaced " + std::to_string(recipients.renamed) + " display name(s)";
    draft.rules.push_back({"headers.recipients", detail});
    return proceed();
}

}  // namespace mm::policy::stages
