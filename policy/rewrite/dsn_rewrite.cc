#include "policy/rewrite/dsn_rewrite.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"
#include "policy/rules/privacy_rule.h"
#include "util/address.h"

namespace mm::policy {
namespace {

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

bool host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
}

// Replaces every case-insensitive occurrence of `needle` in `text`; when
// `whole_host` is set, only where it is not part of a longer host label.
int replace_all(std::string& text, const std::string& needle, const std::string& with,
                bool whole_host) {
    if (needle.empty()) return 0;
    const std::string low_needle = to_lower(needle);
    int n = 0;
    std::size_t pos = 0;
    std::string low = to_lower(text);
    const std::string low_with = to_lower(with);
    while (true) {
        pos = low.find(low_needle, pos);
        if (pos == std::string::npos) return n;
        const std::size_t end = pos + low_needle.size();
        if (whole_host && ((pos > 0 && host_char(text[pos - 1])) ||
                           (end < text.size() && host_char(text[end])))) {
            pos = end;
            continue;
        }
        text.replace(pos, low_needle.size(), with);
        low.replace(pos, low_needle.size(), low_with);
        pos += with.size();
        ++n;
    }
}

// Header fields of a returned message that are kept (scrubbed); everything
// else (Received, Return-Path, DKIM-*, ARC-*, Authentication-Results, X-*,
// List-*, ...) is trace or identity and goes.
bool keep_returned_header(std::string_view name) {
    static const char* const kKeep[] = {"from",        "to",         "cc",
                                        "subject",     "date",       "message-id",
                                        "in-reply-to", "references", "mime-version"};
    if (name.size() > 8 && iequals(name.substr(0, 8), "content-")) return true;
    return std::any_of(std::begin(kKeep), std::end(kKeep),
                       [&](const char* k) { return iequals(name, k); });
}

// One header field (name, and the whole "Name: value\r\n\tmore" text).
struct Field {
    std::string name;  // empty for a blank line or a stray line
    std::string text;  // with its line ends
};

// Splits a header block (or a delivery-status group sequence) into fields;
// blank lines come back as fields with an empty name, so joining the texts
// gives the input back.
std::vector<Field> split_fields(std::string_view block) {
    std::vector<Field> out;
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t nl = block.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? block.size() : nl + 1;
        std::string_view line = block.substr(pos, end - pos);
        const bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t') &&
                                  !out.empty() && !out.back().name.empty();
        if (continuation) {
            out.back().text += line;
        } else {
            Field f;
            auto colon = line.find(':');
            std::string_view stripped = trim(line).empty() ? std::string_view() : line;
            if (!stripped.empty() && colon != std::string_view::npos && colon > 0)
                f.name = trim(line.substr(0, colon));
            f.text = std::string(line);
            out.push_back(std::move(f));
        }
        pos = end;
    }
    return out;
}

std::string field_value(const Field& f) {
    auto colon = f.text.find(':');
    return colon == std::string::npos ? std::string() : trim(f.text.substr(colon + 1));
}

std::string line_end_of(const std::string& text) {
    auto nl = text.find('\n');
    return nl != std::string::npos && nl > 0 && text[nl - 1] == '\r' ? "\r\n" : "\n";
}

std::string message_id_of(std::string value) {
    value = trim(value);
    if (value.size() >= 2 && value.front() == '<') {
        auto close = value.find('>');
        value = value.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    }
    return value;
}

// The addresses, hosts and IP literals of the other side, and how each is
// replaced.
class Scrubber {
public:
    Scrubber(const alias::ResolvedAlias& pair, const std::string& domain)
        : domain_(to_lower(domain)), alias_(pair.counterpart_alias() + "@" + domain_) {
        auto add_real = [&](const std::string& a) {
            if (a.empty()) return;
            reals_.insert(to_lower(a));
            add_host(std::string(domain_part(a)));
        };
        add_real(pair.counterpart.address);
        for (const auto& s : pair.counterpart.senders) add_real(s);
        redact_.emails = true;
        redact_.phones = false;  // status codes, queue ids, dates
    }

    const std::string& alias() const { return alias_; }
    const std::string& domain() const { return domain_; }

