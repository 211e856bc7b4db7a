// TypeDetector: the MIME type of an attachment's bytes, by libmagic.
//
// Two databases: a small one of the common types (common_types.magic, built
// into the program) and the full one the system ships.  Each call asks the
// small one first; when it names one of its types, that is the answer the
// full one would give (attachment_rule_test holds the two to the same answer
// on every sample, generated variant and random mixture), and the full one,
// whose thousands of stronger tests run before its weak ones (MZ among the
// last), is not asked.  Everything else is asked of the full database.
// Content without a NUL byte (text) goes to the full database directly: the
// small one would repeat its text tests for nothing.
//
// magic_t is not thread-safe: a fixed pool of handle pairs serves concurrent
// callers and the rest wait.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.h"

namespace mm::policy {

class TypeDetector {
public:
    // Loads both databases into every handle; fails with internal if either
    // cannot be loaded (at start-up, never mid-message).
    static Result<std::unique_ptr<TypeDetector>> create();
    ~TypeDetector();

    // libmagic decides on the first few KiB for every format we allow; 64
    // KiB also covers OOXML, where it walks local zip headers past
    // [Content_Types].xml and _rels/ to find word/.  Beyond that it only
    // costs time.  The extra bytes show where a UTF-8 character cut at the
    // prefix ends (a cut character makes text look like binary).
    static constexpr std::size_t kPrefix = 64 * 1024;
    static constexpr std::size_t kSniffBytes = kPrefix + 8;

    // The lower-case MIME type of `bytes` (of its first kPrefix bytes).
    std::string detect(std::string_view bytes) const;

private:
    TypeDetector();
    struct Pool;
    std::unique_ptr<Pool> pool_;
    std::size_t encoding_max_ = 0;  // libmagic's MAGIC_PARAM_ENCODING_MAX
};

}  // namespace mm::policy
