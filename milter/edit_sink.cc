#include "milter/edit_sink.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "util/address.h"

namespace mm::milter {
namespace {

// libmilter takes C strings: what it sends ends at the first NUL.
std::string as_sent(const std::string& s) {
    return std::string(s.c_str());
}

// The checks libmilter makes before it writes a command (smfi.c): a missing
// name or argument, or data over the command size limit, and the call fails.
void check(bool ok, const char* call) {
    if (!ok) throw std::runtime_error(std::string(call) + " failed");
}

// Data of a header command: [index,] name NUL value NUL.
std::size_t header_data(const std::string& name, const std::string& value, bool indexed) {
    return (indexed ? 4 : 0) + std::strlen(name.c_str()) + 1 + std::strlen(value.c_str()) + 1;
}

void check_header(const char* call, const std::string& name, const std::string& value,
                  bool indexed) {
    check(!as_sent(name).empty() && header_data(name, value, indexed) <= kMaxDataSize, call);
}

// A command whose data is one string: an address or a reason.
void check_argument(const char* call, const std::string& arg) {
    check(!as_sent(arg).empty() && std::strlen(arg.c_str()) + 1 <= kMaxDataSize, call);
}

}  // namespace

std::string reply_safe(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\r' || c == '\n') c = ' ';
        if (c == '%') out.push_back('%');
        out.push_back(c);
        if (out.size() > 900) break;
    }
    return out;
}

void send_header_edits(EditSink& sink, const policy::Edits& edits) {
    for (const auto& e : edits.headers) {
        switch (e.op) {
            case policy::HeaderEdit::Op::remove:
                sink.remove_header(e.name, e.index);
                break;
            case policy::HeaderEdit::Op::change:
                sink.change_header(e.name, e.index, e.value);
                break;
            case policy::HeaderEdit::Op::add:
                sink.add_header(e.name, e.value);
                break;
        }
    }
}

void send_envelope_edits(EditSink& sink, const policy::Edits& edits) {
    if (edits.envelope_from) sink.change_sender(*edits.envelope_from);
    for (const auto& r : edits.remove_rcpts) sink.delete_recipient(r);
    for (const auto& r : edits.add_rcpts) sink.add_recipient(r);
}

void send_edits(EditSink& sink, const policy::Edits& edits, const std::string& audit_header) {
    send_header_edits(sink, edits);
    sink.insert_header(0, "X-Marketplace-Audit", audit_header);
    send_envelope_edits(sink, edits);
    if (edits.body) {
        // A spooled body is read back one chunk at a time; a read error
        // throws, so a half-replaced body is never accepted.
        const policy::MessageBody& body = *edits.body;
        if (body.empty()) sink.replace_body({});
        body.for_each_chunk([&](std::string_view piece) { sink.replace_body(piece); }, kBodyChunk);
    }
}

BoundFields delivered_fields(const policy::Message& received, const policy::Envelope& envelope,
                             const policy::Edits& edits, const std::string& received_digest) {
    MemorySink view(policy::Message{received.headers, {}, {}}, envelope);
    send_header_edits(view, edits);
    send_envelope_edits(view, edits);
    std::vector<std::string> recipients;
    for (const auto& r : view.envelope().recipients) recipients.push_back(r.address);
    if (!edits.body && !received_digest.empty())
        return bound_fields(view.message().headers, recipients, received_digest);
    return bound_fields(view.message().headers, recipients,
                        edits.body ? *edits.body : received.body);
}

MemorySink::MemorySink(policy::Message message, policy::Envelope envelope)
    : message_(std::move(message)), envelope_(std::move(envelope)) {}

void MemorySink::change_header(const std::string& name, int index, const std::string& value) {
    check(index >= 0, "smfi_chgheader");
    check_header("smfi_chgheader", name, value, true);
    // Postfix takes a change to an empty value for a removal.
    if (as_sent(value).empty()) return remove_header(name, index);
    int seen = 0;
    for (auto& h : message_.headers)
        if (iequals(h.name, as_sent(name)) && ++seen == index) {
            h.value = as_sent(value);
            return;
        }
    message_.headers.push_back({as_sent(name), as_sent(value)});
}

void MemorySink::remove_header(const std::string& name, int index) {
    check(index >= 0, "smfi_chgheader");
    check_header("smfi_chgheader", name, "", true);
    int seen = 0;
    for (auto it = message_.headers.begin(); it != message_.headers.end(); ++it)
        if (iequals(it->name, as_sent(name)) && ++seen == index) {
            message_.headers.erase(it);
            return;
        }
}

void MemorySink::add_header(const std::string& name, const std::string& value) {
    check_header("smfi_addheader", name, value, false);
    message_.headers.push_back({as_sent(name), as_sent(value)});
}

void MemorySink::insert_header(int index, const std::string& name, const std::string& value) {
    check(index >= 0, "smfi_insheader");
    check_header("smfi_insheader", name, value, true);
    const auto at = std::min<std::size_t>(static_cast<std::size_t>(index), message_.headers.size());
    message_.headers.insert(message_.headers.begin() + static_cast<std::ptrdiff_t>(at),
                            {as_sent(name), as_sent(value)});
}

void MemorySink::change_sender(const std::string& sender) {
    check_argument("smfi_chgfrom", sender);
    envelope_.sender_raw = as_sent(sender);
    envelope_.sender = normalize_address(envelope_.sender_raw);
}

void MemorySink::delete_recipient(const std::string& raw) {
    check_argument("smfi_delrcpt", raw);
    std::erase_if(envelope_.recipients,
                  [&](const policy::Recipient& r) { return r.raw == as_sent(raw); });
}

void MemorySink::add_recipient(const std::string& raw) {
    check_argument("smfi_addrcpt", raw);
    envelope_.recipients.push_back({as_sent(raw), normalize_address(as_sent(raw)), std::nullopt});
}

void MemorySink::replace_body(std::string_view chunk) {
    if (!body_replaced_) {
        message_.body = policy::MessageBody(message_.body.options());
        body_replaced_ = true;
    }
    auto appended = message_.body.append(chunk);
    if (!appended) throw std::runtime_error("smfi_replacebody failed: " + appended.error().message);
}

void MemorySink::quarantine(const std::string& reason) {
    const std::string safe = reply_safe(reason);
    check_argument("smfi_quarantine", safe);
    quarantine_ = safe;
}

void MemorySink::set_reply(const std::string& code, const std::string& xcode,
                           const std::string& text) {
    reply_ = Reply{code, xcode, reply_safe(text)};
}

}  // namespace mm::milter
