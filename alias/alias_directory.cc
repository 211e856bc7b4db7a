// AliasDirectory: the cached alias -> pair/parties lookup (see the header).
#include "alias/alias_directory.h"

#include <utility>

#include "alias/alias_generator.h"
#include "util/address.h"

namespace mm::alias {

AliasDirectory::AliasDirectory(std::shared_ptr<Store> store, std::chrono::milliseconds ttl,
                               std::size_t max_entries)
    : store_(std::move(store)), aliases_(ttl, max_entries), orders_(ttl, max_entries) {}

Result<std::optional<ResolvedAlias>> AliasDirectory::resolve(const std::string& local) {
    const std::string key = mm::to_lower(local);
    // Not an alias at all: answer without the store (and without the cache,
    // so junk recipients cannot fill it).
    if (!looks_like_alias(key)) return std::optional<ResolvedAlias>();
    if (auto cached = aliases_.get(key)) return std::move(*cached);
    const auto generation = aliases_.generation();
    auto loaded = load(key);
    // Failures are never cached.
    if (loaded && aliases_.enabled()) aliases_.put(key, *loaded, generation);
    return loaded;
}

Result<std::optional<Order>> AliasDirectory::find_order(const std::string& id) {
    if (auto cached = orders_.get(id)) return std::move(*cached);
    const auto generation = orders_.generation();
    auto found = store_->find_order(id);
    if (found && orders_.enabled()) orders_.put(id, *found, generation);
    return found;
}

void AliasDirectory::invalidate() {
    aliases_.clear();
    orders_.clear();
}

Result<std::optional<ResolvedAlias>> AliasDirectory::load(const std::string& local) {
    auto pair = store_->find_pair_by_alias(local);
    if (!pair) return pair.error();
    if (!*pair) return std::optional<ResolvedAlias>();

    ResolvedAlias resolved;
    resolved.pair = std::move(**pair);
    const bool reaches_buyer = resolved.pair.buyer_alias == local;
    const std::string& owner_id = reaches_buyer ? resolved.pair.buyer_id : resolved.pair.seller_id;
    const std::string& other_id = reaches_buyer ? resolved.pair.seller_id : resolved.pair.buyer_id;

    auto owner = store_->find_party(owner_id);
    if (!owner) return owner.error();
    auto counterpart = store_->find_party(other_id);
    if (!counterpart) return counterpart.error();
    // The store's foreign keys make a pair without its parties impossible.
    if (!*owner || !*counterpart)
        return fail(Errc::internal, "pair " + std::to_string(resolved.pair.id) +
                                        " refers to a missing party ('" +
                                        (*owner ? other_id : owner_id) + "')");
    resolved.owner = std::move(**owner);
    resolved.counterpart = std::move(**counterpart);
    return std::optional<ResolvedAlias>(std::move(resolved));
}

}  // namespace mm::alias