    void add_host(std::string host) {
        host = to_lower(trim(host));
        while (!host.empty() && (host.back() == '.' || host.back() == ']')) host.pop_back();
        if (!host.empty() && host.front() == '[') host.erase(0, 1);
        if (host.find('.') == std::string::npos || host == domain_ || host.ends_with("." + domain_))
            return;
        if (std::all_of(host.begin(), host.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
            }))
            return;  // an IP literal: removed by pattern
        hosts_.insert(host);
    }

    // "dns; mx.gmail.example (comment) [192.0.2.1]" -> the host.
    void add_mta_value(const std::string& value) {
        auto semi = value.find(';');
        std::string rest = trim(semi == std::string::npos ? value : value.substr(semi + 1));
        auto stop = rest.find_first_of(" \t\r\n([");
        add_host(rest.substr(0, stop));
    }

    // Returns the number of replacements made in `text`.  Without
    // `redact`, other addresses are kept (a Message-ID: only its host goes).
    int scrub(std::string& text, bool redact = true) const {
        int n = 0;
        for (const auto& real : reals_) n += replace_all(text, real, alias_, false);
        RedactResult r = redact ? redact_text(text, redact_, domain_) : RedactResult{text, {}};
        if (!r.redactions.empty()) {
            n += static_cast<int>(r.redactions.size());
            text = std::move(r.text);
        }
        // Longest first, so "mx.gmail.example" goes before "gmail.example".
        std::vector<std::string> hosts(hosts_.begin(), hosts_.end());
        std::sort(hosts.begin(), hosts.end(),
                  [](const auto& a, const auto& b) { return a.size() > b.size(); });
        for (const auto& h : hosts) n += replace_all(text, h, domain_, true);
        // IPv4, bracketed IPv6 literals, and bare IPv6 in either of the forms
        // that cannot be a time of day: compressed ("::") or all eight groups.
        static const RE2 ip(
            R"(\[?\b(?:IPv6:[0-9A-Fa-f:.]+|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b\]?)"
            R"(|\[?(?:\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?(?:%[A-Za-z0-9]+)?\]?)"
            R"(|\b[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}\b)");
        n += RE2::GlobalReplace(&text, ip, "");
        return n;
    }

private:
    std::string domain_;
    std::string alias_;
    std::set<std::string> reals_;
    std::set<std::string> hosts_;
    RedactPolicy redact_;
};

struct Leaf {
    GMimePart* part;
    std::string type;
    bool top;  // the outer message's own part (its Content-* are top-level headers)
};

class Rewriter {
public:
    Rewriter(Scrubber& s, DsnRewrite& out) : scrub_(s), out_(out) {}

    // Pass 1: leaves, inner messages, and the hosts named by MTA fields.
    void collect(GMimeObject* obj, bool top, int depth) {
        if (obj == nullptr || depth > 16) return;
        if (GMIME_IS_MULTIPART(obj)) {
            auto* mp = GMIME_MULTIPART(obj);
            multiparts_.emplace_back(mp, top);
            for (int i = 0, n = g_mime_multipart_get_count(mp); i < n; ++i)
                collect(g_mime_multipart_get_part(mp, i), false, depth + 1);
        } else if (GMIME_IS_MESSAGE_PART(obj)) {
            GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
            if (inner == nullptr) return;
            inner_.push_back(inner);
            collect(g_mime_message_get_mime_part(inner), false, depth + 1);
        } else if (GMIME_IS_PART(obj)) {
            Leaf leaf{GMIME_PART(obj), lower_mime_type(obj), top};
            if (is_status(leaf.type)) {
                for (const auto& f : split_fields(decode(leaf.part))) {
                    std::string n = to_lower(f.name);
                    if (n == "reporting-mta" || n == "remote-mta" || n == "received-from-mta" ||
                        n == "dsn-gateway")
                        scrub_.add_mta_value(field_value(f));
                }
            }
            leaves_.push_back(leaf);
        }
    }

    // Pass 2: rewrite.
    void run() {
        // Postfix writes its host name into the MIME boundary.
        for (auto [mp, top] : multiparts_) {
            const char* b = g_mime_multipart_get_boundary(mp);
            std::string boundary = b ? b : "";
            if (scrub_.scrub(boundary) == 0) continue;
            g_mime_multipart_set_boundary(mp, nullptr);  // a fresh random one
            changed_ = true;
            if (top) top_changed_ = true;
        }
        for (GMimeMessage* inner : inner_) rewrite_inner_headers(inner);
        for (const Leaf& leaf : leaves_) {
            if (is_status(leaf.type))
                rewrite_status(leaf);
            else if (leaf.type == "text/rfc822-headers" || leaf.type == "message/global-headers")
                rewrite_returned_headers(leaf);
            else if (leaf.type == "message/global")
                rewrite_returned_message(leaf);
            else if (leaf.type.starts_with("text/"))
                rewrite_text(leaf);
        }
    }

