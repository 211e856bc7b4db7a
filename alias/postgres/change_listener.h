// ChangeListener: the ChangeFeed (alias/store_changes.h) of a PostgreSQL
// store.  It owns one libpq connection of its own (not one of the store's
// pool: it sits in LISTEN for the daemon's lifetime), LISTENs on
// kStoreChangedChannel, which the store's triggers notify with the changed
// table's name, and waits on the socket with poll() in its own thread, which
// an eventfd wakes for a prompt stop.
//
// Dropped connection (server restart, network): the callback runs once with
// "" (a notification sent as the connection died may be lost), the event is
// reported, and the thread reconnects with a doubling backoff (min_backoff
// to max_backoff); once it listens again the callback runs once more with ""
// (what changed in the gap was never notified).  Meanwhile the caches'
// TTL bounds staleness.  A connection that dies silently (a cut cable, no
// FIN) is found by TCP keepalives, which the listener turns on unless the
// DSN sets them.
//
// Nothing logged carries the DSN (it may hold a password): only libpq's
// error texts, which do not.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "alias/postgres/handles.h"
#include "alias/store_changes.h"
#include "util/result.h"

namespace mm::alias::postgres {

struct ChangeListenerOptions {
    std::string dsn;       // a libpq connection string or URI
    std::string passfile;  // libpq's passfile; "" = libpq's default (~/.pgpass)
    std::string channel = kStoreChangedChannel;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
};

class ChangeListener final : public ChangeFeed {
public:
    // Starts the thread, which connects; a server that cannot be reached
    // now is retried as a dropped connection is.  Fails with invalid only if
    // the DSN does not parse, internal if the thread or eventfd cannot be
    // made.  `on_change` and `on_event` run on the listener's thread; an
    // exception from them is ignored.
    static Result<std::unique_ptr<ChangeListener>> start(ChangeListenerOptions options,
                                                         OnStoreChange on_change,
                                                         OnFeedEvent on_event = {});
    ~ChangeListener() override;
    ChangeListener(const ChangeListener&) = delete;
    ChangeListener& operator=(const ChangeListener&) = delete;

    bool listening() const override { return listening_.load(); }

private:
    enum class Wait { ready, woken, timeout, failed };
    // The eventfd that stops the thread, closed with the listener.
    class WakeFd {
    public:
        explicit WakeFd(int fd) : fd_(fd) {}
        ~WakeFd();
        WakeFd(const WakeFd&) = delete;
        WakeFd& operator=(const WakeFd&) = delete;
        int get() const { return fd_; }

    private:
        int fd_;
    };

    ChangeListener(ChangeListenerOptions options, OnStoreChange on_change, OnFeedEvent on_event,
                   int wake_fd);
    void run();
    ConnPtr connect(std::string& error);
    bool listen(PGconn* conn, std::string& error);
    // Delivers notifications until the connection fails (the reason) or
    // the listener stops ("").
    std::string serve(PGconn* conn);
    void deliver(PGconn* conn);
    // Waits for `events` on `fd` (-1: none, a pause), the stop, or the
    // deadline.
    Wait wait(int fd, short events, std::chrono::steady_clock::time_point deadline) const;
    void changed(std::string_view table);
    void report(FeedEvent event, const std::string& detail);

    const ChangeListenerOptions options_;
    const OnStoreChange on_change_;
    const OnFeedEvent on_event_;
    const WakeFd wake_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> listening_{false};
    std::thread thread_;  // last: starts after the members it reads
};

}  // namespace mm::alias::postgres
