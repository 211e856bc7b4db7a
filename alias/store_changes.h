// ChangeFeed: the store tells this process that something changed under its
// caches, so that a change made through another host (an opt-out, a party,
// a pair, an order) is seen within a second instead of after the caches'
// TTL.
//
// A feed calls its callback from its own thread with the name of the table
// that changed, or "" when it cannot know (its connection dropped, or came
// back after notifications may have been lost).  Changes are rare operator
// actions, so a receiver simply empties its caches on any call
// (AliasDirectory::invalidate).  A feed is a hint on top of the TTL, never
// the only path: while it is down the caches still expire.
//
// Only a shared backend has one (PostgreSQL's LISTEN/NOTIFY:
// alias/postgres/change_listener.h); with SQLite, one host, make_change_feed
// (store_factory.h) gives none and the TTL alone bounds staleness.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mm::alias {

// The PostgreSQL channel the store's triggers notify, payload the table name.
inline constexpr const char* kStoreChangedChannel = "mm_store_changed";

using OnStoreChange = std::function<void(std::string_view table)>;

// A feed's state changes worth a log line: lost, back, failing to connect.
enum class FeedEvent { connected, dropped, connect_failed };
using OnFeedEvent = std::function<void(FeedEvent event, const std::string& detail)>;

class ChangeFeed {
public:
    // Stops the feed promptly (no callback runs once it returns).
    virtual ~ChangeFeed() = default;
    // Whether it listens now (false while it connects or reconnects).
    virtual bool listening() const = 0;
};

}  // namespace mm::alias
