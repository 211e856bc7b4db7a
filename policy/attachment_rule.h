// AttachmentRule: is one attachment allowed?  Judged by its decoded bytes
// (libmagic on a bounded prefix; libzip inside OOXML), never by its name or
// declared Content-Type; a declared type or extension that disagrees with
// the bytes is itself a reason to refuse it.
//
// Pure apart from libmagic: no GMime, no libmilter.  AttachmentClassifier is
// thread-safe: it keeps a small pool of magic_t handles (a magic_t is not
// thread-safe), loaded once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
};

struct AttachmentInput {
    std::string filename;       // from Content-Disposition/Content-Type name; may be empty
    std::string declared_type;  // Content-Type as declared, lower case, no parameters
    std::string_view bytes;     // decoded content
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

    // The detected MIME type of `bytes` (libmagic on a bounded prefix).
    std::string detect(std::string_view bytes) const;
    // Type, mismatch and OOXML checks (not size/count: the caller sums those).
    AttachmentVerdict classify(const AttachmentInput& input, const AttachmentPolicy& policy) const;

private:
    AttachmentClassifier();
    struct Pool;
    std::unique_ptr<Pool> pool_;
};

// policy.yaml `attachments:` section.
void load_attachments_section(const yaml::Entry& e, AttachmentPolicy& out);

}  // namespace mm::policy
