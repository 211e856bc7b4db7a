#include "policy/rewrite/message_ids.h"

#include <algorithm>
#include <exception>
#include <map>
#include <string_view>
#include <utility>

#include "policy/mime/gmime_ptr.h"
#include "util/address.h"
#include "util/hex.h"

namespace mm::policy {
namespace {

// A header line is at most 998 characters: the mapped References keep the
// first id and as many of the newest as fit in this many (clients trim the
// same way; the parent and the root are what threading needs).
constexpr std::size_t kMaxReferencesChars = 900;

struct ReferencesFree {
    void operator()(GMimeReferences* r) const { g_mime_references_free(r); }
};
using ReferencesPtr = std::unique_ptr<GMimeReferences, ReferencesFree>;

// An id we are willing to store or pass on: no white space, control
// characters or angle brackets (GMime returns quoted local parts with their
// spaces, and "<>" as an empty id), short enough for one header line, and
// UTF-8 (a store may keep ids as text in that encoding: PostgreSQL refuses
// anything else, and the message would be tempfailed on every retry).
bool usable_id(std::string_view id) {
    return !id.empty() && id.size() <= kMaxReferencesChars &&
           std::none_of(id.begin(), id.end(),
                        [](char c) {
                            auto u = static_cast<unsigned char>(c);
                            return u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '"' ||
                                   c == '\\';
                        }) &&
           g_utf8_validate(id.data(), static_cast<gssize>(id.size()), nullptr);
}

bool in_domain(std::string_view id, const std::string& domain) {
    auto at = id.rfind('@');
    return at != std::string_view::npos && iequals(id.substr(at + 1), domain);
}

// The original Message-ID of the message (first field), or "" when it has
// none we can keep.
std::string original_message_id(const Message& message) {
    const std::string* value = message.find("Message-ID");
    if (value == nullptr) return {};
    ensure_gmime();
    GCharPtr decoded(g_mime_utils_decode_message_id(value->c_str()));
    if (!decoded) return {};
    std::string id(decoded.get());
    return usable_id(id) ? id : std::string();
}

// All ids of every field `name`, in order.
std::vector<std::string> ids_of(const Message& message, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& h : message.headers) {
        if (!iequals(h.name, name)) continue;
        auto ids = parse_message_ids(h.value);
        out.insert(out.end(), std::make_move_iterator(ids.begin()),
                   std::make_move_iterator(ids.end()));
    }
    return out;
}

// One referenced id after mapping: what the recipient is shown ("" = drop)
// and the pair's record behind it (for ThreadInfo).
struct Mapped {
    std::string shown;
    std::optional<alias::MessageIdRecord> record;
};

class Mapper {
public:
    Mapper(const alias::ResolvedAlias& pair, const std::string& domain,
           alias::MessageIdStore& store)
        : pair_id_(pair.pair.id),
          sender_(pair.counterpart.role),
          recipient_(pair.owner.role),
          domain_(domain),
          store_(store) {}

    Result<Mapped> map(const std::string& id) {
        auto it = cache_.find(id);
        if (it != cache_.end()) return it->second;
        auto mapped = resolve(id);
        if (!mapped) return mapped.error();
        cache_.emplace(id, *mapped);
        return mapped;
    }

private:
    Result<Mapped> resolve(const std::string& id) {
        if (!usable_id(id)) return Mapped{};
        if (in_domain(id, domain_)) {
            auto found = store_.find_message_id(to_lower(id));
            if (!found) return found.error();
            if (!*found || (*found)->pair_id != pair_id_) return Mapped{};  // never cross pairs
            const alias::MessageIdRecord& r = **found;
            if (r.sender_role == recipient_)
                // The recipient wrote it: its client knows it by its own id.
                return Mapped{usable_id(r.original_id) ? r.original_id : std::string(), r};
            // The sender's own message: the recipient received it under this id.
            return Mapped{r.marketplace_id, r};
        }
        // The sender's own original id: the recipient knows its marketplace id.
        // Anything else (another host's id, the recipient's original the
        // sender cannot legitimately know) is dropped.
        auto found = store_.find_by_original(pair_id_, sender_, id);
        if (!found) return found.error();
        if (!*found) return Mapped{};
        return Mapped{(*found)->marketplace_id, **found};
    }

    std::int64_t pair_id_;
    alias::Role sender_;
    alias::Role recipient_;
    const std::string& domain_;
    alias::MessageIdStore& store_;
    std::map<std::string, Mapped> cache_;
};

std::string bracketed(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) {
        if (!out.empty()) out += ' ';
        out += '<' + id + '>';
    }
    return out;
}

