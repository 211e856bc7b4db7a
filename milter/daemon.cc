#include "milter/daemon.h"

#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

#include "milter/callbacks.h"
#include "milter/log.h"
#include "milter/metrics_server.h"
#include "milter/realtime.h"
#include "policy/mime/gmime_ptr.h"

namespace mm::milter {
namespace {

// libmilter says only that it failed; the usual causes, checked here so the
// operator reads which one it is.
std::string socket_hint(const std::string& spec) {
    const auto colon = spec.find(':');
    const std::string type = spec.substr(0, colon);
    if (type != "unix" && type != "local") return "address in use or no permission?";
    const std::filesystem::path path(spec.substr(colon + 1));
    std::error_code ec;
    if (!std::filesystem::is_directory(path.parent_path(), ec))
        return "directory " + path.parent_path().string() +
               " does not exist: create it, owned by the daemon's user (systemd's "
               "RuntimeDirectory= does)";
    return "no permission on " + path.parent_path().string() + ", or another daemon listens there?";
}

// At end of message the filter sends its actions (header changes, recipient
// changes, ...) as a burst of small packets that the MTA does not answer.
// With Nagle's algorithm each packet after the first waits for the MTA's
// delayed ACK (~40 ms on Linux): measured here, 110 msg/s instead of 800.
// libmilter gives no access to its sockets, but Linux copies TCP_NODELAY from
// a listening socket to the connections it accepts, so it is set on the
// listener that smfi_opensocket just created.
void disable_nagle_on_listener() {
    for (int fd = 0; fd < 1024; ++fd) {
        int listening = 0, type = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            continue;
        len = sizeof type;
        sockaddr_storage addr{};
        socklen_t alen = sizeof addr;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0 ||
            (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
            continue;
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            log_msg(LOG_WARNING, "cannot set TCP_NODELAY on the milter socket: %s",
                    std::strerror(errno));
    }
}

// libmilter creates a unix socket with the process umask; the MTA's user
// (postfix, in the daemon's group) needs write permission to connect, which
// a umask that keeps the store and audit log private would not give.
bool set_unix_socket_mode(const Config& config) {
    std::string_view spec = config.socket;
    for (std::string_view prefix : {"unix:", "local:"}) {
        if (!spec.starts_with(prefix)) continue;
        const std::string path(spec.substr(prefix.size()));
        if (chmod(path.c_str(), config.socket_mode) != 0) {
            log_msg(LOG_ERR, "cannot set mode %04o on %s: %s", config.socket_mode, path.c_str(),
                    std::strerror(errno));
            return false;
        }
    }
    return true;
}

void reopen_logs(Service& service) {
    if (auto r = service.reopen_logs(); r)
        log_msg(LOG_INFO, "logs reopened");
    else
        log_msg(LOG_ERR, "cannot reopen the audit log: %s", r.error().message.c_str());
}

// The endpoint metrics.listen asks for, or none; a failure to listen stops
// the start, as the milter socket's does: the operator asked for it.
Result<std::unique_ptr<MetricsServer>> start_metrics(Service& service) {
    const Config::Metrics& m = service.runtime()->config.metrics;
    if (m.listen.empty()) return std::unique_ptr<MetricsServer>();
    auto where = parse_listen(m.listen);
    if (!where) return fail(Errc::invalid, "metrics.listen: " + where.error().message);
    if (!where->loopback)
        log_msg(LOG_WARNING,
                "metrics on %s, not a loopback address (metrics.allow_remote): the endpoint has "
                "no authentication",
                m.listen.c_str());
    MilterMetrics& metrics = service.metrics();
    auto server = MetricsServer::start(*where, [&metrics] { return metrics.render(); });
    if (server) log_msg(LOG_INFO, "metrics: http://%s/metrics", m.listen.c_str());
    return server;
}

// End of message under SCHED_FIFO where the config asks for it; the log
// says which it got.
void start_realtime(const Config& config) {
    if (const std::string off = enable_realtime(config.realtime_priority, config.realtime_budget);
        !off.empty())
        log_msg(config.realtime_priority > 0 ? LOG_WARNING : LOG_INFO,
                "end of message runs at normal priority: %s", off.c_str());
    else
        log_msg(LOG_INFO,
                "end of message runs under SCHED_FIFO priority %d for messages held in "
                "memory, at most %lld ms of CPU each",
                config.realtime_priority, static_cast<long long>(config.realtime_budget.count()));
}

// The signal thread's loop: SIGUSR1 reloads, SIGUSR2 reopens the logs, until
// `stopping` is set.
void handle_signals(Service& service, const std::atomic<bool>& stopping, sigset_t signals) {
    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0 || stopping.load()) return;
        if (sig == SIGUSR2) {
            reopen_logs(service);
            continue;
        }
        auto r = service.reload();
        if (r)
            log_msg(LOG_INFO, "reloaded: policy version %s",
                    service.runtime()->policy->version.c_str());
        else
            log_msg(LOG_ERR, "reload failed, keeping the running config and policy: %s",
                    r.error().message.c_str());
    }
}

}  // namespace

int run_daemon(const std::string& config_path) {
    policy::ensure_gmime();  // before libmilter starts any thread

    auto opened = Service::open(config_path);
    if (!opened) {
        std::fprintf(stderr, "marketplace-milter: %s\n", opened.error().message.c_str());
        return opened.error().code == Errc::invalid ? 2 : 1;
    }
    Service& service = *opened.value();
    const Config& config = service.runtime()->config;
    log_open(config.log_stderr, config.log_facility);
    if (auto feed = service.start_change_feed(); !feed) {
        log_msg(LOG_ERR, "%s", feed.error().message.c_str());
        return 2;
    }
    start_realtime(config);

    // libmilter's own signal thread takes SIGHUP/SIGTERM as "stop" and SIGINT
    // as "abort", so reload is SIGUSR1 (as in OpenDKIM) and SIGUSR2 only
    // reopens the logs (logrotate), so that rotating the audit log never
    // reloads a policy edited but not yet meant to go live.  Blocked here,
    // before any thread exists, so only the signal thread ever receives them;
    // at shutdown it gets SIGUSR2 with `stopping` set.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto metrics = start_metrics(service);
    if (!metrics) {
        log_msg(LOG_ERR, "%s", metrics.error().message.c_str());
        return 1;
    }
    std::atomic<bool> stopping{false};
    std::thread reloader(
        [&service, &stopping, signals] { handle_signals(service, stopping, signals); });

    smfiDesc desc = make_filter(&service);
    int rc = 1;
    if (smfi_setconn(const_cast<char*>(config.socket.c_str())) != MI_SUCCESS ||
        smfi_settimeout(config.milter_timeout) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
        log_msg(LOG_ERR, "cannot set up libmilter for %s", config.socket.c_str());
    } else if (smfi_opensocket(true) != MI_SUCCESS) {
        log_msg(LOG_ERR, "cannot listen on %s (%s)", config.socket.c_str(),
                socket_hint(config.socket).c_str());
    } else if (set_unix_socket_mode(config)) {
        disable_nagle_on_listener();
        log_msg(LOG_INFO, "ready: listening on %s, domain %s, policy version %s",
                config.socket.c_str(), config.domain.c_str(),
                service.runtime()->policy->version.c_str());
        sd_notify(0, "READY=1");
        rc = smfi_main() == MI_SUCCESS ? 0 : 1;
        sd_notify(0, "STOPPING=1");
        log_msg(LOG_INFO, "stopped");
    }
    stopping.store(true);
    pthread_kill(reloader.native_handle(), SIGUSR2);
    reloader.join();
    return rc;
}

}  // namespace mm::milter
