#include "policy/mime/mime_inspect.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "policy/html/html_css.h"
#include "policy/html/html_text.h"
#include "policy/limits.h"
#include "policy/mime/content_ids.h"
#include "policy/mime/embedded_payloads.h"
#include "policy/mime/flowed_text.h"
#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"
#include "policy/mime/mime_parts.h"
#include "policy/mime/parser_warnings.h"
#include "policy/mime/part_content.h"
#include "policy/rewrite/header_privacy.h"
#include "policy/rules/document_text.h"
#include "util/address.h"

namespace mm::policy {
namespace {

// Documents may take this share of the CPU budget that is left when the
// first one is read; the rest stays for the message's other checks.
constexpr double kDocumentTimeShare = 0.5;

class Inspector {
public:
    Inspector(const InspectOptions& o, const SpoolOptions& spool, ContentFindings& f)
        : opt_(o), spool_(spool), out_(f) {}

    void run(GMimeMessage* message) {
        top_ = message;
        if (const char* subject = g_mime_message_get_subject(message)) {
            subjects_.push_back(subject);
            out_.subject = subject;
        }
        collect(g_mime_message_get_mime_part(message), nullptr, 0, message, "1", 0);
        if (opt_.policy.headers.neutral_content_ids) rename_content_ids();
        // Asked once per leaf: nothing below changes a part's type,
        // disposition or names, and each asking reads them from GMime again.
        std::vector<bool> body_text(leaves_.size());
        for (std::size_t i = 0; i < leaves_.size(); ++i) {
            body_text[i] = is_body_text(leaves_[i]);
            if (!body_text[i] && g_mime_object_get_content_id(GMIME_OBJECT(leaves_[i].part)))
                some_part_has_cid_ = true;
        }
        int count = 0;
        for (std::size_t i = 0; i < leaves_.size(); ++i)
            if (body_text[i]) process_text(leaves_[i], is_html(leaves_[i]), count);
        for (std::size_t i = 0; i < leaves_.size(); ++i)
            if (!body_text[i]) process_attachment(leaves_[i], count);
        out_.size_violation = out_.attachment_bytes > opt_.policy.attachments.max_total_bytes;

        check_cpu_budget();
        if (opt_.policy.content.rules) {
            ScanContext context;
            context.subjects = subjects_.size();
            context.sender =
                // A bounce or an auto-reply speaks for nobody: every rule judges it,
                // the seller-only ones too.
                opt_.delivery_report || opt_.force_redact      ? classify::kAnySender
                : opt_.direction == Direction::seller_to_buyer ? classify::kSeller
                                                               : classify::kBuyer;
            out_.content_hits = scan_every_text(*opt_.policy.content.rules, context);
        }
    }

    bool changed() const { return changed_; }
    bool top_changed() const { return top_changed_; }

private:
    // At most one hit per rule, the message's own texts first.  Each
    // attachment's text is scanned on its own, so that its hits can name it.
    std::vector<ContentHit> scan_every_text(const ContentRules& rules,
                                            const ScanContext& context) const {
        std::vector<std::string_view> own(subjects_.begin(), subjects_.end());
        for (std::size_t i = 0; i < out_.texts.size(); ++i)
            if (sources_[i].empty()) own.push_back(out_.texts[i]);
        std::vector<ContentHit> hits = rules.scan(own, context, out_.scans.get());
        ScanContext attachment_context = context;
        attachment_context.subjects = 0;
        auto scan_attachment = [&](std::string_view text, const std::string& source) {
            if (hits.size() >= rules.rules().size()) return;
            for (ContentHit& hit : rules.scan({text}, attachment_context)) {
                if (std::any_of(hits.begin(), hits.end(),
                                [&](const ContentHit& h) { return h.rule_id == hit.rule_id; }))
                    continue;
                hit.excerpt = source + ": " + hit.excerpt;
                hits.push_back(std::move(hit));
            }
        };
        for (std::size_t i = 0; i < out_.texts.size(); ++i)
            if (!sources_[i].empty()) scan_attachment(out_.texts[i], sources_[i]);
        for (std::size_t i = 0; i < out_.document_texts.size(); ++i)
            scan_attachment(out_.document_texts[i], document_sources_[i]);
        return hits;
    }

