// milter/metrics_server: the HTTP endpoint on loopback, spoken to over a
// real socket: GET /metrics answers the render, other paths 404, other
// methods 405; and the listen addresses the config accepts.
#include "milter/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace mm::milter {
namespace {

struct Response {
    int status = 0;
    std::string head;  // status line and headers
    std::string body;
};

// One request on its own connection, read until the server closes it.
Response http(int port, const std::string& request) {
    Response r;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        ADD_FAILURE() << "cannot connect to port " << port;
        return r;
    }
    EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
    std::string all;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, buf + n);
    ::close(fd);
    const auto split = all.find("\r\n\r\n");
    r.head = all.substr(0, split);
    r.body = split == std::string::npos ? "" : all.substr(split + 4);
    if (r.head.starts_with("HTTP/1.1 ")) r.status = std::stoi(r.head.substr(9, 3));
    return r;
}

std::string request(const std::string& method, const std::string& path) {
    return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

class MetricsServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto where = parse_listen("127.0.0.1:0");
        ASSERT_TRUE(where) << where.error().message;
        auto server = MetricsServer::start(*where, [this] {
            ++renders_;
            return "# HELP demo_total Demo.\n# TYPE demo_total counter\ndemo_total " +
                   std::to_string(renders_.load()) + "\n";
        });
        ASSERT_TRUE(server) << server.error().message;
        server_ = std::move(server).value();
        ASSERT_GT(server_->port(), 0);
    }

    std::atomic<int> renders_{0};
    std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, GetMetricsAnswersTheRenderInTheTextFormat) {
    const Response r = http(server_->port(), request("GET", "/metrics"));
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
              std::string::npos)
        << r.head;
    EXPECT_EQ(r.body, "# HELP demo_total Demo.\n# TYPE demo_total counter\ndemo_total 1\n");
    // Rendered afresh for every scrape.
    EXPECT_EQ(http(server_->port(), request("GET", "/metrics")).body.substr(50), "demo_total 2\n");
}

TEST_F(MetricsServerTest, OtherPathsAreNotFound) {
    for (const char* path : {"/", "/metrics/", "/metricsx", "/favicon.ico", "/../metrics"}) {
        const Response r = http(server_->port(), request("GET", path));
        EXPECT_EQ(r.status, 404) << path << "\n" << r.head;
    }
    EXPECT_EQ(renders_.load(), 0);
}

TEST_F(MetricsServerTest, OtherMethodsAreNotAllowed) {
    for (const char* method : {"POST", "PUT", "DELETE"}) {
        const Response r = http(server_->port(), method + std::string(" /metrics HTTP/1.1\r\n") +
                                                     "Host: x\r\nConnection: close\r\n"
                                                     "Content-Length: 5\r\n\r\nhello");
        EXPECT_EQ(r.status, 405) << method << "\n" << r.head;
        EXPECT_NE(r.head.find("Allow: GET, HEAD"), std::string::npos) << r.head;
    }
    const Response head = http(server_->port(), request("HEAD", "/metrics"));
    EXPECT_EQ(head.status, 200) << head.head;
    EXPECT_EQ(head.body, "");
}

TEST_F(MetricsServerTest, TheSamePortTwiceIsAnErrorThatSaysWhere) {
    auto where = parse_listen("127.0.0.1:" + std::to_string(server_->port()));
    ASSERT_TRUE(where);
    auto second = MetricsServer::start(*where, [] { return std::string(); });
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().message,
              "metrics.listen: cannot listen on 127.0.0.1:" + std::to_string(server_->port()) +
                  " (address in use, or not an address of this host?)");
}

TEST(MetricsListen, LoopbackAddresses) {
    struct Case {
        const char* spec;
        bool loopback;
        int port;
    };
    for (const Case& c : {Case{"127.0.0.1:9464", true, 9464}, Case{"127.8.9.10:1", true, 1},
                          Case{"[::1]:9464", true, 9464}, Case{"[::ffff:127.0.0.1]:80", true, 80},
                          Case{"0.0.0.0:9464", false, 9464}, Case{"192.0.2.1:9464", false, 9464},
                          Case{"[::]:9464", false, 9464}, Case{"[2001:db8::1]:65535", false, 65535},
                          Case{"[::ffff:192.0.2.1]:80", false, 80}}) {
        auto where = parse_listen(c.spec);
        ASSERT_TRUE(where) << c.spec << ": " << where.error().message;
        EXPECT_EQ(where->loopback, c.loopback) << c.spec;
        EXPECT_EQ(where->port, c.port) << c.spec;
    }
    EXPECT_EQ(parse_listen("[::1]:9464")->host, "::1");
}

TEST(MetricsListen, MalformedAddressesSayWhy) {
    const std::string forms = " (expected IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)";
    EXPECT_EQ(parse_listen("localhost:9464").error().message,
              "'localhost:9464': 'localhost' is not an IPv4 address (no host names)" + forms);
    EXPECT_EQ(parse_listen("9464").error().message, "'9464': no port" + forms);
    EXPECT_EQ(parse_listen("[::1]").error().message, "'[::1]': no port" + forms);
    EXPECT_EQ(parse_listen("127.0.0.1:").error().message,
              "'127.0.0.1:': port '' is not a number from 0 to 65535" + forms);
    EXPECT_EQ(parse_listen("127.0.0.1:-1").error().message,
              "'127.0.0.1:-1': port '-1' is not a number from 0 to 65535" + forms);
    EXPECT_EQ(parse_listen("::1:9464").error().message,
              "'::1:9464': an IPv6 address goes in brackets" + forms);
    EXPECT_EQ(parse_listen("[::zz]:9464").error().message,
              "'[::zz]:9464': '::zz' is not an IPv6 address" + forms);
    EXPECT_EQ(parse_listen("[127.0.0.1]:9464").error().message,
              "'[127.0.0.1]:9464': '127.0.0.1' is not an IPv6 address" + forms);
}

}  // namespace
}  // namespace mm::milter
