// The metrics endpoint: an HTTP server (libmicrohttpd, one thread of its
// own) that answers GET /metrics with what `render` returns, in the
// Prometheus text format.  Any other path is 404, another method on
// /metrics 405.  Nothing else is served: no request body is read.
//
// The address is an IP literal and port (metrics.listen); a loopback
// address unless the config says otherwise (config.h), since the numbers
// tell whoever reads them the mail volume and which rules fire.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.h"

struct MHD_Daemon;

namespace mm::milter {

struct ListenAddress {
    std::string host;  // as written, without brackets
    int port = 0;
    bool loopback = false;  // 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104
    sockaddr_storage addr{};
};

// libmicrohttpd's version, for --version.
const char* metrics_library_version();

// "127.0.0.1:9464", "[::1]:9464".  Port 0 asks the kernel for one (tests).
Result<ListenAddress> parse_listen(std::string_view spec);

class MetricsServer {
public:
    using Render = std::function<std::string()>;

    // Listens and serves from a thread of libmicrohttpd's, which starts with
    // the signals the daemon handles blocked (SIGHUP, SIGINT, SIGTERM,
    // SIGUSR1, SIGUSR2): they go to the threads that wait for them.
    static Result<std::unique_ptr<MetricsServer>> start(const ListenAddress& where, Render render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // The port listened on (the kernel's choice for port 0).
    int port() const { return port_; }

private:
    struct Stop {
        void operator()(MHD_Daemon* daemon) const;
    };
    explicit MetricsServer(Render render) : render_(std::move(render)) {}

    Render render_;
    std::unique_ptr<MHD_Daemon, Stop> daemon_;
    int port_ = 0;
};

}  // namespace mm::milter
