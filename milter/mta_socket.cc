#include "milter/mta_socket.h"

#include <pthread.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace mm::milter {
namespace {

// The head of libmilter's struct smfi_str (libmilter/libmilter.h, unchanged
// from 8.12 to 8.18): `sthread_t ctx_id; socket_t ctx_sd; ...`.
struct ContextHead {
    pthread_t thread;
    int socket;
};

// getsockopt fails (ENOTSOCK, EBADF) on anything that is not a socket.
bool is_connected_stream(int fd) {
    if (fd < 0) return false;
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
    len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) return false;
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0;
}

}  // namespace

int mta_socket(const void* ctx) {
    if (ctx == nullptr) return -1;
    ContextHead head{};
    std::memcpy(&head, ctx, sizeof head);
    return is_connected_stream(head.socket) ? head.socket : -1;
}

int widen_send_buffer(int fd, int bytes) {
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0) return -1;
    int granted = 0;
    socklen_t len = sizeof granted;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &granted, &len) != 0) return -1;
    return granted;
}

}  // namespace mm::milter
