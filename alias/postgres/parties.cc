// Parties and pairs in PostgreSQL (see queries.h; tables party,
// party_sender, pair).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <exception>
#include <string_view>

#include "alias/alias_generator.h"
#include "alias/postgres/queries.h"
#include "alias/validation.h"

namespace mm::alias::postgres {

namespace {

constexpr int kAliasAttempts = 16;

constexpr std::string_view kInsertParty =
    "INSERT INTO party (id, role, address, display_name, attributes, created) "
    "VALUES ($1, $2, $3, $4, $5, $6::bigint)";
constexpr std::string_view kUpdateParty =
    "UPDATE party SET address = $2, display_name = $3, attributes = $4 WHERE id = $1";
constexpr std::string_view kInsertSender =
    "INSERT INTO party_sender (party_id, address) VALUES ($1, $2)";
constexpr std::string_view kDeleteSenders = "DELETE FROM party_sender WHERE party_id = $1";
// One statement, so party, senders and attributes come from one snapshot.
constexpr std::string_view kSelectParty =
    "SELECT p.role, p.address, p.display_name, p.attributes, "
    "(SELECT coalesce(json_agg(s.address ORDER BY s.seq), '[]'::json) FROM party_sender s "
    "WHERE s.party_id = p.id)::text FROM party p WHERE p.id = $1";
constexpr std::string_view kSelectRole = "SELECT role FROM party WHERE id = $1";
constexpr std::string_view kSelectPair =
    "SELECT id, buyer_id, seller_id, buyer_alias, seller_alias, created FROM pair "
    "WHERE buyer_id = $1 AND seller_id = $2";
constexpr std::string_view kSelectPairByAlias =
    "SELECT id, buyer_id, seller_id, buyer_alias, seller_alias, created FROM pair "
    "WHERE buyer_alias = $1 OR seller_alias = $1";
// The two columns share one alias space, which no constraint can say: the
// transaction locks both new aliases (two-key advisory locks, in order, so
// two inserts never wait for each other in a cycle), then checks them.
constexpr std::string_view kLockAliases =
    "SELECT pg_advisory_xact_lock(1835098465, hashtext($1)), "
    "pg_advisory_xact_lock(1835098465, hashtext($2))";
constexpr std::string_view kAliasTaken =
    "SELECT 1 FROM pair WHERE buyer_alias IN ($1, $2) OR seller_alias IN ($1, $2) LIMIT 1";
constexpr std::string_view kInsertPair =
    "INSERT INTO pair (buyer_id, seller_id, buyer_alias, seller_alias, created) "
    "VALUES ($1, $2, $3, $4, $5::bigint) RETURNING id";
constexpr std::string_view kPairOfParties = "pair_buyer_id_seller_id_key";

// attributes as a JSON object of strings.  Invalid UTF-8 from an operator is
// replaced, never an exception.
std::string attributes_json(const std::map<std::string, std::string>& attributes) {
    return nlohmann::json(attributes)
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Pair read_pair(const Rows& rows, int i) {
    Pair p;
    p.id = rows.int64(i, 0);
    p.buyer_id = rows.text(i, 1);
    p.seller_id = rows.text(i, 2);
    p.buyer_alias = rows.text(i, 3);
    p.seller_alias = rows.text(i, 4);
    p.created = rows.int64(i, 5);
    return p;
}

Result<std::optional<Pair>> select_pair(Lease& lease, std::string_view sql, const Params& params) {
    auto rows = lease.exec(sql, params, "find pair");
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<Pair>();
    return std::optional<Pair>(read_pair(*rows, 0));
}

// Fails unless both parties exist with the roles their place in the pair needs.
Result<void> check_roles(Lease& lease, const std::string& buyer_id, const std::string& seller_id) {
    const struct {
        const std::string& id;
        Role expected;
    } parties[] = {{buyer_id, Role::buyer}, {seller_id, Role::seller}};
    for (const auto& party : parties) {
        auto rows =
            lease.exec(kSelectRole, Params().text(party.id), "find party '" + party.id + "'");
        if (!rows) return rows.error();
        if (rows->size() == 0) return fail(Errc::not_found, "party '" + party.id + "' not found");
        auto role = parse_role(rows->text(0, 0));
        if (!role) return lease.database().bad_row("party '" + party.id + "' has an unknown role");
        if (*role != party.expected)
            return fail(Errc::invalid, "party '" + party.id + "' is a " + to_string(*role) +
                                           ", not a " + to_string(party.expected));
    }
    return {};
}

// One transaction adding the pair: true if added (pair.id set), false if
// an alias was taken and the caller should try again with new ones.
Result<bool> try_add_pair(Lease& lease, Pair& pair) {
    Transaction tx(lease);
    if (auto r = tx.begin(); !r) return r.error();
    if (auto r = check_roles(lease, pair.buyer_id, pair.seller_id); !r) return r.error();
    auto existing =
        select_pair(lease, kSelectPair, Params().text(pair.buyer_id).text(pair.seller_id));
    if (!existing) return existing.error();
    if (*existing)
        return fail(Errc::conflict, "pair of buyer '" + pair.buyer_id + "' and seller '" +
                                        pair.seller_id + "' exists already (pair " +
                                        std::to_string((*existing)->id) + ")");
    try {
        pair.buyer_alias = generate_alias();
        pair.seller_alias = generate_alias();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("cannot generate an alias: ") + e.what());
    }
    if (pair.buyer_alias == pair.seller_alias) return false;
    const auto [first, second] = std::minmax(pair.buyer_alias, pair.seller_alias);
    if (auto r = lease.exec(kLockAliases, Params().text(first).text(second), "lock aliases"); !r)
        return r.error();
    auto taken = lease.exec(kAliasTaken, Params().text(pair.buyer_alias).text(pair.seller_alias),
                            "check alias");
    if (!taken) return taken.error();
    if (taken->size() > 0) return false;
    auto inserted = lease.exec(kInsertPair,
                               Params()
                                   .text(pair.buyer_id)
                                   .text(pair.seller_id)
                                   .text(pair.buyer_alias)
                                   .text(pair.seller_alias)
                                   .int64(pair.created),
                               "add pair");
    if (!inserted) {
        if (lease.sqlstate() != kUniqueViolation) return inserted.error();
        if (lease.constraint() == kPairOfParties)  // added meanwhile by another host
            return fail(Errc::conflict, "pair of buyer '" + pair.buyer_id + "' and seller '" +
                                            pair.seller_id + "' exists already");
        return false;
    }
    pair.id = inserted->int64(0, 0);
    if (auto r = tx.commit(); !r) return r.error();
    return true;
}

// Validates `party`, then runs `write` (its row) and adds its senders in one
// transaction.
template <class Write>
Result<void> write_party(Database& db, const Party& party, Write write) {
    auto valid = validated_party(party);
    if (!valid) return valid.error();
    const Party& p = *valid;

    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(); !r) return r;
    if (auto r = write(*lease, p); !r) return r;
    for (const auto& sender : p.senders) {
        if (auto r = lease->exec(kInsertSender, Params().text(p.id).text(sender),
                                 "add sender of party '" + p.id + "'");
            !r)
            return r.error();
    }
    return tx.commit();
}

}  // namespace