    bool changed() const { return changed_; }
    bool top_changed() const { return top_changed_; }
    int replacements = 0;
    int dropped_headers = 0;
    int status_fields = 0;

private:
    static bool is_status(const std::string& type) {
        return type == "message/delivery-status" || type == "message/global-delivery-status";
    }

    static std::string decode(GMimePart* part) {
        if (GMIME_IS_TEXT_PART(part)) {
            GCharPtr t(g_mime_text_part_get_text(GMIME_TEXT_PART(part)));
            return t ? std::string(t.get()) : std::string();
        }
        return decoded_content(part);
    }

    void replace(const Leaf& leaf, const std::string& text) {
        GMimeContentEncoding enc = g_mime_part_get_content_encoding(leaf.part);
        if (GMIME_IS_TEXT_PART(leaf.part)) {
            g_mime_text_part_set_text(GMIME_TEXT_PART(leaf.part), text.c_str());
        } else {
            GPtr<GMimeStream> mem(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
            GPtr<GMimeDataWrapper> wrapper(
                g_mime_data_wrapper_new_with_stream(mem.get(), GMIME_CONTENT_ENCODING_DEFAULT));
            g_mime_part_set_content(leaf.part, wrapper.get());
        }
        if ((enc == GMIME_CONTENT_ENCODING_7BIT || enc == GMIME_CONTENT_ENCODING_DEFAULT) &&
            !is_ascii(text))
            enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
        if (enc != GMIME_CONTENT_ENCODING_DEFAULT) g_mime_part_set_content_encoding(leaf.part, enc);
        changed_ = true;
        if (leaf.top) top_changed_ = true;
    }

    void rewrite_status(const Leaf& leaf) {
        const std::string before = decode(leaf.part);
        const std::string eol = line_end_of(before);
        std::string after;
        for (auto& f : split_fields(before)) {
            const std::string n = to_lower(f.name);
            if (n == "final-recipient" || n == "original-recipient" || n == "x-actual-recipient") {
                f.text = f.name + ": rfc822; " + scrub_.alias() + eol;
                ++status_fields;
            } else if (n == "reporting-mta" || n == "remote-mta" || n == "received-from-mta" ||
                       n == "dsn-gateway") {
                f.text = f.name + ": dns; " + scrub_.domain() + eol;
                ++status_fields;
            } else {
                replacements += scrub_.scrub(f.text);
            }
            after += f.text;
        }
        if (after != before) replace(leaf, after);
    }

    void rewrite_returned_headers(const Leaf& leaf) {
        const std::string before = decode(leaf.part);
        std::string after = rewritten_header_block(before);
        if (after != before) replace(leaf, after);
    }

    // message/global (RFC 6532, a returned SMTPUTF8 message): GMime keeps it
    // as a leaf, so its header block is rewritten like returned headers and
    // its body is scrubbed as text.
    void rewrite_returned_message(const Leaf& leaf) {
        const std::string before = decode(leaf.part);
        std::size_t split = before.find("\r\n\r\n");
        std::size_t skip = 4;
        if (split == std::string::npos || before.find("\n\n") < split) {
            split = before.find("\n\n");
            skip = 2;
        }
        std::string head = split == std::string::npos ? before : before.substr(0, split + skip / 2);
        std::string body =
            split == std::string::npos ? std::string() : before.substr(split + skip / 2);
        std::string after = rewritten_header_block(head);
        replacements += scrub_.scrub(body);
        after += body;
        if (after != before) replace(leaf, after);
    }

    std::string rewritten_header_block(const std::string& before) {
        std::string after;
        for (auto& f : split_fields(before)) {
            if (!f.name.empty() && !keep_returned_header(f.name)) {
                ++dropped_headers;
                continue;
            }
            if (f.name.empty() && trim(f.text).size() > 0) {
                ++dropped_headers;  // a stray line: not a header we can vouch for
                continue;
            }
            if (iequals(f.name, "message-id") && !out_.returned_message_id)
                out_.returned_message_id = message_id_of(field_value(f));
            replacements += scrub_.scrub(f.text);
            after += f.text;
        }
        return after;
    }

    void rewrite_text(const Leaf& leaf) {
        std::string text = decode(leaf.part);
        int n = scrub_.scrub(text);
        if (n == 0) return;
        replacements += n;
        replace(leaf, text);
    }

    void rewrite_inner_headers(GMimeMessage* inner) {
        if (!out_.returned_message_id) {
            if (const char* id = g_mime_message_get_message_id(inner))
                out_.returned_message_id = message_id_of(id);
        }
        GMimeHeaderList* list = g_mime_object_get_header_list(GMIME_OBJECT(inner));
        for (int i = g_mime_header_list_get_count(list) - 1; i >= 0; --i) {
            GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
            const char* name = g_mime_header_get_name(h);
            if (name == nullptr || !keep_returned_header(name)) {
                g_mime_header_list_remove_at(list, i);
                ++dropped_headers;
                changed_ = true;
                continue;
            }
            const char* raw = g_mime_header_get_raw_value(h);
            std::string value = raw ? raw : "";
            int n = scrub_.scrub(value);
            if (n == 0) continue;
            replacements += n;
            g_mime_header_set_raw_value(h, value.c_str());
            changed_ = true;
        }
    }

    Scrubber& scrub_;
    DsnRewrite& out_;
    std::vector<Leaf> leaves_;
    std::vector<GMimeMessage*> inner_;
    std::vector<std::pair<GMimeMultipart*, bool>> multiparts_;  // bool: the top part
    bool changed_ = false;
    bool top_changed_ = false;
};

// The address in a From value ("Mail Delivery Subsystem <MAILER-DAEMON@x>").
std::string first_address(const std::string& value) {
    static const RE2 re(R"(([^\s<>"@,;:]+@[A-Za-z0-9.\-\[\]]+))");
    std::string a;
    RE2::PartialMatch(value, re, &a);
    return a;
}

