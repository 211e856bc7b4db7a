#include "milter/metrics_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "milter/log.h"

namespace mm::milter {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Prometheus scrapes with one connection; a few more leave room for a person
// with curl, and a bound keeps a flood of idle connections cheap.
constexpr unsigned kMaxConnections = 16;
constexpr unsigned kConnectionTimeoutS = 10;

bool v4_loopback(const in_addr& a) {
    return (ntohl(a.s_addr) >> 24) == 127;
}

bool v6_loopback(const in6_addr& a) {
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    in_addr v4{};
    std::memcpy(&v4, &a.s6_addr[12], sizeof v4);
    return IN6_IS_ADDR_V4MAPPED(&a) && v4_loopback(v4);
}

// Answers with `body` and `status`; false if libmicrohttpd could not queue it.
MHD_Result reply(MHD_Connection* connection, unsigned status, const std::string& body,
                 const char* allow = nullptr) {
    struct Destroy {
        void operator()(MHD_Response* r) const { MHD_destroy_response(r); }
    };
    std::unique_ptr<MHD_Response, Destroy> response(MHD_create_response_from_buffer(
        body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY));
    if (!response) return MHD_NO;
    MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONTENT_TYPE,
                            status == MHD_HTTP_OK ? kContentType : "text/plain; charset=utf-8");
    if (allow != nullptr) MHD_add_response_header(response.get(), MHD_HTTP_HEADER_ALLOW, allow);
    return MHD_queue_response(connection, status, response.get());
}

MHD_Result handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char*, size_t* upload_size, void**) {
    // A request with a body: libmicrohttpd offers it in pieces first; none
    // is wanted, and the answer below goes out once it has been offered.
    if (upload_size != nullptr && *upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    const std::string_view path(url != nullptr ? url : "");
    const std::string_view verb(method != nullptr ? method : "");
    if (path != "/metrics") return reply(connection, MHD_HTTP_NOT_FOUND, "not found\n");
    if (verb != MHD_HTTP_METHOD_GET && verb != MHD_HTTP_METHOD_HEAD)
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
    try {
        const auto& render = *static_cast<const MetricsServer::Render*>(cls);
        return reply(connection, MHD_HTTP_OK, render());
    } catch (const std::exception& e) {
        log_msg(LOG_ERR, "metrics: cannot render: %s", e.what());
        return reply(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
    }
}

void log_mhd(void*, const char* format, va_list args) {
    char line[512];
    std::vsnprintf(line, sizeof line, format, args);
    // libmicrohttpd's lines end with a newline of their own.
    std::size_t n = std::strlen(line);
    while (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    log_msg(LOG_WARNING, "metrics: %s", line);
}

// The signals the daemon's own threads wait for, blocked while the server's
// thread is created, so that it inherits the mask; restored after.
class BlockDaemonSignals {
public:
    BlockDaemonSignals() {
        sigset_t set;
        sigemptyset(&set);
        for (const int sig : {SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE})
            sigaddset(&set, sig);
        pthread_sigmask(SIG_BLOCK, &set, &saved_);
    }
    ~BlockDaemonSignals() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    BlockDaemonSignals(const BlockDaemonSignals&) = delete;
    BlockDaemonSignals& operator=(const BlockDaemonSignals&) = delete;

private:
    sigset_t saved_;
};

}  // namespace

const char* metrics_library_version() {
    return MHD_get_version();
}

Result<ListenAddress> parse_listen(std::string_view spec) {
    const std::string given(spec);
    auto bad = [&](const std::string& why) {
        return fail(Errc::invalid, "'" + given + "': " + why +
                                       " (expected IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)");
    };
    const auto colon = spec.rfind(':');
    if (colon == std::string_view::npos || spec.ends_with(']')) return bad("no port");
    std::string_view host = spec.substr(0, colon);
    const std::string_view port = spec.substr(colon + 1);
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    int p = -1;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535)
        return bad("port '" + std::string(port) + "' is not a number from 0 to 65535");

    ListenAddress out;
    out.host = std::string(host);
    out.port = p;
    if (!bracketed) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
        if (inet_pton(AF_INET, out.host.c_str(), &v4->sin_addr) != 1)
            return bad(host.find(':') != std::string_view::npos
                           ? "an IPv6 address goes in brackets"
                           : "'" + out.host + "' is not an IPv4 address (no host names)");
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(p));
        out.loopback = v4_loopback(v4->sin_addr);
        return out;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
    if (inet_pton(AF_INET6, out.host.c_str(), &v6->sin6_addr) != 1)
        return bad("'" + out.host + "' is not an IPv6 address");
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(p));
    out.loopback = v6_loopback(v6->sin6_addr);
    return out;
}

void MetricsServer::Stop::operator()(MHD_Daemon* daemon) const {
    MHD_stop_daemon(daemon);
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const ListenAddress& where,
                                                            Render render) {
    std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(render)));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (where.addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    {
        const BlockDaemonSignals blocked;
        server->daemon_.reset(MHD_start_daemon(
            flags, static_cast<std::uint16_t>(where.port), nullptr, nullptr, &handle,
            &server->render_, MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&where.addr),
            MHD_OPTION_CONNECTION_LIMIT, kMaxConnections, MHD_OPTION_CONNECTION_TIMEOUT,
            kConnectionTimeoutS, MHD_OPTION_EXTERNAL_LOGGER, &log_mhd, nullptr, MHD_OPTION_END));
    }
    const std::string where_text =
        (where.addr.ss_family == AF_INET6 ? "[" + where.host + "]" : where.host) + ":" +
        std::to_string(where.port);
    if (!server->daemon_)
        return fail(Errc::unavailable, "metrics.listen: cannot listen on " + where_text +
                                           " (address in use, or not an address of this host?)");
    const MHD_DaemonInfo* info =
        MHD_get_daemon_info(server->daemon_.get(), MHD_DAEMON_INFO_BIND_PORT);
    server->port_ = info != nullptr && info->port != 0 ? info->port : where.port;
    return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace mm::milter
