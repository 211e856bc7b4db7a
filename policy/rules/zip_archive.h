// Zip packages read from decoded attachment content (OOXML, OpenDocument):
// RAII for libzip's handles, opening a package from memory or from the
// spool file a large attachment was decoded into, and bounded reads of one
// entry.  Read-only; each handle belongs to one thread.
#pragma once

#include <zip.h>

#include <memory>
#include <string>
#include <string_view>

#include "policy/mime/message_body.h"

namespace mm::policy {

struct ZipClose {
    // zip_discard, not zip_close: the archive is read-only.
    void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipClose>;

struct ZipSourceFree {
    void operator()(zip_source_t* s) const { zip_source_free(s); }
};
using ZipSourcePtr = std::unique_ptr<zip_source_t, ZipSourceFree>;

struct ZipFileClose {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

// The package in `whole` (a spilled body is read from a dup of its spool
// file), or in `bytes` when `whole` is null.  Null when it is not a zip
// archive libzip can read.  The bytes must outlive the archive.  Throws
// std::runtime_error when the spool file cannot be reopened.
ZipPtr open_zip(std::string_view bytes, const MessageBody* whole);

// Inflates at most `max` bytes of entry `index` into `out`; false if it
// cannot.
bool read_entry(zip_t* z, zip_uint64_t index, zip_uint64_t max, std::string& out);

}  // namespace mm::policy
