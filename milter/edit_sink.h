// EditSink: where the end of message sends its edits, its quarantine and its
// reply.  The daemon's sink speaks libmilter (callbacks.cc); MemorySink
// applies the edits to a copy of the message and envelope (the `test`
// subcommand, unit tests).  MemorySink refuses what libmilter refuses before
// sending, so an edit the daemon could not make fails a dry run too.
//
// Every call but set_reply either makes its edit or throws
// std::runtime_error naming the call ("smfi_chgheader failed"): the caller
// tempfails the message rather than let it go half-edited.  Not thread-safe;
// one sink serves one message.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_binding.h"
#include "policy/envelope.h"
#include "policy/message.h"
#include "policy/verdict.h"

namespace mm::milter {

class EditSink {
public:
    virtual ~EditSink() = default;

    // The `index`-th (1-based) field named `name`, case ignored.
    virtual void change_header(const std::string& name, int index, const std::string& value) = 0;
    virtual void remove_header(const std::string& name, int index) = 0;
    // After the last field.
    virtual void add_header(const std::string& name, const std::string& value) = 0;
    // Before the `index`-th field of the header block (0: the first).
    virtual void insert_header(int index, const std::string& name, const std::string& value) = 0;
    virtual void change_sender(const std::string& sender) = 0;  // "<addr>"
    virtual void delete_recipient(const std::string& raw) = 0;  // as received
    virtual void add_recipient(const std::string& raw) = 0;     // "<addr>"
    // The first call replaces the body with `chunk`, the next ones append:
    // a body goes in pieces of at most kBodyChunk bytes.
    virtual void replace_body(std::string_view chunk) = 0;
    virtual void quarantine(const std::string& reason) = 0;
    // The reply to a refusal.  Never fails: `text` goes through reply_safe.
    virtual void set_reply(const std::string& code, const std::string& xcode,
                           const std::string& text) = 0;
};

// libmilter's limit on the data of one command it sends
// (MILTER_MAX_DATA_SIZE: the filter negotiates no SMFIP_MDS_* size), and the
// body chunk it sends at most (MILTER_CHUNK_SIZE).
inline constexpr std::size_t kMaxDataSize = 65535;
inline constexpr std::size_t kBodyChunk = 65535;

// A text smfi_setreply and smfi_quarantine accept: no CR or LF, '%' doubled
// (setreply's format character), cut after 900 characters (setreply refuses
// more than 980).
std::string reply_safe(const std::string& text);

// Sends `edits` and the audit header in the daemon's order: the header edits,
// X-Marketplace-Audit inserted first in the header block, the sender, the
// recipients, and the body last (ARCHITECTURE.md, "Waiting": after the body
// the socket may be full until the MTA has read it).
void send_edits(EditSink& sink, const policy::Edits& edits, const std::string& audit_header);
// Its parts: the header edits alone; the sender and recipients.
void send_header_edits(EditSink& sink, const policy::Edits& edits);
void send_envelope_edits(EditSink& sink, const policy::Edits& edits);

// What X-Marketplace-Audit binds (audit/audit_binding.h) in the message the
// MTA delivers once `edits` are made: the header and envelope edits made by
// a MemorySink on a copy without the body, the body the edits' or the
// received one.  Throws what MemorySink throws for an edit libmilter would
// refuse, and std::runtime_error if a spooled body cannot be read.
// `received_digest`, when not empty, is body_sha256 of the received body: a
// body the edits leave alone is not read again.
BoundFields delivered_fields(const policy::Message& received, const policy::Envelope& envelope,
                             const policy::Edits& edits, const std::string& received_digest = {});

// Applies the edits to a message and envelope of its own, as Postfix applies
// them: a change of a field that is not there adds it, a change to an empty
// value removes the field, a removal of one that is not there does nothing.  Fails, as libmilter
// would, a call whose data does not fit in one command (kMaxDataSize) or that has no name, address
// or reason.
class MemorySink final : public EditSink {
public:
    // Copies: the flow still reads the message it evaluated.
    MemorySink(policy::Message message, policy::Envelope envelope);

    void change_header(const std::string& name, int index, const std::string& value) override;
    void remove_header(const std::string& name, int index) override;
    void add_header(const std::string& name, const std::string& value) override;
    void insert_header(int index, const std::string& name, const std::string& value) override;
    void change_sender(const std::string& sender) override;
    void delete_recipient(const std::string& raw) override;
    void add_recipient(const std::string& raw) override;
    void replace_body(std::string_view chunk) override;
    void quarantine(const std::string& reason) override;
    void set_reply(const std::string& code, const std::string& xcode,
                   const std::string& text) override;

    const policy::Message& message() const { return message_; }
    const policy::Envelope& envelope() const { return envelope_; }
    // As sent: after reply_safe.
    const std::optional<std::string>& quarantine_reason() const { return quarantine_; }
    struct Reply {
        std::string code, xcode, text;
    };
    const std::optional<Reply>& reply() const { return reply_; }

private:
    policy::Message message_;
    policy::Envelope envelope_;
    bool body_replaced_ = false;
    std::optional<std::string> quarantine_;
    std::optional<Reply> reply_;
};

}  // namespace mm::milter
