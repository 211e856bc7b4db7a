#include "policy/mime/message_body.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mm::policy {
namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

Failure spool_failure(const std::string& dir, const std::string& what, int err) {
    return fail(Errc::unavailable, "spool " + dir + ": " + what + ": " + errno_text(err));
}

bool pwrite_all(int fd, std::string_view bytes, off_t offset) {
    while (!bytes.empty()) {
        ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        offset += n;
    }
    return true;
}

}  // namespace

Result<int> open_spool_file(const std::string& dir) {
    // O_TMPFILE: the file never has a name, so nothing is left behind even
    // if we are killed between two system calls.
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    // EOPNOTSUPP / EISDIR / EINVAL: the file system (or kernel) has no
    // O_TMPFILE; anything else (ENOENT, EACCES, EROFS, ENOSPC) is the answer.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return spool_failure(dir, "cannot create a temporary file", errno);
    std::string path = dir + "/marketplace-milter.XXXXXX";
    std::vector<char> buf(path.begin(), path.end());
    buf.push_back('\0');
    fd = ::mkostemp(buf.data(), O_CLOEXEC);  // mode 0600
    if (fd < 0) return spool_failure(dir, "cannot create a temporary file", errno);
    if (::unlink(buf.data()) != 0) {
        int err = errno;
        ::close(fd);
        return spool_failure(dir, std::string("cannot unlink ") + buf.data(), err);
    }
    return fd;
}

MessageBody::MessageBody(SpoolOptions options) : options_(std::move(options)) {}

MessageBody::MessageBody(std::string_view bytes) {
    if (bytes.empty()) return;
    if (bytes.size() > G_MAXUINT) throw std::length_error("MessageBody: over 4 GiB in memory");
    memory_ = g_byte_array_sized_new(static_cast<guint>(bytes.size()));
    g_byte_array_append(memory_, reinterpret_cast<const guint8*>(bytes.data()),
                        static_cast<guint>(bytes.size()));
    size_ = bytes.size();
}

MessageBody::~MessageBody() {
    release();
}

MessageBody::MessageBody(MessageBody&& other) noexcept
    : options_(std::move(other.options_)),
      memory_(std::exchange(other.memory_, nullptr)),
      fd_(std::exchange(other.fd_, -1)),
      size_(std::exchange(other.size_, 0)),
      failed_(std::exchange(other.failed_, false)),
      failure_(std::move(other.failure_)) {}

MessageBody& MessageBody::operator=(MessageBody&& other) noexcept {
    if (this != &other) {
        release();
        options_ = std::move(other.options_);
        memory_ = std::exchange(other.memory_, nullptr);
        fd_ = std::exchange(other.fd_, -1);
        size_ = std::exchange(other.size_, 0);
        failed_ = std::exchange(other.failed_, false);
        failure_ = std::move(other.failure_);
    }
    return *this;
}

void MessageBody::release() noexcept {
    if (memory_ != nullptr) g_byte_array_unref(memory_);
    memory_ = nullptr;
    if (fd_ >= 0) ::close(fd_);  // the file has no name: closing frees it
    fd_ = -1;
    size_ = 0;
}

Result<void> MessageBody::write_file(std::string_view bytes) {
    if (!pwrite_all(fd_, bytes, static_cast<off_t>(size_))) {
        int err = errno;
        failed_ = true;
        failure_ = "spool " + options_.spool_dir + ": write failed after " + std::to_string(size_) +
                   " bytes: " + errno_text(err);
        return fail(Errc::unavailable, failure_);
    }
    size_ += bytes.size();
    return {};
}

Result<void> MessageBody::spill() {
    auto fd = open_spool_file(options_.spool_dir);
    if (!fd) {
        failed_ = true;
        failure_ = fd.error().message;
        return fd.error();
    }
    fd_ = fd.value();
    std::size_t held = size_;
    size_ = 0;
    if (held > 0) {
        if (auto r = write_file(memory()); !r) return r;
    }
    if (memory_ != nullptr) g_byte_array_unref(memory_);
    memory_ = nullptr;
    return {};
}

Result<void> MessageBody::append(std::string_view bytes) {
    if (failed_) return fail(Errc::unavailable, failure_);
    if (bytes.empty()) return {};
    if (fd_ < 0 && (bytes.size() > options_.spill_threshold ||
                    size_ > options_.spill_threshold - bytes.size())) {
        if (auto r = spill(); !r) return r;
    }
    if (fd_ >= 0) return write_file(bytes);
    if (size_ + bytes.size() > G_MAXUINT) {
        failed_ = true;
        failure_ = "message body over 4 GiB held in memory (set spill_threshold_bytes)";
        return fail(Errc::internal, failure_);
    }
    if (memory_ == nullptr) memory_ = g_byte_array_new();
    g_byte_array_append(memory_, reinterpret_cast<const guint8*>(bytes.data()),
                        static_cast<guint>(bytes.size()));
    size_ += bytes.size();
    return {};
}

