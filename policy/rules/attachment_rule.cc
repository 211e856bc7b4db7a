#include "policy/rules/attachment_rule.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>

#include "policy/rules/active_content.h"
#include "policy/rules/zip_archive.h"
#include "util/address.h"

namespace mm::policy {
namespace {

constexpr std::string_view kDocx =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
constexpr std::string_view kOdt = "application/vnd.oasis.opendocument.text";
constexpr std::string_view kOctet = "application/octet-stream";

// Zip-bomb bounds for the OOXML check: a real letter has a few dozen entries
// and inflates to a few times its size.
constexpr zip_int64_t kMaxZipEntries = 1000;
constexpr zip_uint64_t kMaxZipUncompressed = 256u << 20;
constexpr zip_uint64_t kMaxContentTypesBytes = 1u << 20;
constexpr std::size_t kEmbeddingSniff = 8;

// Extension -> the detected types it may carry.  A name whose extension is
// not here disagrees with any content: mail clients open attachments by
// name, so "notes.html" on text bytes is as dangerous as an HTML file.
struct TypeFamily {
    std::string_view key;
    std::string_view detected;
};
constexpr TypeFamily kExtensions[] = {
    {"pdf", "application/pdf"},
    {"doc", "application/msword"},
    {"docx", kDocx},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpe", "image/jpeg"},
    {"jfif", "image/jpeg"},
    {"png", "image/png"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"txt", "text/plain"},
    {"text", "text/plain"},
    {"odt", kOdt},
};

// Declared Content-Type -> detected type, including the aliases real mail
// clients send.  application/octet-stream and an empty type claim nothing.
constexpr TypeFamily kDeclared[] = {
    {"application/pdf", "application/pdf"},
    {"application/x-pdf", "application/pdf"},
    {"application/msword", "application/msword"},
    {"application/vnd.ms-word", "application/msword"},
    {kDocx, kDocx},
    {"image/jpeg", "image/jpeg"},
    {"image/jpg", "image/jpeg"},
    {"image/pjpeg", "image/jpeg"},
    {"image/png", "image/png"},
    {"image/x-png", "image/png"},
    {"image/gif", "image/gif"},
    {"image/webp", "image/webp"},
    {"text/plain", "text/plain"},
    {kOdt, kOdt},
};

// Names and types that claim an OOXML word-processing document, so the bytes
// must prove to be one.
constexpr std::string_view kOoxmlExtensions[] = {"docx", "docm", "dotx", "dotm"};
constexpr std::string_view kOoxmlDeclared[] = {
    kDocx,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "application/vnd.ms-word.document.macroenabled.12",
    "application/vnd.ms-word.template.macroenabled.12",
};

// Files inside word/embeddings/ that run code when double-clicked.
constexpr std::string_view kExecutableExtensions[] = {
    "exe", "dll", "scr", "com", "pif", "bat", "cmd", "js",  "jse", "vbs",  "vbe",  "wsf",
    "wsh", "ps1", "msi", "msp", "jar", "hta", "lnk", "cpl", "reg", "docm", "xlsm", "pptm",
};

bool contains(std::span<const std::string_view> set, std::string_view v) {
    return std::find(set.begin(), set.end(), v) != set.end();
}

std::string_view lookup(std::span<const TypeFamily> table, std::string_view key) {
    for (const auto& row : table)
        if (row.key == key) return row.detected;
    return {};
}

// Lower-case extension of a file name ("" when it has none).
std::string extension_of(std::string_view name) {
    auto slash = name.find_last_of("/\\");
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
    auto dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return {};
    return to_lower(name.substr(dot + 1));
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.starts_with(prefix);
}

enum class Ooxml { ok, not_package, macro, too_big };
struct OoxmlResult {
    Ooxml kind;
    std::string reason;
};

bool executable_magic(std::string_view head) {
    return starts_with(head, "MZ") ||
           starts_with(head,
                       "\x7f"
                       "ELF") ||
           starts_with(head, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") ||  // OLE2: a package
           starts_with(head, "\xca\xfe\xba\xbe") || starts_with(head, "#!");
}

// Whether the content is a WordprocessingML package without active content.
// Names only come from the central directory and only the small parts we
// need are inflated, with declared sizes bounded first (zip bombs).
OoxmlResult inspect_ooxml(std::string_view bytes, const MessageBody* whole) {
    ZipPtr z = open_zip(bytes, whole);
    if (!z) return {Ooxml::not_package, "not a readable zip archive"};

    zip_int64_t count = zip_get_num_entries(z.get(), 0);
    if (count < 0) return {Ooxml::not_package, "not a readable zip archive"};
    if (count > kMaxZipEntries)
        return {Ooxml::too_big, "the archive has " + std::to_string(count) +
                                    " entries (more than " + std::to_string(kMaxZipEntries) + ")"};

    bool has_content_types = false, has_document = false;
    zip_uint64_t content_types_index = 0, total = 0;
    std::vector<zip_uint64_t> embeddings;
    for (zip_int64_t i = 0; i < count; ++i) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE))
            return {Ooxml::not_package, "an entry of the archive cannot be read"};
        total += st.size;
        if (st.size > kMaxZipUncompressed || total > kMaxZipUncompressed)
            return {Ooxml::too_big, "the archive inflates to more than " +
                                        std::to_string(kMaxZipUncompressed >> 20) + " MiB"};
        // OPC part names are case-insensitive.
        std::string name = to_lower(st.name);
        if (name == "[content_types].xml") {
            has_content_types = true;
            content_types_index = static_cast<zip_uint64_t>(i);
        } else if (name == "word/document.xml") {
            has_document = true;
        }
        std::string_view base = name;
        if (auto slash = base.rfind('/'); slash != std::string_view::npos)
            base.remove_prefix(slash + 1);
        if (base == "vbaproject.bin" || base == "vbadata.xml")
            return {Ooxml::macro, "it contains a VBA macro project (" + std::string(st.name) + ")"};
        if (starts_with(name, "word/") && name.ends_with(".bin"))
            return {Ooxml::macro,
                    "it contains an embedded binary object (" + std::string(st.name) + ")"};
        if (starts_with(name, "word/embeddings/")) {
            if (contains(kExecutableExtensions, extension_of(name)))
                return {Ooxml::macro,
                        "it embeds an executable file (" + std::string(st.name) + ")"};
            embeddings.push_back(static_cast<zip_uint64_t>(i));
        }
    }
    if (!has_content_types) return {Ooxml::not_package, "it has no [Content_Types].xml"};

