// CountingStore: a Store that passes every call to another one and counts
// them, for the daemon's metrics: reads (lookups), writes, and failures that
// say the backend could not answer (unavailable, internal).  Answers about
// the input (invalid, not_found, conflict) are not store errors: a conflict
// is how a backend reports a message committed before.
//
// Thread-safe as the store it wraps; the counts are relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "alias/store.h"

namespace mm::alias {

struct StoreStats {
    std::uint64_t reads = 0;
    std::uint64_t writes = 0;
    std::uint64_t errors = 0;
};

class CountingStore final : public Store {
public:
    explicit CountingStore(std::shared_ptr<Store> inner);

    StoreStats stats() const;

    Result<void> add_party(const Party& party) override;
    Result<void> update_party(const Party& party) override;
    Result<std::optional<Party>> find_party(const std::string& id) override;
    Result<Pair> add_pair(const std::string& buyer_id, const std::string& seller_id) override;
    Result<std::optional<Pair>> find_pair(const std::string& buyer_id,
                                          const std::string& seller_id) override;
    Result<std::optional<Pair>> find_pair_by_alias(const std::string& local) override;

    Result<void> record_message_id(const MessageIdRecord& record) override;
    Result<std::optional<MessageIdRecord>> find_message_id(
        const std::string& marketplace_id) override;
    Result<std::optional<MessageIdRecord>> find_by_original(
        std::int64_t pair_id, Role sender_role, const std::string& original_id) override;

    Result<std::optional<Delivery>> find_delivery(const std::string& key,
                                                  std::int64_t now) override;
    Result<void> record_delivery(const Delivery& delivery,
                                 const MessageIdRecord* message_id) override;

    Result<void> add_order(const Order& order) override;
    Result<std::optional<Order>> find_order(const std::string& id) override;

    Result<ThreadUpdate> apply_thread_event(const ThreadEvent& event,
                                            const ThreadDecide& decide) override;

    Result<std::vector<ResponseTime>> response_times(const std::string& seller_id,
                                                     std::int64_t since) override;

private:
    enum class Kind { read, write };
    template <class R>
    R counted(Kind kind, R result);

    std::shared_ptr<Store> inner_;
    std::atomic<std::uint64_t> reads_{0};
    std::atomic<std::uint64_t> writes_{0};
    std::atomic<std::uint64_t> errors_{0};
};

}  // namespace mm::alias