    // How an attachment is named in a hit's excerpt.
    static std::string attachment_label(const AttachmentReport& rep) {
        return rep.filename.empty() ? "part " + rep.path : rep.filename;
    }

    // The text of a kept document attachment, within attachments.text's
    // bounds and a share of the CPU budget (what is not read is noted on
    // the report, and the attachment judged without it).
    void read_document(AttachmentReport& rep, const std::function<const MessageBody&()>& whole,
                       const PdfTextCheck& pdf_text) {
        const AttachmentPolicy::TextReading& bounds = opt_.policy.attachments.text;
        const DocumentKind kind = document_kind(rep.detected_type);
        if (!bounds.read || kind == DocumentKind::none) return;
        if (document_chars_ >= bounds.max_message_chars) {
            rep.text_note = "text not read: the message's attachments already gave " +
                            std::to_string(bounds.max_message_chars) +
                            " characters (attachments.text.max_message_chars)";
            return;
        }
        check_cpu_budget();
        if (!document_time_) document_time_.emplace(kDocumentTimeShare);
        const TextBounds limits{
            std::min(bounds.max_chars, bounds.max_message_chars - document_chars_),
            bounds.max_pdf_pages, [this] { return document_time_->spent(); }, &pdf_text};
        DocumentText read = read_document_text(kind, whole(), limits);
        rep.text_note = std::move(read.note);
        document_chars_ += read.chars;
        if (read.text.empty()) return;
        out_.document_texts.push_back(std::move(read.text));
        document_sources_.push_back(attachment_label(rep));
    }

    void collect(GMimeObject* obj, GMimeMultipart* parent, int index, GMimeMessage* owner,
                 const std::string& path, int depth) {
        if (obj == nullptr) return;
        check_cpu_budget();
        if (depth > opt_.policy.attachments.max_depth) {
            out_.malformed.push_back("nesting deeper than " +
                                     std::to_string(opt_.policy.attachments.max_depth) +
                                     " levels at part " + path);
            return;
        }
        if (GMIME_IS_MULTIPART(obj)) {
            auto* mp = GMIME_MULTIPART(obj);
            if (g_mime_object_get_content_type_parameter(obj, "start") != nullptr)
                related_.push_back(obj);
            int n = g_mime_multipart_get_count(mp);
            for (int i = 0; i < n; ++i)
                collect(
                    g_mime_multipart_get_part(mp, i), mp, i, owner,
                    (parent == nullptr && path == "1" ? "" : path + ".") + std::to_string(i + 1),
                    depth + 1);
        } else if (GMIME_IS_MESSAGE_PART(obj)) {
            GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
            if (inner == nullptr) return;
            // A forwarded message's subject is read like ours.
            if (const char* subject = g_mime_message_get_subject(inner))
                subjects_.push_back(subject);
            scrub_forwarded_headers(inner);
            collect(g_mime_message_get_mime_part(inner), nullptr, 0, inner, path, depth + 1);
        } else if (GMIME_IS_PART(obj)) {
            leaves_.push_back({GMIME_PART(obj), parent, index, owner, path});
        }
    }

    // A forwarded message's own header carries the sender's trace
    // (Received ... for <real address>, Delivered-To, X-Original-To): it
    // meets the same allow-list as the message's header.  Its MIME fields
    // stay, they describe the parts inside.
    void scrub_forwarded_headers(GMimeMessage* inner) {
        GMimeHeaderList* list = g_mime_object_get_header_list(GMIME_OBJECT(inner));
        for (int i = g_mime_header_list_get_count(list) - 1; i >= 0; --i) {
            const char* name = g_mime_header_get_name(g_mime_header_list_get_header_at(list, i));
            const std::string_view n = name != nullptr ? name : "";
            if (header_passes(opt_.policy.headers, n) || iequals(n.substr(0, 8), "content-") ||
                iequals(n, "mime-version"))
                continue;
            g_mime_header_list_remove_at(list, i);
            ++out_.forwarded_headers_removed;
            changed_ = true;
        }
    }

    bool redact_enabled() const {
        const RedactPolicy& r = opt_.policy.redact;
        if (opt_.force_redact) return true;
        return opt_.direction == Direction::seller_to_buyer ? r.seller_to_buyer : r.buyer_to_seller;
    }