    std::string ct;
    if (!read_entry(z.get(), content_types_index, kMaxContentTypesBytes + 1, ct))
        return {Ooxml::not_package, "its [Content_Types].xml cannot be read"};
    if (ct.size() > kMaxContentTypesBytes)
        return {Ooxml::too_big, "its [Content_Types].xml is larger than 1 MiB"};
    ct = to_lower(ct);
    if (ct.find("macroenabled") != std::string::npos || ct.find("vbaproject") != std::string::npos)
        return {Ooxml::macro, "it is a macro-enabled document"};
    if (!has_document) return {Ooxml::not_package, "it has no word/document.xml"};
    if (ct.find("wordprocessingml.document.main+xml") == std::string::npos &&
        ct.find("wordprocessingml.template.main+xml") == std::string::npos)
        return {Ooxml::not_package, "its [Content_Types].xml declares no Word document"};

    // An embedded object can be an executable under an innocent name: look
    // at its first bytes, not its name.
    for (zip_uint64_t index : embeddings) {
        std::string head;
        if (!read_entry(z.get(), index, kEmbeddingSniff, head))
            return {Ooxml::not_package, "an embedded object cannot be read"};
        if (executable_magic(head))
            return {Ooxml::macro, std::string("it embeds an executable or OLE object (") +
                                      zip_get_name(z.get(), index, 0) + ")"};
    }
    return {Ooxml::ok, {}};
}