std::string_view MessageBody::memory() const {
    if (memory_ == nullptr) return {};
    return {reinterpret_cast<const char*>(memory_->data), memory_->len};
}

Result<void> MessageBody::read_chunks(const std::function<void(std::string_view)>& sink,
                                      std::size_t chunk) const {
    if (failed_) return fail(Errc::unavailable, failure_);
    chunk = std::max<std::size_t>(chunk, 1);
    if (fd_ < 0) {
        std::string_view all = memory();
        for (std::size_t off = 0; off < all.size(); off += chunk) sink(all.substr(off, chunk));
        return {};
    }
    std::string buf(std::min(chunk, std::max<std::size_t>(size_, 1)), '\0');
    std::size_t off = 0;
    while (off < size_) {
        std::size_t want = std::min(buf.size(), size_ - off);
        ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return fail(Errc::unavailable,
                        "spool " + options_.spool_dir + ": read failed at byte " +
                            std::to_string(off) + " of " + std::to_string(size_) + ": " +
                            (n == 0 ? "unexpected end of file" : errno_text(errno)));
        sink(std::string_view(buf.data(), static_cast<std::size_t>(n)));
        off += static_cast<std::size_t>(n);
    }
    return {};
}

void MessageBody::for_each_chunk(const std::function<void(std::string_view)>& sink,
                                 std::size_t chunk) const {
    if (auto r = read_chunks(sink, chunk); !r) throw std::runtime_error(r.error().message);
}

std::string MessageBody::str() const {
    std::string out;
    out.reserve(size_);
    for_each_chunk([&out](std::string_view piece) { out += piece; });
    return out;
}

MessageBody MessageBody::clone() const {
    MessageBody copy(options_);
    Result<void> copied;
    for_each_chunk([&](std::string_view piece) {
        if (copied) copied = copy.append(piece);
    });
    if (!copied) throw std::runtime_error(copied.error().message);
    return copy;
}

Result<GPtr<GMimeStream>> MessageBody::stream() const {
    if (failed_) return fail(Errc::unavailable, failure_);
    if (fd_ >= 0) {
        // A descriptor of its own, so the stream may outlive this body; the
        // file offset is shared, but GMime seeks before every read and our
        // own I/O uses pread/pwrite.
        int dup = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
        if (dup < 0)
            return fail(Errc::unavailable, "spool " + options_.spool_dir +
                                               ": cannot dup the spool file: " + errno_text(errno));
        return GPtr<GMimeStream>(
            g_mime_stream_fs_new_with_bounds(dup, 0, static_cast<gint64>(size_)));
    }
    GPtr<GMimeStream> s(g_mime_stream_mem_new());
    if (memory_ != nullptr) {
        // Not owned by the stream: no copy, and no free when it goes.
        g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(s.get()), memory_);
        g_mime_stream_set_bounds(s.get(), 0, static_cast<gint64>(size_));
    }
    return s;
}

Result<MessageBody> MessageBody::write_with(const SpoolOptions& options, std::size_t expected,
                                            const std::function<gint64(GMimeStream*)>& write) {
    MessageBody body(options);
    if (expected > options.spill_threshold) {
        if (auto r = body.spill(); !r) return r.error();
        int dup = ::fcntl(body.fd_, F_DUPFD_CLOEXEC, 0);
        if (dup < 0)
            return fail(Errc::unavailable, "spool " + options.spool_dir +
                                               ": cannot dup the spool file: " + errno_text(errno));
        GPtr<GMimeStream> out(g_mime_stream_fs_new(dup));
        errno = 0;
        gint64 n = write(out.get());
        if (n < 0 || g_mime_stream_flush(out.get()) != 0)
            return fail(Errc::unavailable, "spool " + options.spool_dir + ": cannot write: " +
                                               errno_text(errno ? errno : EIO));
        struct stat st {};
        if (::fstat(body.fd_, &st) != 0)
            return fail(Errc::unavailable,
                        "spool " + options.spool_dir + ": fstat: " + errno_text(errno));
        body.size_ = static_cast<std::size_t>(st.st_size);
        return body;
    }
    GPtr<GMimeStream> out(g_mime_stream_mem_new());
    gint64 n = write(out.get());
    if (n < 0) return fail(Errc::internal, "cannot write a body to memory");
    // Take the array over from the stream: no copy.
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out.get()), FALSE);
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    body.memory_ = bytes;
    body.size_ = bytes ? bytes->len : 0;
    // Longer than expected: keep the promise of the threshold.
    if (body.size_ > options.spill_threshold) {
        if (auto r = body.spill(); !r) return r.error();
    }
    return body;
}

}  // namespace mm::policy