    // `source` names an attachment whose text this is ("" for the
    // message's own text).
    void process_text(const MimeLeaf& leaf, bool html, int& count, const std::string& source = {}) {
        check_cpu_budget();
        // A text part may not carry NUL bytes (RFC 2045 2.7), and GMime's
        // text ends at the first one: whatever followed it would escape every
        // check and still be delivered.  They are removed from the part
        // before it is judged, which also makes the part one that changed.
        std::string bytes = decoded_content(leaf.part);
        const bool had_nuls = std::memchr(bytes.data(), '\0', bytes.size()) != nullptr;
        if (had_nuls) {
            std::erase(bytes, '\0');
            out_.malformed.push_back("part " + leaf.path + ": NUL bytes in text");
        }
        // Likewise base64 that goes on after its padding: `bytes` ends there,
        // and the part is delivered as what was judged.
        const bool cut_at_padding = base64_continues_after_padding(leaf.part);
        if (cut_at_padding) out_.malformed.push_back(padding_finding(leaf));
        const bool reencode = had_nuls || cut_at_padding;
        if (reencode) set_decoded_content(leaf.part, bytes);
        std::optional<std::string> decoded = part_text(leaf.part, std::move(bytes));
        if (!decoded) {
            out_.malformed.push_back("part " + leaf.path + ": text could not be decoded");
            return;
        }
        std::string text = std::move(*decoded);
        // Words made by CSS alone are not delivered: no rule could tell
        // where among the others a reader would see them.
        const bool css_cut = html && strip_css_words(text);
        // An HTML part is read as its reader sees it: files encoded in a
        // <pre> or in lines ended by <br> are extracted by clients too.
        std::string seen = html ? html_to_text(text) : std::string();
        bool part_changed = judge_embedded_files(leaf, html ? seen : text, html, text, count);
        part_changed = part_changed || css_cut;
        if (part_changed && html) seen = html_to_text(text);
        // A format=flowed text is read from here on as its reader joins it
        // (flowed_text.h); encoded files were looked for in its lines as
        // sent, where clients extract them.  Should the part be rewritten,
        // it becomes that joined text.
        const std::optional<FlowedFormat> flowed = html ? std::nullopt : flowed_format(leaf.part);
        if (flowed) text = unflow(text, flowed->delsp);
        out_.texts.push_back(html ? std::move(seen) : text);
        sources_.push_back(source);
        const std::size_t full_reading = out_.texts.size() - 1;
        // A client that applies CSS leaves hidden text out, joining the words
        // around it: that reading is judged too.
        std::optional<std::string> visible;
        if (html) {
            visible = html_to_visible_text(text);
            if (visible && *visible != out_.texts.back()) {
                out_.texts.push_back(*visible);
                sources_.push_back(source);
            }
        }
        // Content-IDs matter only to a part that names one (inline images).
        if (html && some_part_has_cid_) collect_cids(text);
        check_cpu_budget();

        const bool links_cut = cut_links(leaf, html, text);
        if (links_cut) part_changed = true;
        check_cpu_budget();
        if (redact_enabled()) {
            // An HTML part is redacted in what its readers see; the renderings
            // made above still are that unless links were cut.
            HtmlReadings readings;
            if (!links_cut) readings = {&out_.texts[full_reading], &visible};
            RedactResult r = html ? redact_html(text, opt_.policy.redact, opt_.domain, readings)
                                  : redact_text(text, opt_.policy.redact, opt_.domain);
            charge_redactions(r.redactions.size());
            if (!r.redactions.empty()) {
                out_.redactions.insert(out_.redactions.end(), r.redactions.begin(),
                                       r.redactions.end());
                if (opt_.policy.redact.action == RedactPolicy::Action::redact) {
                    text = std::move(r.text);
                    part_changed = true;
                }
            }
        }
        if (html && renamer_ && rewrite_cid_urls(text, *renamer_) > 0) part_changed = true;
        if (part_changed) {
            replace_text(leaf, text);
            if (flowed) mark_unflowed(leaf.part);
        } else if (reencode) {
            mark_changed(leaf);
        }
    }