bool looks_like_plain_bounce(const Message& m) {
    if (const std::string* from = m.find("From")) {
        std::string local = to_lower(local_part(first_address(*from)));
        if (local == "mailer-daemon" || local == "postmaster" || local == "mail-daemon")
            return true;
    }
    if (const std::string* subject = m.find("Subject")) {
        const std::string s = to_lower(*subject);
        static const char* const kPhrases[] = {
            "failure notice",      "undeliver",        "delivery status notification",
            "returned mail",       "delivery failure", "mail delivery failed",
            "delivery has failed", "unzustellbar",     "non remis"};
        for (const char* p : kPhrases)
            if (s.find(p) != std::string::npos) return true;
    }
    return false;
}

bool is_report(GMimeObject* top) {
    if (top == nullptr || !GMIME_IS_MULTIPART(top)) return false;
    if (lower_mime_type(top) != "multipart/report") return false;
    const char* rt =
        g_mime_content_type_get_parameter(g_mime_object_get_content_type(top), "report-type");
    return rt != nullptr &&
           (iequals(rt, "delivery-status") || iequals(rt, "global-delivery-status"));
}

// Hosts of the other side: whoever sent the bounce and relayed it here.
void add_sender_hosts(const Message& message, Scrubber& scrub) {
    if (const std::string* from = message.find("From")) {
        std::string a = first_address(*from);
        if (!a.empty()) scrub.add_host(std::string(domain_part(a)));
    }
    static const RE2 trace(R"((?i)\b(?:from|by)\s+([A-Za-z0-9.\-]+))");
    for (const auto& h : message.headers) {
        if (!iequals(h.name, "Received")) continue;
        re2::StringPiece in(h.value);
        std::string host;
        while (RE2::FindAndConsume(&in, trace, &host)) scrub.add_host(host);
    }
}

struct HeaderCounts {
    int removed_trace = 0;
    int scrubbed = 0;
};