Result<void> add_party(Database& db, const Party& party) {
    return write_party(db, party, [](Lease& lease, const Party& p) -> Result<void> {
        auto r = lease.exec(kInsertParty,
                            Params()
                                .text(p.id)
                                .text(to_string(p.role))
                                .text(p.address)
                                .text(p.display_name)
                                .text(attributes_json(p.attributes))
                                .int64(unix_now()),
                            "add party '" + p.id + "'");
        if (!r && lease.sqlstate() == kUniqueViolation)
            return fail(Errc::conflict, "party '" + p.id + "' exists already");
        if (!r) return r.error();
        return {};
    });
}

Result<void> update_party(Database& db, const Party& party) {
    return write_party(db, party, [](Lease& lease, const Party& p) -> Result<void> {
        auto r = lease.exec(kUpdateParty,
                            Params()
                                .text(p.id)
                                .text(p.address)
                                .text(p.display_name)
                                .text(attributes_json(p.attributes)),
                            "update party '" + p.id + "'");
        if (!r) return r.error();
        if (r->affected() == 0) return fail(Errc::not_found, "party '" + p.id + "' not found");
        // The senders are replaced: write_party adds the new ones.
        auto d = lease.exec(kDeleteSenders, Params().text(p.id),
                            "replace senders of party '" + p.id + "'");
        if (!d) return d.error();
        return {};
    });
}

Result<std::optional<Party>> find_party(Database& db, const std::string& id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    auto rows = lease->exec(kSelectParty, Params().text(id), "find party '" + id + "'");
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<Party>();
    const std::string role = rows->text(0, 0);
    auto parsed = parse_role(role);
    if (!parsed) return db.bad_row("party '" + id + "' has role '" + role + "'");
    Party p;
    p.id = id;
    p.role = *parsed;
    p.address = rows->text(0, 1);
    p.display_name = rows->text(0, 2);
    try {
        const auto attributes = nlohmann::json::parse(rows->text(0, 3));
        for (const auto& [key, value] : attributes.items())
            p.attributes[key] = value.get<std::string>();
        const auto senders = nlohmann::json::parse(rows->text(0, 4));
        for (const auto& sender : senders) p.senders.push_back(sender.get<std::string>());
    } catch (const std::exception& e) {
        return db.bad_row("party '" + id + "' has attributes or senders that are not JSON " +
                          "strings: " + e.what());
    }
    return std::optional<Party>(std::move(p));
}

Result<Pair> add_pair(Database& db, const std::string& buyer_id, const std::string& seller_id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Pair pair;
    pair.buyer_id = buyer_id;
    pair.seller_id = seller_id;
    pair.created = unix_now();
    for (int attempt = 0; attempt < kAliasAttempts; ++attempt) {
        auto added = try_add_pair(*lease, pair);
        if (!added) return added.error();
        if (*added) return pair;
    }
    return fail(Errc::internal, "no unique alias pair after " + std::to_string(kAliasAttempts) +
                                    " attempts: is the CSPRNG broken?");
}

Result<std::optional<Pair>> find_pair(Database& db, const std::string& buyer_id,
                                      const std::string& seller_id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return select_pair(*lease, kSelectPair, Params().text(buyer_id).text(seller_id));
}

Result<std::optional<Pair>> find_pair_by_alias(Database& db, const std::string& local) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return select_pair(*lease, kSelectPairByAlias, Params().text(local));
}

}  // namespace mm::alias::postgres
