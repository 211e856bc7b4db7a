// AttachmentRule: is one attachment allowed?  Judged by its decoded bytes
// (libmagic on a bounded prefix; libzip inside OOXML), never by its name or
// declared Content-Type; a declared type or extension that disagrees with
// the bytes is itself a reason to refuse it.
//
// Pure apart from libmagic and libzip (and the spool file a large OOXML
// package is read from): no GMime parsing, no libmilter.  AttachmentClassifier is
// thread-safe: it keeps a small pool of magic_t handles (a magic_t is not
// thread-safe), loaded once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/mime/message_body.h"
#include "policy/rules/active_content.h"
#include "policy/rules/type_detect.h"
#include "policy/yaml_schema.h"
#include "util/result.h"

namespace mm::policy {

struct AttachmentPolicy {
    // Detected MIME types (libmagic's --mime-type names) that may pass.
    std::vector<std::string> allowed_types = {
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "text/plain",
    };
    std::uint64_t max_total_bytes = 10u << 20;  // decoded, whole message
    std::uint64_t max_file_bytes = 10u << 20;   // decoded, one part
    int max_count = 10;
    int max_depth = 8;  // nesting of multiparts / message/rfc822
    enum class Action { strip, reject } action = Action::strip;
    // The text of the PDF, Word (.docx) and OpenDocument (.odt) attachments
    // that pass, read for the content rules and contact reasons
    // (document_text.h), within these bounds.
    struct TextReading {
        bool read = true;
        std::size_t max_chars = 100000;          // characters of one attachment
        std::size_t max_message_chars = 300000;  // of every attachment of a message
        int max_pdf_pages = 50;                  // pages of one PDF
    } text;
};

struct AttachmentInput {
    std::string filename;       // from Content-Disposition/Content-Type name; may be empty
    std::string declared_type;  // Content-Type as declared, lower case, no parameters
    // The decoded content, or when `size` is larger its first
    // AttachmentClassifier::kSniffBytes bytes (all libmagic reads).
    std::string_view bytes;
    // The decoded size; 0 (or bytes.size()) when `bytes` is all of it.
    std::uint64_t size = 0;
    // The whole decoded content, for the checks that need it (libzip reads
    // an OOXML package's central directory at its end; PDF and OLE2 active
    // content).  Needed when `bytes` is a prefix; decodes on the first call
    // and returns the same content, owned by the caller, on every later one
    // (a part judged under two names, then read for its text, is decoded
    // once).  May throw std::runtime_error (spool I/O).
    std::function<const MessageBody&()> whole = nullptr;
};

struct AttachmentVerdict {
    bool allowed = false;
    std::string detected_type;  // what the bytes are
    std::string rule_id;        // e.g. "attachment.type", "attachment.mismatch", "attachment.macro"
    std::string reason;         // human-readable, for the notice, `test` and the audit line
};

class AttachmentClassifier {
public:
    // Loads the magic database; fails with internal if it cannot.
    static Result<std::shared_ptr<const AttachmentClassifier>> create();
    ~AttachmentClassifier();

    // How much of a long content classify() needs in AttachmentInput::bytes
    // (type_detect.h).
    static constexpr std::size_t kSniffBytes = TypeDetector::kSniffBytes;

    // The detected MIME type of `bytes` (libmagic on a bounded prefix).
    std::string detect(std::string_view bytes) const;
    // Type, mismatch and OOXML checks (not size/count: the caller sums those).
    // With `pdf_text`, a PDF's text hazard is found in the same parse as its
    // active content, when policy.text.read says its text will be read.
    AttachmentVerdict classify(const AttachmentInput& input, const AttachmentPolicy& policy,
                               PdfTextCheck* pdf_text = nullptr) const;

private:
    AttachmentClassifier();
    std::unique_ptr<TypeDetector> detector_;
};

// policy.yaml `attachments:` section.
void load_attachments_section(const yaml::Entry& e, AttachmentPolicy& out);
// Its keys, documented (yaml_schema.h).
std::vector<yaml::KeyInfo> attachments_section_schema();

}  // namespace mm::policy
