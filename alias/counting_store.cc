#include "alias/counting_store.h"

#include <utility>

namespace mm::alias {

CountingStore::CountingStore(std::shared_ptr<Store> inner) : inner_(std::move(inner)) {}

StoreStats CountingStore::stats() const {
    return {reads_.load(std::memory_order_relaxed), writes_.load(std::memory_order_relaxed),
            errors_.load(std::memory_order_relaxed)};
}

template <class R>
R CountingStore::counted(Kind kind, R result) {
    (kind == Kind::read ? reads_ : writes_).fetch_add(1, std::memory_order_relaxed);
    if (!result.ok() &&
        (result.error().code == Errc::unavailable || result.error().code == Errc::internal))
        errors_.fetch_add(1, std::memory_order_relaxed);
    return result;
}

Result<void> CountingStore::add_party(const Party& party) {
    return counted(Kind::write, inner_->add_party(party));
}

Result<void> CountingStore::update_party(const Party& party) {
    return counted(Kind::write, inner_->update_party(party));
}

Result<std::optional<Party>> CountingStore::find_party(const std::string& id) {
    return counted(Kind::read, inner_->find_party(id));
}

Result<Pair> CountingStore::add_pair(const std::string& buyer_id, const std::string& seller_id) {
    return counted(Kind::write, inner_->add_pair(buyer_id, seller_id));
}

Result<std::optional<Pair>> CountingStore::find_pair(const std::string& buyer_id,
                                                     const std::string& seller_id) {
    return counted(Kind::read, inner_->find_pair(buyer_id, seller_id));
}

Result<std::optional<Pair>> CountingStore::find_pair_by_alias(const std::string& local) {
    return counted(Kind::read, inner_->find_pair_by_alias(local));
}

Result<void> CountingStore::record_message_id(const MessageIdRecord& record) {
    return counted(Kind::write, inner_->record_message_id(record));
}

Result<std::optional<MessageIdRecord>> CountingStore::find_message_id(
    const std::string& marketplace_id) {
    return counted(Kind::read, inner_->find_message_id(marketplace_id));
}

Result<std::optional<MessageIdRecord>> CountingStore::find_by_original(
    std::int64_t pair_id, Role sender_role, const std::string& original_id) {
    return counted(Kind::read, inner_->find_by_original(pair_id, sender_role, original_id));
}

Result<std::optional<Delivery>> CountingStore::find_delivery(const std::string& key,
                                                             std::int64_t now) {
    return counted(Kind::read, inner_->find_delivery(key, now));
}

Result<void> CountingStore::record_delivery(const Delivery& delivery,
                                            const MessageIdRecord* message_id) {
    return counted(Kind::write, inner_->record_delivery(delivery, message_id));
}

Result<void> CountingStore::add_order(const Order& order) {
    return counted(Kind::write, inner_->add_order(order));
}

Result<std::optional<Order>> CountingStore::find_order(const std::string& id) {
    return counted(Kind::read, inner_->find_order(id));
}

// A dry run reads; a commit is the write of the message's state.
Result<ThreadUpdate> CountingStore::apply_thread_event(const ThreadEvent& event,
                                                       const ThreadDecide& decide) {
    return counted(event.commit ? Kind::write : Kind::read,
                   inner_->apply_thread_event(event, decide));
}

Result<std::vector<ResponseTime>> CountingStore::response_times(const std::string& seller_id,
                                                                std::int64_t since) {
    return counted(Kind::read, inner_->response_times(seller_id, since));
}

}  // namespace mm::alias