// Whether an OpenDocument text is one without active content: no Basic or
// script macros, and no entry whose first bytes are an executable or an OLE
// object, whatever its name.  Bounded like the OOXML check.
std::optional<std::string> odf_active_content(std::string_view bytes, const MessageBody* whole) {
    ZipPtr z = open_zip(bytes, whole);
    if (!z) return "not a readable zip archive";
    const zip_int64_t count = zip_get_num_entries(z.get(), 0);
    if (count < 0) return "not a readable zip archive";
    if (count > kMaxZipEntries)
        return "the archive has " + std::to_string(count) + " entries (more than " +
               std::to_string(kMaxZipEntries) + ")";
    zip_uint64_t total = 0;
    bool has_content = false;
    for (zip_int64_t i = 0; i < count; ++i) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE))
            return "an entry of the archive cannot be read";
        total += st.size;
        if (st.size > kMaxZipUncompressed || total > kMaxZipUncompressed)
            return "the archive inflates to more than " +
                   std::to_string(kMaxZipUncompressed >> 20) + " MiB";
        const std::string name = to_lower(st.name);
        if (name == "content.xml") has_content = true;
        if (starts_with(name, "basic/") || starts_with(name, "scripts/"))
            return "it contains macros (" + std::string(st.name) + ")";
        std::string head;
        if (st.size != 0 &&
            !read_entry(z.get(), static_cast<zip_uint64_t>(i), kEmbeddingSniff, head))
            return "an entry of the archive cannot be read";
        if (executable_magic(head))
            return "it embeds an executable or OLE object (" + std::string(st.name) + ")";
    }
    if (!has_content) return "it has no content.xml";
    return std::nullopt;
}

AttachmentVerdict refuse(std::string detected, std::string rule, std::string reason) {
    return {false, std::move(detected), std::move(rule), std::move(reason)};
}

// libzip needs the whole package (its central directory is at the end):
// `whole` points at it, decoded once more (AttachmentInput::whole) into memory or a spool file, and
// only for packages no larger than the policy lets through anyway (else the refusal).
std::optional<AttachmentVerdict> whole_package(const AttachmentInput& input,
                                               const AttachmentPolicy& policy,
                                               const std::string& detected,
                                               const MessageBody*& whole) {
    const std::uint64_t size = std::max<std::uint64_t>(input.size, input.bytes.size());
    if (size <= input.bytes.size()) return std::nullopt;
    if (size > policy.max_file_bytes)
        return refuse(detected, "attachment.size",
                      "larger than " + std::to_string(policy.max_file_bytes) + " bytes");
    if (!input.whole) throw std::logic_error("classify: a zip package given as a prefix only");
    whole = &input.whole();
    return std::nullopt;
}

}  // namespace

AttachmentClassifier::AttachmentClassifier() = default;
AttachmentClassifier::~AttachmentClassifier() = default;

Result<std::shared_ptr<const AttachmentClassifier>> AttachmentClassifier::create() {
    auto detector = TypeDetector::create();
    if (!detector) return detector.error();
    std::shared_ptr<AttachmentClassifier> c(new AttachmentClassifier());
    c->detector_ = std::move(detector).value();
    return std::shared_ptr<const AttachmentClassifier>(std::move(c));
}

std::string AttachmentClassifier::detect(std::string_view bytes) const {
    return detector_->detect(bytes);
}

