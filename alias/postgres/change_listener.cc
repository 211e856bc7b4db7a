// ChangeListener: LISTEN/NOTIFY on its own connection (see the header).
#include "alias/postgres/change_listener.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace mm::alias::postgres {

namespace {

using Clock = std::chrono::steady_clock;

struct NotifyFree {
    void operator()(PGnotify* n) const { PQfreemem(n); }
};
struct MemFree {
    void operator()(char* p) const { PQfreemem(p); }
};
struct OptionsFree {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

// libpq's message of the connection, without its trailing newline.
std::string conn_error(const PGconn* conn) {
    std::string m = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m.empty() ? "connection failed" : m;
}

// The server's notices (its FATAL as it shuts down, say) would go to stderr.
void ignore_notice(void*, const char*) {}

}  // namespace

ChangeListener::WakeFd::~WakeFd() {
    if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<ChangeListener>> ChangeListener::start(ChangeListenerOptions options,
                                                              OnStoreChange on_change,
                                                              OnFeedEvent on_event) {
    char* raw_error = nullptr;
    std::unique_ptr<PQconninfoOption, OptionsFree> parsed(
        PQconninfoParse(options.dsn.c_str(), &raw_error));
    std::unique_ptr<char, MemFree> error(raw_error);
    // libpq's parse error may quote a piece of the DSN, a password perhaps.
    if (!parsed)
        return fail(Errc::invalid,
                    "store dsn: not a libpq connection string (key=value pairs or a URI)");
    if (!on_change) return fail(Errc::internal, "change listener: no callback");
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return fail(Errc::internal,
                    std::string("change listener: eventfd: ") + std::strerror(errno));
    return std::unique_ptr<ChangeListener>(
        new ChangeListener(std::move(options), std::move(on_change), std::move(on_event), fd));
}

ChangeListener::ChangeListener(ChangeListenerOptions options, OnStoreChange on_change,
                               OnFeedEvent on_event, int wake_fd)
    : options_(std::move(options)),
      on_change_(std::move(on_change)),
      on_event_(std::move(on_event)),
      wake_(wake_fd) {
    // The thread takes no signals: the daemon waits for SIGUSR1 and SIGUSR2
    // on its own thread and blocks them only after the store is open.
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    thread_ = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

ChangeListener::~ChangeListener() {
    stopping_.store(true);
    const std::uint64_t one = 1;
    // The eventfd stays readable from here on: every later wait() returns.
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
    if (thread_.joinable()) thread_.join();
}

void ChangeListener::changed(std::string_view table) {
    try {
        on_change_(table);
    } catch (...) {
        // A callback that throws must not end the listener (or the daemon).
    }
}

void ChangeListener::report(FeedEvent event, const std::string& detail) {
    if (!on_event_) return;
    try {
        on_event_(event, detail);
    } catch (...) {
    }
}

void ChangeListener::run() {
    auto backoff = options_.min_backoff;
    bool failing = false;  // report one connect failure per spell, not one per attempt
    while (!stopping_.load()) {
        std::string error;
        ConnPtr conn = connect(error);
        if (conn && listen(conn.get(), error)) {
            listening_.store(true);
            changed("");
            report(FeedEvent::connected, "");
            failing = false;
            backoff = options_.min_backoff;
            const std::string why = serve(conn.get());
            listening_.store(false);
            if (stopping_.load()) return;
            changed("");
            report(FeedEvent::dropped, why);
        } else {
            if (stopping_.load()) return;
            if (!failing) report(FeedEvent::connect_failed, error);
            failing = true;
        }
        conn.reset();
        if (wait(-1, 0, Clock::now() + backoff) == Wait::woken) return;
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
}

ConnPtr ChangeListener::connect(std::string& error) {
    // Earlier keywords are defaults the DSN (expanded from dbname, after
    // them) may override: keepalives find a connection that died silently.
    std::vector<const char*> keys = {"keepalives", "keepalives_idle", "keepalives_interval",
                                     "keepalives_count", "application_name"};
    std::vector<const char*> values = {"1", "10", "5", "3", "marketplace-milter listener"};
    if (!options_.passfile.empty()) {
        keys.push_back("passfile");
        values.push_back(options_.passfile.c_str());
    }
    keys.push_back("dbname");
    values.push_back(options_.dsn.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);

    ConnPtr conn(PQconnectStartParams(keys.data(), values.data(), 1));
    if (!conn || PQstatus(conn.get()) == CONNECTION_BAD) {
        error = conn_error(conn.get());
        return {};
    }
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    const auto deadline = Clock::now() + options_.connect_timeout;
    auto status = PGRES_POLLING_WRITING;
    for (;;) {
        if (status == PGRES_POLLING_OK) return conn;
        if (status == PGRES_POLLING_FAILED) {
            error = conn_error(conn.get());
            return {};
        }
        switch (wait(PQsocket(conn.get()), status == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                     deadline)) {
            case Wait::woken:
                return {};
            case Wait::timeout:
                error = "no connection within " + std::to_string(options_.connect_timeout.count()) +
                        " ms";
                return {};
            case Wait::failed:
                error = std::string("poll: ") + std::strerror(errno);
                return {};
            case Wait::ready:
                break;
        }
        status = PQconnectPoll(conn.get());
    }
}

bool ChangeListener::listen(PGconn* conn, std::string& error) {
    std::unique_ptr<char, MemFree> channel(
        PQescapeIdentifier(conn, options_.channel.c_str(), options_.channel.size()));
    if (!channel || PQsendQuery(conn, ("LISTEN " + std::string(channel.get())).c_str()) == 0) {
        error = conn_error(conn);
        return false;
    }
    const auto deadline = Clock::now() + options_.connect_timeout;
    while (PQisBusy(conn) != 0) {
        if (wait(PQsocket(conn), POLLIN, deadline) != Wait::ready) {
            error = stopping_.load() ? "" : "no answer to LISTEN";
            return false;
        }
        if (PQconsumeInput(conn) == 0) {
            error = conn_error(conn);
            return false;
        }
    }
    bool ok = true;
    while (PGresult* raw = PQgetResult(conn)) {
        ResultPtr result(raw);
        if (PQresultStatus(raw) != PGRES_COMMAND_OK) {
            error = "LISTEN failed: " + std::string(PQresultErrorMessage(raw));
            ok = false;
        }
    }
    return ok;
}

std::string ChangeListener::serve(PGconn* conn) {
    for (;;) {
        deliver(conn);
        switch (wait(PQsocket(conn), POLLIN, Clock::time_point::max())) {
            case Wait::woken:
                return "";
            case Wait::failed:
                return std::string("poll: ") + std::strerror(errno);
            case Wait::ready:
            case Wait::timeout:
                break;
        }
        if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) return conn_error(conn);
        // Nothing is asked on this connection, so a result is the server's
        // error as it closes it: drained here, the next read sees the end.
        while (PQisBusy(conn) == 0) {
            ResultPtr result(PQgetResult(conn));
            if (!result) break;
        }
    }
}

void ChangeListener::deliver(PGconn* conn) {
    while (PGnotify* raw = PQnotifies(conn)) {
        std::unique_ptr<PGnotify, NotifyFree> n(raw);
        changed(n->extra != nullptr ? n->extra : "");
    }
}

ChangeListener::Wait ChangeListener::wait(int fd, short events, Clock::time_point deadline) const {
    pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {fd, events, 0}};
    const nfds_t count = fd >= 0 ? 2 : 1;
    for (;;) {
        if (stopping_.load()) return Wait::woken;
        int timeout = -1;
        if (deadline != Clock::time_point::max()) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) return Wait::timeout;
            timeout = static_cast<int>(std::min<long long>(left, 60000));
        }
        const int n = ::poll(fds, count, timeout);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Wait::failed;
        if (fds[0].revents != 0) return Wait::woken;
        if (count == 2 && fds[1].revents != 0) return Wait::ready;
    }
}

}  // namespace mm::alias::postgres
