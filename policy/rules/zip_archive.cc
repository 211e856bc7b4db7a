#include "policy/rules/zip_archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mm::policy {
namespace {

struct FileClose {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileClose>;

// A libzip source over decoded content: its buffer, or (spilled) a stdio
// stream on a dup of its spool file.  Null if neither can be opened.
ZipSourcePtr zip_source_of(std::string_view bytes, const MessageBody* whole) {
    zip_error_t err;
    zip_error_init(&err);
    ZipSourcePtr src;
    if (whole != nullptr && whole->spilled()) {
        int fd = ::fcntl(whole->fd(), F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            throw std::runtime_error(std::string("cannot dup a spool file: ") +
                                     std::strerror(errno));
        FilePtr file(::fdopen(fd, "rb"));
        if (!file) {
            int e = errno;
            ::close(fd);
            throw std::runtime_error(std::string("cannot open a spool file: ") + std::strerror(e));
        }
        // libzip takes the FILE over on success.
        src.reset(
            zip_source_filep_create(file.get(), 0, static_cast<zip_int64_t>(whole->size()), &err));
        if (src) file.release();
    } else {
        std::string_view data = whole != nullptr ? whole->memory() : bytes;
        src.reset(zip_source_buffer_create(data.data(), data.size(), 0, &err));
    }
    zip_error_fini(&err);
    return src;
}

}  // namespace

ZipPtr open_zip(std::string_view bytes, const MessageBody* whole) {
    ZipSourcePtr src = zip_source_of(bytes, whole);
    if (!src) return nullptr;
    zip_error_t err;
    zip_error_init(&err);
    ZipPtr z(zip_open_from_source(src.get(), ZIP_RDONLY, &err));
    zip_error_fini(&err);
    if (z) src.release();  // the archive owns the source from here on
    return z;
}

bool read_entry(zip_t* z, zip_uint64_t index, zip_uint64_t max, std::string& out) {
    ZipFilePtr f(zip_fopen_index(z, index, 0));
    if (!f) return false;
    out.assign(max, '\0');
    zip_uint64_t got = 0;
    while (got < max) {
        zip_int64_t n = zip_fread(f.get(), out.data() + got, max - got);
        if (n < 0) return false;
        if (n == 0) break;
        got += static_cast<zip_uint64_t>(n);
    }
    out.resize(got);
    return true;
}

}  // namespace mm::policy