AttachmentVerdict AttachmentClassifier::classify(const AttachmentInput& input,
                                                 const AttachmentPolicy& policy,
                                                 PdfTextCheck* pdf_text) const {
    std::string detected = detect(input.bytes);
    const std::string ext = extension_of(input.filename);
    const std::string declared = to_lower(input.declared_type);

    if (starts_with(detected, "application/vnd.ms-word.") &&
        detected.find("macroenabled") != std::string::npos)
        return refuse(detected, "attachment.macro", "a macro-enabled Word document");

    const bool claims_docx = contains(kOoxmlExtensions, ext) || contains(kOoxmlDeclared, declared);
    const bool zip_bytes = starts_with(input.bytes, "PK\x03\x04");
    // libmagic names a docx only when the zip's first entries are in Word's
    // order; other writers' docx come out as application/zip or plain data.
    if (detected == kDocx ||
        (claims_docx && zip_bytes && (detected == "application/zip" || detected == kOctet))) {
        const MessageBody* whole = nullptr;
        if (auto too_big = whole_package(input, policy, detected, whole)) return *too_big;
        OoxmlResult r = inspect_ooxml(input.bytes, whole);
        switch (r.kind) {
            case Ooxml::macro:
                return refuse(std::string(kDocx), "attachment.macro",
                              "Word document refused: " + r.reason);
            case Ooxml::not_package:
            case Ooxml::too_big:
                return refuse(detected, "attachment.ooxml",
                              "not a valid Word document: " + r.reason);
            case Ooxml::ok:
                detected = kDocx;
                break;
        }
    }
    const bool claims_odt = ext == "odt" || declared == kOdt;
    if (detected == kOdt ||
        (claims_odt && zip_bytes && (detected == "application/zip" || detected == kOctet))) {
        const MessageBody* whole = nullptr;
        if (auto too_big = whole_package(input, policy, detected, whole)) return *too_big;
        if (auto why = odf_active_content(input.bytes, whole))
            return refuse(std::string(kOdt), "attachment.macro",
                          "OpenDocument text refused: " + *why);
        detected = kOdt;
    }

    if (std::find(policy.allowed_types.begin(), policy.allowed_types.end(), detected) ==
        policy.allowed_types.end())
        return refuse(detected, "attachment.type",
                      "attachments of type " + detected + " are not allowed");

    // Types whose bytes libmagic calls harmless but which can carry code.
    if (is_ole2(input.bytes) || detected == "application/pdf") {
        const std::uint64_t size = std::max<std::uint64_t>(input.size, input.bytes.size());
        if (size > policy.max_file_bytes)
            return refuse(detected, "attachment.size",
                          "larger than " + std::to_string(policy.max_file_bytes) + " bytes");
        std::string whole;
        std::string_view all = input.bytes;
        if (size > input.bytes.size()) {
            if (!input.whole) throw std::logic_error("classify: a document given as a prefix only");
            whole = input.whole().str();
            all = whole;
        }
        std::optional<std::string> why;
        if (is_ole2(all))
            why = ole2_active_content(all);
        else if (pdf_text != nullptr && policy.text.read)
            why = pdf_active_content(all, kMaxPdfTextInflated, *pdf_text);
        else
            why = pdf_active_content(all);
        if (why) return refuse(detected, "attachment.active_content", *why);
    }

    if (!ext.empty()) {
        std::string_view want = lookup(kExtensions, ext);
        if (want != detected)
            return refuse(detected, "attachment.mismatch",
                          "the file name ends in ." + ext + " but the content is " + detected);
    }
    if (!declared.empty() && declared != kOctet) {
        std::string_view want = lookup(kDeclared, declared);
        if (want != detected)
            return refuse(detected, "attachment.mismatch",
                          "declared as " + declared + " but the content is " + detected);
    }
    return {true, detected, {}, {}};
}

// ---- policy.yaml `attachments:` --------------------------------------------

namespace {

using yaml::Entry;
using yaml::error_at;
using AKey = yaml::Key<AttachmentPolicy>;

// type "/" subtype, RFC 6838 restricted-name characters.
bool valid_mime_type(std::string_view t) {
    auto slash = t.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == t.size()) return false;
    return std::all_of(t.begin(), t.end(),
                       [](char ch) {
                           auto c = static_cast<unsigned char>(ch);
                           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '+' ||
                                  c == '-' || c == '_' || c == '!' || c == '#' || c == '$' ||
                                  c == '&' || c == '^';
                       }) &&
           t.find('/', slash + 1) == std::string_view::npos;
}

void load_allowed_types(const Entry& e, AttachmentPolicy& p) {
    yaml::expect_list(e);
    std::vector<std::string> types;
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(), e.name + ": expected a MIME type, got " + yaml::type_name(item));
        if (!valid_mime_type(item.Scalar()))
            error_at(item.Mark(), e.name + ": invalid MIME type '" + item.Scalar() +
                                      "' (expected type/subtype)");
        std::string t = to_lower(item.Scalar());
        if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(std::move(t));
    }
    p.allowed_types = std::move(types);
}

constexpr long long kMaxBytes = 1LL << 32;

void load_max_total_bytes(const Entry& e, AttachmentPolicy& p) {
    p.max_total_bytes = static_cast<std::uint64_t>(yaml::get_int(e, 1, kMaxBytes));
}
void load_max_file_bytes(const Entry& e, AttachmentPolicy& p) {
    p.max_file_bytes = static_cast<std::uint64_t>(yaml::get_int(e, 1, kMaxBytes));
}
void load_max_count(const Entry& e, AttachmentPolicy& p) {
    p.max_count = static_cast<int>(yaml::get_int(e, 0, 1000));
}
void load_max_depth(const Entry& e, AttachmentPolicy& p) {
    p.max_depth = static_cast<int>(yaml::get_int(e, 1, 64));
}

