// mta_socket(): the MTA connection's descriptor from libmilter's context,
// used only when it is a connected stream socket; widen_send_buffer().
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "milter/mta_socket.h"

namespace mm::milter {
namespace {

// The head of libmilter's struct smfi_str as it has been since 8.12, with
// room behind it as the real one has.
struct FakeContext {
    pthread_t thread = pthread_self();
    int socket = -1;
    char rest[256] = {};
};

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

TEST(MtaSocket, ConnectedStreamSocketIsFound) {
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    Fd a(pair[0]), b(pair[1]);
    FakeContext ctx;
    ctx.socket = a.get();
    EXPECT_EQ(mta_socket(&ctx), a.get());
}

TEST(MtaSocket, AnythingElseIsRefused) {
    FakeContext ctx;
    EXPECT_EQ(mta_socket(nullptr), -1);
    EXPECT_EQ(mta_socket(&ctx), -1);  // -1 in the context

    Fd file(open("/dev/null", O_RDONLY));
    ctx.socket = file.get();
    EXPECT_EQ(mta_socket(&ctx), -1);  // not a socket

    Fd unconnected(socket(AF_UNIX, SOCK_STREAM, 0));
    ctx.socket = unconnected.get();
    EXPECT_EQ(mta_socket(&ctx), -1);

    Fd listener(socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_EQ(listen(listener.get(), 1), 0);
    ctx.socket = listener.get();
    EXPECT_EQ(mta_socket(&ctx), -1);  // the listening socket, not a connection

    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, pair), 0);
    Fd a(pair[0]), b(pair[1]);
    ctx.socket = a.get();
    EXPECT_EQ(mta_socket(&ctx), -1);  // not a stream

    ctx.socket = 1 << 20;  // no such descriptor
    EXPECT_EQ(mta_socket(&ctx), -1);
}

// Linux grants twice what is asked, up to twice net.core.wmem_max.
TEST(MtaSocket, SendBufferIsWidened) {
    long wmem_max = 0;
    std::ifstream("/proc/sys/net/core/wmem_max") >> wmem_max;
    ASSERT_GT(wmem_max, 0);
    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    Fd a(pair[0]), b(pair[1]);
    const int asked = 1 << 20;
    EXPECT_EQ(widen_send_buffer(a.get(), asked), 2 * std::min<long>(asked, wmem_max));
    EXPECT_EQ(widen_send_buffer(-1, asked), -1);
}

}  // namespace
}  // namespace mm::milter
