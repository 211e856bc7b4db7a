#include "util/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mm {

Result<std::string> read_file_bounded(const std::string& path, std::size_t max) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(Errc::invalid, std::string("cannot open: ") + std::strerror(errno));
    std::string data;
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(Errc::invalid, std::string("cannot read: ") + std::strerror(err));
        }
        if (n == 0) break;
        data.append(buf, static_cast<std::size_t>(n));
        if (data.size() > max) {
            ::close(fd);
            return fail(Errc::invalid, "too large (more than " + std::to_string(max) + " bytes)");
        }
    }
    ::close(fd);
    return data;
}

}  // namespace mm