void load_action(const Entry& e, AttachmentPolicy& p) {
    using A = AttachmentPolicy::Action;
    p.action = yaml::get_choice<A>(e, "action", {{"strip", A::strip}, {"reject", A::reject}});
}

using TKey = yaml::Key<AttachmentPolicy::TextReading>;

void load_text_read(const Entry& e, AttachmentPolicy::TextReading& t) {
    t.read = yaml::get_bool(e);
}
void load_text_max_chars(const Entry& e, AttachmentPolicy::TextReading& t) {
    t.max_chars = static_cast<std::size_t>(yaml::get_int(e, 1, 10000000));
}
void load_text_max_message_chars(const Entry& e, AttachmentPolicy::TextReading& t) {
    t.max_message_chars = static_cast<std::size_t>(yaml::get_int(e, 1, 100000000));
}
void load_text_max_pdf_pages(const Entry& e, AttachmentPolicy::TextReading& t) {
    t.max_pdf_pages = static_cast<int>(yaml::get_int(e, 1, 10000));
}

constexpr TKey kTextKeys[] = {
    {"read",
     false,
     load_text_read,
     {"boolean", "true",
      "Read the text of kept PDF, .docx and .odt attachments; off: attachments are judged by "
      "type only."}},
    {"max_chars",
     false,
     load_text_max_chars,
     {"integer (1-10000000)", "100000",
      "Characters read from one attachment; the rest is not read."}},
    {"max_message_chars",
     false,
     load_text_max_message_chars,
     {"integer (1-100000000)", "300000",
      "Characters read from all the attachments of one message together."}},
    {"max_pdf_pages",
     false,
     load_text_max_pdf_pages,
     {"integer (1-10000)", "50", "Pages read from one PDF; later pages are not read."}},
};

void load_text(const Entry& e, AttachmentPolicy& p) {
    yaml::load_section<AttachmentPolicy::TextReading>(e, kTextKeys, p.text);
}

constexpr AKey kAttachmentKeys[] = {
    {"allowed_types",
     false,
     load_allowed_types,
     {"list of MIME types (type/subtype)",
      "PDF, Word (.doc, .docx), JPEG, PNG, GIF, WebP, text/plain",
      "The types, as libmagic detects them from the bytes, that may pass. A name or declared type "
      "that disagrees with the bytes is refused; .docx with macros, legacy Office files with VBA "
      "and PDFs with JavaScript, launch actions or embedded files are refused whatever this list "
      "says."}},
    {"max_total_bytes",
     false,
     load_max_total_bytes,
     {"integer, bytes (1-4294967296)", "10485760",
      "Decoded bytes of all attachments; over it the message is refused with 552 5.3.4."}},
    {"max_file_bytes",
     false,
     load_max_file_bytes,
     {"integer, bytes (1-4294967296)", "10485760", "Decoded bytes of one attachment."}},
    {"max_count",
     false,
     load_max_count,
     {"integer (0-1000)", "10",
      "Attachments per message (inline images referenced by the HTML not counted)."}},
    {"max_depth",
     false,
     load_max_depth,
     {"integer (1-64)", "8", "Nesting of multiparts and forwarded messages."}},
    {"action",
     false,
     load_action,
     {"strip | reject", "strip",
      "An attachment not allowed: strip replaces the part by a short text notice naming the file "
      "and why (every other part keeps its bytes); reject refuses the message with 550 5.7.1."}},
    {"text",
     false,
     load_text,
     {"mapping", "see its keys",
      "Reading the text of kept PDF, .docx and .odt attachments for the content rules and the "
      "contact reasons.",
      +[] { return yaml::describe<AttachmentPolicy::TextReading>(kTextKeys); }}},
};

}  // namespace

std::vector<yaml::KeyInfo> attachments_section_schema() {
    return yaml::describe<AttachmentPolicy>(kAttachmentKeys);
}

void load_attachments_section(const yaml::Entry& e, AttachmentPolicy& out) {
    yaml::load_section<AttachmentPolicy>(e, kAttachmentKeys, out);
}

}  // namespace mm::policy
