// MessageBody: the bytes of one message body (or of one decoded part), in
// memory up to a threshold and in an unlinked temporary file beyond it, so a
// 10 MB message costs a file in the spool directory, not 10 MB of heap, and
// GMime parses it from that file instead of from a second copy.
//
// Ownership: a MessageBody owns its buffer or its file descriptor.  The file
// has no name from the moment it exists (O_TMPFILE, or mkstemp + unlink where
// the file system lacks O_TMPFILE), so it goes away when the MessageBody is
// destroyed, and with the process if it dies.  Move-only: a hidden copy of a
// 10 MB body is what this type exists to prevent.
//
// I/O failures (spool directory missing or not writable, disk full, a read
// error) come back as Failure{unavailable, "spool ...: <strerror>"}: the
// milter tempfails the message, never passes it unfiltered.  The convenience
// readers (str, for_each_chunk used by write_message) throw std::runtime_error
// with the same text.
//
// Not thread-safe; one body belongs to one message.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include "policy/mime/gmime_ptr.h"
#include "util/result.h"

namespace mm::policy {

struct SpoolOptions {
    // Bodies up to this many bytes stay in memory.  The default never
    // spills, so a Message built from a string in a test or a tool behaves
    // as before; the milter and `test` pass the daemon config's values.
    std::size_t spill_threshold = std::numeric_limits<std::size_t>::max();
    // Where the temporary files are created (they are unlinked at once).
    std::string spool_dir = "/var/tmp";
};

class MessageBody {
public:
    MessageBody() = default;
    explicit MessageBody(SpoolOptions options);
    // In memory and never spilling: keeps `message.body = "..."` working.
    MessageBody(std::string_view bytes);  // NOLINT: implicit by design
    MessageBody(const char* bytes) : MessageBody(std::string_view(bytes)) {}
    MessageBody(const std::string& bytes) : MessageBody(std::string_view(bytes)) {}
    ~MessageBody();
    MessageBody(MessageBody&& other) noexcept;
    MessageBody& operator=(MessageBody&& other) noexcept;
    MessageBody(const MessageBody&) = delete;
    MessageBody& operator=(const MessageBody&) = delete;

    // Appends; moves everything to a spool file once the size would pass
    // the threshold.  On failure the body is unusable (the message must be
    // tempfailed) and says so on every later append.
    Result<void> append(std::string_view bytes);

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    bool spilled() const { return fd_ >= 0; }
    const SpoolOptions& options() const { return options_; }

    // Hands the bytes to `sink` in order, at most `chunk` bytes at a time
    // (a 64 KiB buffer for a spilled body; views of the buffer otherwise).
    Result<void> read_chunks(const std::function<void(std::string_view)>& sink,
                             std::size_t chunk = 64 * 1024) const;
    // read_chunks, throwing std::runtime_error on a read error.
    void for_each_chunk(const std::function<void(std::string_view)>& sink,
                        std::size_t chunk = 64 * 1024) const;
    // The whole body as one string (tests, small bodies); throws on a read error.
    std::string str() const;
    // A copy with the same spool settings (a spilled body gets a spool file
    // of its own).  Explicit because it may cost a file; throws on I/O errors.
    MessageBody clone() const;

    // The in-memory bytes; empty for a spilled body.
    std::string_view memory() const;
    // The spool file (read it with pread: offsets are shared with streams
    // made by stream()); -1 while in memory.
    int fd() const { return fd_; }

    // A new seekable GMime stream over the bytes, at offset 0 and bounded to
    // size(): an fs stream on a dup of the spool file, or a mem stream on the
    // buffer itself (no copy: the stream, and every substream a parser cuts
    // from it, must not outlive this body).
    Result<GPtr<GMimeStream>> stream() const;

    // A body made of what `write` writes to the stream it is handed: in
    // memory when `expected` bytes fit under the threshold, else straight
    // into a spool file (a rewritten 10 MB body never sits in the heap).
    // `write` returns what GMime's writers return: -1 on failure.
    static Result<MessageBody> write_with(const SpoolOptions& options, std::size_t expected,
                                          const std::function<gint64(GMimeStream*)>& write);

private:
    Result<void> spill();
    Result<void> write_file(std::string_view bytes);
    void release() noexcept;

    SpoolOptions options_;
    GByteArray* memory_ = nullptr;  // owned; null while empty or spilled
    int fd_ = -1;                   // owned spool file; -1 while in memory
    std::size_t size_ = 0;
    bool failed_ = false;
    std::string failure_;  // why, once failed_
};

// A spool file in `dir`: created mode 0600 and already unlinked.  Exposed for
// the callers that hand a file to a library (libzip) and for tests.
Result<int> open_spool_file(const std::string& dir);

}  // namespace mm::policy
