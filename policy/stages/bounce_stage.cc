// Null-sender mail for an alias: bounces (DSNs) and auto-replies.
#include <functional>
#include <optional>

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"
#include "policy/rewrite/dsn_rewrite.h"
#include "policy/rewrite/message_ids.h"
#include "policy/stages/stage.h"
#include "util/address.h"

namespace mm::policy::stages {
namespace {

// A message the marketplace did not deliver, answered: refused or held as
// bounces.backscatter says.
StageResult backscatter(const StageInput& in, Verdict& draft, const char* rule, std::string why,
                        std::string reply) {
    draft.rules.push_back({rule, std::move(why)});
    if (in.context.policy.bounce_backscatter == BackscatterAction::quarantine)
        return stopping(hold(reply + " held for review"));
    return refuse({"550", "5.7.1", std::move(reply), rule});
}

// A bounce (DSN) rewritten (dsn_rewrite.h) and delivered to the alias owner
// with the null sender kept, or refused/held as backscatter.
StageResult deliver_dsn(const StageInput& in, DsnRewrite& dsn, Verdict& draft) {
    const Policy& policy = in.context.policy;
    if (dsn.backscatter)
        return backscatter(in, draft, "bounce.backscatter",
                           "the returned message was not delivered by the marketplace",
                           "Delivery status notification for a message the marketplace did not "
                           "send");

    Edits& edits = draft.edits;
    map_recipients(in.envelope, edits);  // the envelope sender stays <>
    // The header policy's removals go first; the rewrite touches only the
    // names that pass, so no field is edited twice.
    auto identity = remove_unlisted_headers(in.message, policy.headers, edits);
    for (const auto& e : dsn.header_edits)
        if (header_passes(policy.headers, e.name)) edits.headers.push_back(e);
    if (dsn.new_body) edits.body = std::move(dsn.new_body);
    draft.rules.push_back(
        {"bounce.rewritten",
         dsn.notes.empty() ? "delivery report for " + in.pair->counterpart.id : join(dsn.notes)});
    if (identity) draft.rules.push_back(std::move(*identity));
    // What the owner will read meets the attachment, link, content and
    // redaction rules like any message: a report has no business carrying an
    // executable or a review bribe.
    Message rewritten = in.message.clone();
    Envelope scratch = in.envelope;
    apply_edits(edits, rewritten, scratch);
    StageResult content = judge_content(in, rewritten, true, draft);
    if (content.decision == Decision::reject || content.decision == Decision::tempfail)
        return content;
    if (content.decision == Decision::quarantine) return stopping(content);
    return stopping(modify());
}

// The address of a From that names exactly one mailbox (GMime's parser).
std::optional<std::string> sole_mailbox(const std::string& value) {
    ensure_gmime();
    GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, value.c_str()));
    if (!list || internet_address_list_length(list.get()) != 1) return std::nullopt;
    InternetAddress* a = internet_address_list_get_address(list.get(), 0);
    if (!INTERNET_ADDRESS_IS_MAILBOX(a)) return std::nullopt;
    const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
    if (addr == nullptr) return std::nullopt;
    return std::string(addr);
}

// Whether a null-sender auto-reply may pass as the counterpart's: it answers
// a message the marketplace delivered for this pair (In-Reply-To or
// References), or its From is one of the counterpart's approved addresses.
// Anyone can write "Auto-Submitted: auto-replied" and the null sender.
Result<bool> auto_reply_is_genuine(const StageInput& in) {
    const alias::Party& counterpart = in.pair->counterpart;
    if (const std::string* from = in.message.find("From")) {
        const std::optional<std::string> address = sole_mailbox(*from);
        if (address && counterpart.may_send_from(normalize_address(*address))) return true;
    }
    if (in.context.store == nullptr) return false;
    for (const char* name : {"In-Reply-To", "References"}) {
        const std::string* value = in.message.find(name);
        if (value == nullptr) continue;
        for (const std::string& id : parse_message_ids(*value)) {
            auto found = in.context.store->find_message_id(to_lower(id));
            if (!found) return found.error();
            if (found.value() && found.value()->pair_id == in.pair->pair.id) return true;
        }
    }
    return false;
}

// bounces.action rewrite.  An auto-reply sent with the null sender (RFC 3834)
// goes on as mail from the counterpart when it is genuine; anything that is
// neither that nor a DSN is held for review.
StageResult rewrite_null_sender(const StageInput& in, Verdict& draft) {
    const EvalContext& ctx = in.context;
    // Backscatter: the returned message is not one the marketplace delivered
    // for this pair (only known when the Message-ID store is there).
    std::optional<Failure> store_error;
    std::function<bool(const std::string&)> known = [&](const std::string& id) {
        auto found = ctx.store->find_message_id(to_lower(id));
        if (!found) {
            store_error = found.error();
            return true;
        }
        return found.value() && found.value()->pair_id == in.pair->pair.id;
    };
    DsnRewrite dsn =
        rewrite_dsn(in.message, *in.pair, ctx.domain, ctx.store != nullptr ? &known : nullptr);
    if (!dsn.is_dsn) {
        if (is_auto_reply(in.message)) {
            auto genuine = auto_reply_is_genuine(in);
            if (!genuine) return store_failure(genuine.error(), draft);
            if (*genuine) return proceed();
            return backscatter(in, draft, "autoreply.unsolicited",
                               "null-sender auto-reply that answers no message the marketplace "
                               "delivered for this pair",
                               "Automatic reply to a message the marketplace did not send");
        }
        draft.rules.push_back({"bounce.unrecognised",
                               "null-sender message for an alias that is neither a delivery "
                               "report nor an auto-reply"});
        return stopping(hold("null-sender message for a marketplace alias held for review"));
    }
    draft.auto_reply = true;
    if (store_error) return store_failure(*store_error, draft);
    // A bounce must return a message the marketplace delivered: one that
    // returns no headers at all proves nothing, and is refused like one
    // that returns a stranger's.
    if (!dsn.returned_message_id) dsn.backscatter = true;
    return deliver_dsn(in, dsn, draft);
}

}  // namespace

StageResult handle_null_sender(const StageInput& in, Verdict& draft) {
    if (!in.envelope.sender.empty()) return proceed();
    const BounceAction action = in.context.policy.bounce_action;
    if (action == BounceAction::rewrite) return rewrite_null_sender(in, draft);
    // A bounce for an alias carries the other side's real address in its
    // report and returned headers: not delivered as it is.
    draft.rules.push_back({"bounce.unrewritten", "null-sender message for an alias"});
    if (action == BounceAction::reject)
        return refuse({"550", "5.7.1",
                       "Delivery status notifications to marketplace aliases are refused", ""});
    return stopping(hold("bounce for a marketplace alias held for review"));
}

}  // namespace mm::policy::stages
