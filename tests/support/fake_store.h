// Test doubles of alias::Store.
//
// ForwardingStore passes every call to a real store; a test derives from it
// and overrides only the calls it counts or makes fail, so a double keeps
// compiling when the interface grows.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alias/store.h"

namespace mm::testing {

class ForwardingStore : public alias::Store {
public:
    explicit ForwardingStore(std::shared_ptr<alias::Store> inner) : inner_(std::move(inner)) {}

    Result<void> add_party(const alias::Party& p) override { return inner_->add_party(p); }
    Result<void> update_party(const alias::Party& p) override { return inner_->update_party(p); }
    Result<std::optional<alias::Party>> find_party(const std::string& id) override {
        return inner_->find_party(id);
    }
    Result<alias::Pair> add_pair(const std::string& b, const std::string& s) override {
        return inner_->add_pair(b, s);
    }
    Result<std::optional<alias::Pair>> find_pair(const std::string& b,
                                                 const std::string& s) override {
        return inner_->find_pair(b, s);
    }
    Result<std::optional<alias::Pair>> find_pair_by_alias(const std::string& local) override {
        return inner_->find_pair_by_alias(local);
    }

    Result<void> record_message_id(const alias::MessageIdRecord& r) override {
        return inner_->record_message_id(r);
    }
    Result<std::optional<alias::MessageIdRecord>> find_message_id(const std::string& id) override {
        return inner_->find_message_id(id);
    }
    Result<std::optional<alias::MessageIdRecord>> find_by_original(
        std::int64_t pair_id, alias::Role role, const std::string& original) override {
        return inner_->find_by_original(pair_id, role, original);
    }

    Result<std::optional<alias::Delivery>> find_delivery(const std::string& key,
                                                         std::int64_t now) override {
        return inner_->find_delivery(key, now);
    }
    Result<void> record_delivery(const alias::Delivery& d,
                                 const alias::MessageIdRecord* message_id) override {
        return inner_->record_delivery(d, message_id);
    }

    Result<void> add_order(const alias::Order& order) override { return inner_->add_order(order); }
    Result<std::optional<alias::Order>> find_order(const std::string& id) override {
        return inner_->find_order(id);
    }

    Result<alias::ThreadUpdate> apply_thread_event(const alias::ThreadEvent& event,
                                                   const alias::ThreadDecide& decide) override {
        return inner_->apply_thread_event(event, decide);
    }

    Result<std::vector<alias::ResponseTime>> response_times(const std::string& seller_id,
                                                            std::int64_t since) override {
        return inner_->response_times(seller_id, since);
    }

    // What a locked or unreachable database answers.
    static Failure unavailable() { return fail(Errc::unavailable, "database is locked"); }

private:
    std::shared_ptr<alias::Store> inner_;
};

}  // namespace mm::testing