    bool strip_css_words(std::string& text) {
        std::size_t removed = 0;
        std::string kept = html::strip_css_text(text, removed);
        if (removed == 0) return false;
        text = std::move(kept);
        out_.css_words_removed += removed;
        return true;
    }

    // The links of the part's `text` found and reported; true when `text`
    // lost some (links.action strip, or too many links to read them all).
    bool cut_links(const MimeLeaf& leaf, bool html, std::string& text) {
        LinkScan links =
            html ? scan_html_links(text, opt_.policy.links, opt_.domain, Unchanged::leave_empty)
                 : scan_text_links(text, opt_.policy.links, opt_.domain, Unchanged::leave_empty);
        const bool over_limit = !links.over_limit.empty();
        if (over_limit)
            // Not read to the end, so not checked: never delivered as it was.
            out_.malformed.push_back("part " + leaf.path + ": " + links.over_limit);
        else if (!links.changed())
            return false;
        out_.links.insert(out_.links.end(), links.removed.begin(), links.removed.end());
        out_.links_removed += links.removed_count;
        if (!over_limit && opt_.policy.links.action != LinkPolicy::Action::strip) return false;
        text = std::move(links.text);
        return true;
    }

    void replace_text(const MimeLeaf& leaf, const std::string& text) {
        set_part_text(leaf.part, text);
        mark_changed(leaf);
    }