// The first id and as many of the last ones as fit in kMaxReferencesChars.
std::vector<std::string> trimmed(const std::vector<std::string>& ids) {
    std::size_t total = 0;
    for (const auto& id : ids) total += id.size() + 3;
    if (ids.size() <= 1 || total <= kMaxReferencesChars) return ids;
    std::vector<std::string> tail;
    std::size_t used = ids.front().size() + 3;
    for (auto it = ids.rbegin(); it != ids.rend() - 1; ++it) {
        if (used + it->size() + 3 > kMaxReferencesChars) break;
        used += it->size() + 3;
        tail.push_back(*it);
    }
    std::vector<std::string> out{ids.front()};
    out.insert(out.end(), tail.rbegin(), tail.rend());
    return out;
}

// Replaces every field `name` by one holding `ids` (or none, if empty).
void replace_field(const Message& message, const std::string& name,
                   const std::vector<std::string>& ids, std::vector<HeaderEdit>& edits) {
    const int count = message.count(name);
    for (int i = count; i >= 2; --i) edits.push_back({HeaderEdit::Op::remove, name, i, {}});
    if (count == 0) {
        if (!ids.empty()) edits.push_back({HeaderEdit::Op::add, name, 1, bracketed(ids)});
        return;
    }
    if (ids.empty()) {
        edits.push_back({HeaderEdit::Op::remove, name, 1, {}});
        return;
    }
    std::string value = bracketed(ids);
    if (count > 1 || *message.find(name) != value)
        edits.push_back({HeaderEdit::Op::change, name, 1, std::move(value)});
}

}  // namespace

std::string new_message_id(const std::string& domain) {
    return "<" + random_hex(12) + "@" + to_lower(domain) + ">";
}

std::vector<std::string> parse_message_ids(const std::string& value) {
    ensure_gmime();
    // GMime's list parser stops at the first malformed entry ("<a b@c>",
    // "<>"), losing every id after it: parse each "<...>" on its own, so one
    // broken id costs only itself.  Text outside brackets is ignored.
    std::vector<std::string> out;
    std::size_t pos = value.find('<');
    while (pos != std::string::npos) {
        const std::size_t next = value.find('<', pos + 1);
        const std::string segment =
            value.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        ReferencesPtr refs(g_mime_references_parse(nullptr, segment.c_str()));
        const int n = refs ? g_mime_references_length(refs.get()) : 0;
        for (int i = 0; i < n; ++i) {
            const char* id = g_mime_references_get_message_id(refs.get(), i);
            if (id != nullptr) out.emplace_back(id);
        }
        pos = next;
    }
    return out;
}

Result<MessageIdPlan> plan_message_ids(const Message& message, const alias::ResolvedAlias& pair,
                                       const std::string& domain, alias::MessageIdStore& store,
                                       const std::string& reuse_id) {
    MessageIdPlan plan;
    std::string header_value;
    try {
        header_value = reuse_id.empty() ? new_message_id(domain) : "<" + reuse_id + ">";
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("cannot generate a Message-ID: ") + e.what());
    }
    plan.record.marketplace_id = header_value.substr(1, header_value.size() - 2);
    plan.record.original_id = original_message_id(message);
    plan.record.pair_id = pair.pair.id;
    plan.record.sender_role = pair.counterpart.role;

    const int ids = message.count("Message-ID");
    for (int i = ids; i >= 2; --i)
        plan.edits.push_back({HeaderEdit::Op::remove, "Message-ID", i, {}});
    plan.edits.push_back(
        {ids >= 1 ? HeaderEdit::Op::change : HeaderEdit::Op::add, "Message-ID", 1, header_value});

    Mapper mapper(pair, domain, store);
    std::optional<alias::MessageIdRecord> parent, first_ref, last_ref;
    for (const char* name : {"In-Reply-To", "References"}) {
        const bool is_references = std::string_view(name) == "References";
        std::vector<std::string> shown;
        for (const auto& id : ids_of(message, name)) {
            auto mapped = mapper.map(id);
            if (!mapped) return mapped.error();
            if (mapped->record) {
                if (!is_references && !parent) parent = mapped->record;
                if (is_references && !first_ref) first_ref = mapped->record;
                if (is_references) last_ref = mapped->record;
            }
            if (!mapped->shown.empty() &&
                std::find(shown.begin(), shown.end(), mapped->shown) == shown.end())
                shown.push_back(std::move(mapped->shown));
        }
        replace_field(message, name, is_references ? trimmed(shown) : shown, plan.edits);
    }

    const auto& answered = parent ? parent : last_ref;
    if (answered) {
        plan.thread.is_reply = true;
        plan.thread.answers_marketplace_id = answered->marketplace_id;
        plan.thread.answers_original_id = answered->original_id;
        plan.thread.answers_sender_role = answered->sender_role;
        plan.thread.thread_marketplace_id =
            first_ref ? first_ref->marketplace_id : answered->marketplace_id;
    }
    return plan;
}

Result<void> commit_message_id(alias::MessageIdStore& store, const alias::MessageIdRecord& record) {
    return store.record_message_id(record);
}

}  // namespace mm::policy