// The bounce's own header: From becomes the marketplace's mailer daemon, the
// trace goes, every other field is scrubbed of the other side's addresses
// and hosts.  The MIME fields are left to the body's rewriting.
HeaderCounts rewrite_top_headers(const Message& message, Scrubber& scrub,
                                 std::vector<HeaderEdit>& edits) {
    const std::string from = "Mail Delivery System <MAILER-DAEMON@" + scrub.domain() + ">";
    HeaderCounts counts;
    for (const HeaderName& h : header_names(message)) {
        const std::string name = to_lower(h.name);
        const auto count = static_cast<int>(h.positions.size());
        if (name == "from") {
            for (int i = count; i >= 2; --i)
                edits.push_back({HeaderEdit::Op::remove, h.name, i, {}});
            edits.push_back({HeaderEdit::Op::change, h.name, 1, from});
            continue;
        }
        // X-Marketplace-* is removed by the caller in any case.
        if (is_content_header(name) || name == "mime-version" || name.starts_with("x-marketplace-"))
            continue;
        if (name == "received" || name == "dkim-signature" || name.starts_with("arc-") ||
            name == "x-google-dkim-signature") {
            for (int i = count; i >= 1; --i)
                edits.push_back({HeaderEdit::Op::remove, h.name, i, {}});
            counts.removed_trace += count;
            continue;
        }
        for (int i = 1; i <= count; ++i) {
            std::string value = message.headers[h.positions[i - 1]].value;
            if (scrub.scrub(value, name != "message-id") == 0) continue;
            ++counts.scrubbed;
            edits.push_back({HeaderEdit::Op::change, h.name, i, value});
        }
    }
    if (message.count("From") == 0) edits.push_back({HeaderEdit::Op::add, "From", 1, from});
    return counts;
}

}  // namespace

DsnRewrite rewrite_dsn(const Message& message, const alias::ResolvedAlias& pair,
                       const std::string& domain,
                       const std::function<bool(const std::string& message_id)>* known_message) {
    ensure_gmime();
    DsnRewrite out;
    GPtr<GMimeMessage> parsed = parse_mime(message, nullptr, nullptr);
    GMimeObject* top = parsed ? g_mime_message_get_mime_part(parsed.get()) : nullptr;

    out.is_dsn = is_report(top) || looks_like_plain_bounce(message);
    if (!out.is_dsn) return out;

    Scrubber scrub(pair, domain);
    add_sender_hosts(message, scrub);

    Rewriter rw(scrub, out);
    if (top != nullptr) {
        rw.collect(top, true, 0);
        rw.run();
    }

    const HeaderCounts headers = rewrite_top_headers(message, scrub, out.header_edits);

    if (rw.changed()) {
        out.new_body = write_body(top, message.body.options(), message.body.size());
        if (rw.top_changed()) {
            auto edits = content_header_edits(message, top);
            out.header_edits.insert(out.header_edits.end(), edits.begin(), edits.end());
        }
    }

    if (known_message != nullptr && *known_message && out.returned_message_id &&
        !(*known_message)(*out.returned_message_id))
        out.backscatter = true;

    if (rw.status_fields > 0)
        out.notes.push_back(std::to_string(rw.status_fields) +
                            " delivery-status field(s) rewritten");
    if (rw.dropped_headers > 0)
        out.notes.push_back(std::to_string(rw.dropped_headers) + " returned header(s) dropped");
    if (rw.replacements > 0)
        out.notes.push_back(std::to_string(rw.replacements) +
                            " address/host mention(s) replaced in the body");
    if (headers.removed_trace > 0)
        out.notes.push_back(std::to_string(headers.removed_trace) + " trace header(s) removed");
    if (headers.scrubbed > 0)
        out.notes.push_back(std::to_string(headers.scrubbed) + " header(s) scrubbed");
    if (!out.returned_message_id) out.notes.push_back("no returned headers");
    return out;
}

bool is_auto_reply(const Message& message) {
    for (const auto& h : message.headers) {
        const std::string value = to_lower(trim(h.value));
        if (iequals(h.name, "Auto-Submitted")) {
            std::string kw = trim(value.substr(0, value.find_first_of(" \t;(")));
            if (!kw.empty() && kw != "no") return true;
        } else if (iequals(h.name, "X-Autoreply") || iequals(h.name, "X-Autorespond") ||
                   iequals(h.name, "X-Autoresponder")) {
            if (value != "no" && value != "false" && value != "0") return true;
        }
    }
    const std::string* precedence = message.find("Precedence");
    if (precedence == nullptr) return false;
    const std::string p = to_lower(trim(*precedence));
    if (p == "auto_reply") return true;
    if (p != "bulk" && p != "junk") return false;
    const std::string* subject = message.find("Subject");
    if (subject == nullptr) return false;
    const std::string s = to_lower(trim(*subject));
    return s.starts_with("auto:") || s.starts_with("automatic reply") ||
           s.starts_with("auto-reply") || s.starts_with("autoreply") ||
           s.starts_with("out of office");
}

}  // namespace mm::policy