    void collect_cids(const std::string& html) {
        static const RE2 cid(R"((?i)\bcid:([^"'\s>)]+))");
        re2::StringPiece in(html);
        std::string id;
        while (RE2::FindAndConsume(&in, cid, &id)) {
            const auto renamed = renamer_ ? renamer_->renamed(id) : std::nullopt;
            cids_.insert(to_lower(renamed ? *renamed : id));
        }
    }

    // Content-IDs that name the sender's host become neutral ones
    // (content_ids.h) before any part is judged; the HTML's cid: URLs follow
    // in process_text.
    void rename_content_ids() {
        renamer_.emplace(opt_.domain);
        for (const MimeLeaf& leaf : leaves_) {
            if (!rename_content_id(*renamer_, GMIME_OBJECT(leaf.part))) continue;
            ++out_.content_ids_rewritten;
            mark_changed(leaf);
        }
        for (GMimeObject* related : related_) {
            if (!rename_start_parameter(*renamer_, related)) continue;
            changed_ = true;
            if (related == g_mime_message_get_mime_part(top_)) top_changed_ = true;
        }
    }

    void process_attachment(const MimeLeaf& leaf, int& count) {
        check_cpu_budget();
        GMimeObject* obj = GMIME_OBJECT(leaf.part);
        AttachmentReport rep;
        rep.path = leaf.path;
        const std::vector<std::string> names = part_names(leaf.part);
        rep.filename = printable(names.empty() ? "" : names.front());
        rep.declared_type = lower_mime_type(obj);
        // Decoded as a stream: the size counted, only the prefix libmagic
        // reads kept.  If the classifier or the document reader needs the
        // whole content (AttachmentInput::whole), decoding goes on after
        // the prefix.
        const auto prefix = std::make_shared<const DecodedPrefix>(
            decode_prefix(leaf.part, AttachmentClassifier::kSniffBytes));
        const DecodedPrefix& decoded = *prefix;
        // What follows base64 padding was neither sized nor sniffed.
        const bool cut_at_padding = decoded.base64_after_padding;
        if (cut_at_padding) out_.malformed.push_back(padding_finding(leaf));
        rep.size = decoded.size;
        const char* cid = g_mime_object_get_content_id(obj);
        rep.inline_image = cid != nullptr && cids_.count(to_lower(cid)) > 0;

        AttachmentInput input{rep.filename, rep.declared_type, decoded.head, decoded.size, {}};
        input.whole = [this, part = leaf.part, prefix,
                       whole =
                           std::make_shared<std::optional<MessageBody>>()]() -> const MessageBody& {
            if (!*whole) {
                auto decoded_whole = decode_to_body(part, spool_, prefix.get());
                if (!decoded_whole)
                    throw std::runtime_error("decoding an attachment: " +
                                             decoded_whole.error().message);
                whole->emplace(std::move(decoded_whole.value()));
            }
            return **whole;
        };
        if (opt_.delivery_report && is_report_part(rep.declared_type)) input.declared_type.clear();
        PdfTextCheck pdf_text;
        AttachmentVerdict v = classify_every_name(input, names, pdf_text);
        if (!v.allowed && opt_.delivery_report && is_report_part(rep.declared_type) &&
            names.empty() &&
            (v.detected_type == "text/plain" || v.detected_type.starts_with("message/")))
            v = {true, v.detected_type, {}, {}};
        if (v.allowed && cut_at_padding)
            v = {false, v.detected_type, "attachment.encoding",
                 "its base64 goes on after the padding, where this filter cannot check it"};
        // Kept and shown as text by clients (declared so, or text by its
        // bytes): the text rules too.
        if (judge(rep, v, count)) {
            if (renders_as_text(leaf))
                process_text(leaf, is_html(leaf), count, attachment_label(rep));
            else if (v.detected_type == "text/plain" || v.detected_type == "text/html")
                process_text(leaf, v.detected_type == "text/html", count, attachment_label(rep));
            else
                read_document(rep, input.whole, pdf_text);
        }
        if (!rep.kept && opt_.policy.attachments.action == AttachmentPolicy::Action::strip)
            remove_attachment(leaf, rep);
        out_.attachments.push_back(std::move(rep));
    }

    // A client may save or open the part under either of its names: each is
    // judged, and the first refusal wins, so a harmless name in one header
    // cannot hide an executable's in the other.
    AttachmentVerdict classify_every_name(AttachmentInput& input,
                                          const std::vector<std::string>& names,
                                          PdfTextCheck& pdf_text) const {
        AttachmentVerdict first =
            opt_.classifier.classify(input, opt_.policy.attachments, &pdf_text);
        for (std::size_t i = 1; i < names.size() && first.allowed; ++i) {
            input.filename = printable(names[i]);
            AttachmentVerdict other = opt_.classifier.classify(input, opt_.policy.attachments);
            if (!other.allowed) {
                other.reason += " (the part's other name is \"" + printable(names[0]) + "\")";
                return other;
            }
        }
        return first;
    }

    // The limits every attachment meets after its type; true if kept.
    bool judge(AttachmentReport& rep, const AttachmentVerdict& v, int& count) {
        const AttachmentPolicy& ap = opt_.policy.attachments;
        out_.attachment_bytes += rep.size;
        rep.detected_type = v.detected_type;
        rep.kept = v.allowed;
        rep.rule_id = v.rule_id;
        rep.reason = v.reason;
        if (rep.kept && rep.inline_image && !rep.detected_type.starts_with("image/")) {
            rep.kept = false;
            rep.rule_id = "attachment.type";
            rep.reason = "inline part is not an image";
        }
        if (rep.kept && rep.size > ap.max_file_bytes) {
            rep.kept = false;
            rep.rule_id = "attachment.size";
            rep.reason = "larger than " + std::to_string(ap.max_file_bytes) + " bytes";
        }
        if (rep.kept && !rep.inline_image && ++count > ap.max_count) {
            rep.kept = false;
            rep.rule_id = "attachment.count";
            rep.reason = "more than " + std::to_string(ap.max_count) + " attachments";
        }
        if (!rep.kept) out_.attachment_violation = true;
        return rep.kept;
    }

    // Files encoded inside a text (embedded_payloads.h), found in `seen` (the
    // text, or what an HTML part shows), are what clients extract as
    // attachments: judged as such, and under `strip` a refused one is cut
    // out of `text` with a notice in its place.  Returns true if it changed.
    bool judge_embedded_files(const MimeLeaf& leaf, std::string_view seen, bool html,
                              std::string& text, int& count) {
        std::vector<EmbeddedPayload> blocks =
            find_embedded_payloads(seen, AttachmentClassifier::kSniffBytes);
        if (blocks.empty()) return false;
        const bool strip = opt_.policy.attachments.action == AttachmentPolicy::Action::strip;
        std::vector<PayloadCut> cuts;
        int n = 0;
        for (const EmbeddedPayload& b : blocks) {
            AttachmentReport rep;
            rep.path = leaf.path + "/encoded" + std::to_string(++n);
            rep.filename = printable(b.filename);
            rep.declared_type = std::string("(") + to_string(b.kind) + " in text)";
            rep.size = b.size;
            AttachmentVerdict v;
            if (b.kind == EmbeddedPayload::Kind::overflow) {
                v = {false, "application/octet-stream", "attachment.encoded",
                     "more than " + std::to_string(kMaxEmbeddedPayloads) +
                         " files encoded in one text"};
            } else if (b.kind == EmbeddedPayload::Kind::binhex) {
                v = {false, "application/mac-binhex40", "attachment.encoded",
                     "a BinHex file in the text cannot be checked"};
            } else {
                const std::string_view block = seen.substr(b.begin, b.end - b.begin);
                AttachmentInput input{rep.filename, "application/octet-stream", b.head, b.size, {}};
                input.whole =
                    [block, max = opt_.policy.attachments.max_file_bytes,
                     decoded =
                         std::make_shared<std::optional<MessageBody>>()]() -> const MessageBody& {
                    if (!*decoded) {
                        auto again = find_embedded_payloads(block, max + 1);
                        decoded->emplace(again.empty() ? std::string() : again.front().head);
                    }
                    return **decoded;
                };
                v = opt_.classifier.classify(input, opt_.policy.attachments);
            }
            if (!judge(rep, v, count) && strip)
                cuts.push_back({b.begin, b.end, "[" + removal_sentence(rep) + ".]\r\n"});
            out_.attachments.push_back(std::move(rep));
        }
        if (cuts.empty()) return false;
        text = html ? apply_payload_cuts_to_html(text, cuts) : apply_payload_cuts(text, cuts);
        return true;
    }

    // What is said where a refused attachment was.
    static std::string removal_sentence(const AttachmentReport& rep) {
        return "The attachment \"" +
               (rep.filename.empty() ? std::string("(unnamed)") : rep.filename) + "\" (" +
               rep.detected_type + ") was removed by the marketplace: " + rep.reason;
    }

    void remove_attachment(const MimeLeaf& leaf, const AttachmentReport& rep) {
        replace_with_notice(leaf, removal_sentence(rep) + ".\r\n");
        mark_changed(leaf);
    }

    void mark_changed(const MimeLeaf& leaf) {
        changed_ = true;
        // Only the outer message's own part carries the message's Content-*
        // headers; a forwarded message's part is inside the body.
        if (leaf.parent == nullptr && leaf.owner == top_) top_changed_ = true;
    }

    const InspectOptions& opt_;
    const SpoolOptions& spool_;
    ContentFindings& out_;
    GMimeMessage* top_ = nullptr;
    std::vector<MimeLeaf> leaves_;
    std::vector<std::string> subjects_;          // of the message and of forwarded ones
    std::vector<std::string> sources_;           // per out_.texts: the attachment, or ""
    std::vector<std::string> document_sources_;  // per out_.document_texts
    std::size_t document_chars_ = 0;             // read from documents so far
    std::optional<CpuAllowance> document_time_;  // from the first document on
    std::set<std::string> cids_;                 // as renamed
    std::optional<ContentIdRenamer> renamer_;
    std::vector<GMimeObject*> related_;  // multiparts with a start parameter
    bool changed_ = false;
    bool top_changed_ = false;
    bool some_part_has_cid_ = false;
};

}  // namespace

ContentFindings inspect_content(const Message& message, const InspectOptions& options) {
    ensure_gmime();
    ContentFindings findings;
    GPtr<GMimeMessage> parsed = parse_mime(message, on_parser_warning, &findings.malformed);
    if (!parsed) {
        findings.malformed.push_back("message could not be parsed");
        return findings;
    }

    Inspector inspector(options, message.body.options(), findings);
    inspector.run(parsed.get());
    if (!inspector.changed()) return findings;

    check_cpu_budget();
    GMimeObject* top = g_mime_message_get_mime_part(parsed.get());
    findings.new_body = write_body(top, message.body.options(), message.body.size());
    findings.body_changed = true;
    if (inspector.top_changed()) findings.header_edits = content_header_edits(message, top);
    return findings;
}

}  // namespace mm::policy
