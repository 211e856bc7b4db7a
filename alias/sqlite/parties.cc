// Parties and pairs in SQLite (see parties.h; tables party, party_sender,
// pair).
#include "alias/sqlite/parties.h"

#include <nlohmann/json.hpp>

#include <exception>
#include <initializer_list>
#include <string_view>

#include "alias/alias_generator.h"
#include "alias/validation.h"

namespace mm::alias::sqlite {

namespace {

constexpr int kAliasAttempts = 16;

constexpr std::string_view kInsertParty =
    "INSERT INTO party (id, role, address, display_name, attributes, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr std::string_view kUpdateParty =
    "UPDATE party SET address = ?2, display_name = ?3, attributes = ?4 WHERE id = ?1";
constexpr std::string_view kInsertSender =
    "INSERT INTO party_sender (party_id, address) VALUES (?1, ?2)";
constexpr std::string_view kDeleteSenders = "DELETE FROM party_sender WHERE party_id = ?1";
constexpr std::string_view kSelectParty =
    "SELECT role, address, display_name FROM party WHERE id = ?1";
constexpr std::string_view kSelectSenders =
    "SELECT address FROM party_sender WHERE party_id = ?1 ORDER BY rowid";
constexpr std::string_view kSelectAttributes =
    "SELECT j.key, j.value FROM party, json_each(party.attributes) AS j WHERE party.id = ?1";
constexpr std::string_view kSelectRole = "SELECT role FROM party WHERE id = ?1";
constexpr std::string_view kSelectPair =
    "SELECT id, buyer_id, seller_id, buyer_alias, seller_alias, created FROM pair "
    "WHERE buyer_id = ?1 AND seller_id = ?2";
constexpr std::string_view kSelectPairByAlias =
    "SELECT id, buyer_id, seller_id, buyer_alias, seller_alias, created FROM pair "
    "WHERE buyer_alias = ?1 OR seller_alias = ?1";
constexpr std::string_view kAliasTaken =
    "SELECT 1 FROM pair WHERE buyer_alias IN (?1, ?2) OR seller_alias IN (?1, ?2) LIMIT 1";
constexpr std::string_view kInsertPair =
    "INSERT INTO pair (buyer_id, seller_id, buyer_alias, seller_alias, created) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";

// attributes as a JSON object of strings; SQLite's json_each reads it back.
// Invalid UTF-8 from an operator is replaced, never an exception.
std::string attributes_json(const std::map<std::string, std::string>& attributes) {
    return nlohmann::json(attributes)
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Pair read_pair(const Stmt& s) {
    Pair p;
    p.id = s.column_int64(0);
    p.buyer_id = s.column_text(1);
    p.seller_id = s.column_text(2);
    p.buyer_alias = s.column_text(3);
    p.seller_alias = s.column_text(4);
    p.created = s.column_int64(5);
    return p;
}

Result<void> insert_senders(Lease& lease, const Party& p) {
    for (const auto& sender : p.senders) {
        if (auto r = lease.exec(
                kInsertSender, [&](Stmt& s) { s.text(1, p.id).text(2, sender); },
                "add sender of party '" + p.id + "'");
            !r)
            return r;
    }
    return {};
}

// The role of party `id`, nullopt if there is none.
Result<std::optional<Role>> role_of(Lease& lease, const std::string& id) {
    return lease.query_one<Role>(
        kSelectRole, [&](Stmt& s) { s.text(1, id); },
        [&](const Stmt& s) -> Result<Role> {
            auto role = parse_role(s.column_text(0));
            if (!role) return lease.database().bad_row("party '" + id + "' has an unknown role");
            return *role;
        },
        "find party '" + id + "'");
}

// Runs a pair query whose parameters are `params`, in order.
Result<std::optional<Pair>> select_pair(Lease& lease, std::string_view sql,
                                        std::initializer_list<std::string_view> params) {
    return lease.query_one<Pair>(
        sql,
        [&](Stmt& s) {
            int index = 0;
            for (auto param : params) s.text(++index, param);
        },
        read_pair, "find pair");
}

// Fails unless both parties exist with the roles their place in the pair needs.
Result<void> check_roles(Lease& lease, const std::string& buyer_id, const std::string& seller_id) {
    const struct {
        const std::string& id;
        Role expected;
    } parties[] = {{buyer_id, Role::buyer}, {seller_id, Role::seller}};
    for (const auto& party : parties) {
        auto role = role_of(lease, party.id);
        if (!role) return role.error();
        if (!*role) return fail(Errc::not_found, "party '" + party.id + "' not found");
        if (**role != party.expected)
            return fail(Errc::invalid, "party '" + party.id + "' is a " + to_string(**role) +
                                           ", not a " + to_string(party.expected));
    }
    return {};
}

// One attempt at inserting `pair` with fresh aliases: true if inserted (id
// set), false if an alias was taken and the caller should try again.
Result<bool> insert_pair(Lease& lease, Pair& pair) {
    try {
        pair.buyer_alias = generate_alias();
        pair.seller_alias = generate_alias();
    } catch (const std::exception& e) {
        return fail(Errc::internal, std::string("cannot generate an alias: ") + e.what());
    }
    if (pair.buyer_alias == pair.seller_alias) return false;
    // Both columns share one alias space: an alias must not appear in
    // either column of any pair.
    auto taken = lease.exists(
        kAliasTaken, [&](Stmt& s) { s.text(1, pair.buyer_alias).text(2, pair.seller_alias); },
        "check alias");
    if (!taken) return taken.error();
    if (*taken) return false;
    auto rc = lease.step(kInsertPair, [&](Stmt& s) {
        s.text(1, pair.buyer_id)
            .text(2, pair.seller_id)
            .text(3, pair.buyer_alias)
            .text(4, pair.seller_alias)
            .int64(5, pair.created);
    });
    if (!rc) return rc.error();
    if (*rc == SQLITE_CONSTRAINT_UNIQUE) return false;  // an alias collision after all
    if (*rc != SQLITE_DONE) return lease.error(*rc, "add pair");
    pair.id = sqlite3_last_insert_rowid(lease.db());
    return true;
}

// Validates `party`, then runs `write` (its row) and adds its senders in
// one write transaction.
template <class Write>
Result<void> write_party(Database& db, const Party& party, Write write) {
    auto valid = validated_party(party);
    if (!valid) return valid.error();
    const Party& p = *valid;

    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(true); !r) return r;
    if (auto r = write(*lease, p); !r) return r;
    if (auto r = insert_senders(*lease, p); !r) return r;
    return tx.commit();
}

}  // namespace

Result<void> add_party(Database& db, const Party& party) {
    return write_party(db, party, [](Lease& lease, const Party& p) -> Result<void> {
        auto rc = lease.step(kInsertParty, [&](Stmt& s) {
            s.text(1, p.id)
                .text(2, to_string(p.role))
                .text(3, p.address)
                .text(4, p.display_name)
                .text(5, attributes_json(p.attributes))
                .int64(6, unix_now());
        });
        if (!rc) return rc.error();
        if (*rc == SQLITE_CONSTRAINT_PRIMARYKEY || *rc == SQLITE_CONSTRAINT_UNIQUE)
            return fail(Errc::conflict, "party '" + p.id + "' exists already");
        if (*rc != SQLITE_DONE) return lease.error(*rc, "add party '" + p.id + "'");
        return {};
    });
}

Result<void> update_party(Database& db, const Party& party) {
    return write_party(db, party, [](Lease& lease, const Party& p) -> Result<void> {
        if (auto r = lease.exec(
                kUpdateParty,
                [&](Stmt& s) {
                    s.text(1, p.id)
                        .text(2, p.address)
                        .text(3, p.display_name)
                        .text(4, attributes_json(p.attributes));
                },
                "update party '" + p.id + "'");
            !r)
            return r;
        if (sqlite3_changes(lease.db()) == 0)
            return fail(Errc::not_found, "party '" + p.id + "' not found");
        // The senders are replaced: write_party adds the new ones.
        return lease.exec(
            kDeleteSenders, [&](Stmt& s) { s.text(1, p.id); },
            "replace senders of party '" + p.id + "'");
    });
}

Result<std::optional<Party>> find_party(Database& db, const std::string& id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    // One read transaction: party, senders and attributes from one snapshot.
    Transaction tx(*lease);
    if (auto r = tx.begin(false); !r) return r.error();
    const std::string what = "find party '" + id + "'";
    auto by_id = [&](Stmt& s) { s.text(1, id); };

    auto found = lease->query_one<Party>(
        kSelectParty, by_id,
        [&](const Stmt& s) -> Result<Party> {
            const std::string role = s.column_text(0);
            auto parsed = parse_role(role);
            if (!parsed) return db.bad_row("party '" + id + "' has role '" + role + "'");
            Party p;
            p.id = id;
            p.role = *parsed;
            p.address = s.column_text(1);
            p.display_name = s.column_text(2);
            return p;
        },
        what);
    if (!found || !*found) return found;
    Party& p = **found;
    if (auto r = lease->query(
            kSelectSenders, by_id, [&](const Stmt& s) { p.senders.push_back(s.column_text(0)); },
            what);
        !r)
        return r.error();
    if (auto r = lease->query(
            kSelectAttributes, by_id,
            [&](const Stmt& s) { p.attributes[s.column_text(0)] = s.column_text(1); }, what);
        !r)
        return r.error();
    if (auto r = tx.commit(); !r) return r.error();
    return found;
}

Result<Pair> add_pair(Database& db, const std::string& buyer_id, const std::string& seller_id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    Transaction tx(*lease);
    if (auto r = tx.begin(true); !r) return r.error();

    if (auto r = check_roles(*lease, buyer_id, seller_id); !r) return r.error();
    auto existing = select_pair(*lease, kSelectPair, {buyer_id, seller_id});
    if (!existing) return existing.error();
    if (*existing)
        return fail(Errc::conflict, "pair of buyer '" + buyer_id + "' and seller '" + seller_id +
                                        "' exists already (pair " +
                                        std::to_string((*existing)->id) + ")");

    Pair pair;
    pair.buyer_id = buyer_id;
    pair.seller_id = seller_id;
    pair.created = unix_now();
    for (int attempt = 0; attempt < kAliasAttempts; ++attempt) {
        auto inserted = insert_pair(*lease, pair);
        if (!inserted) return inserted.error();
        if (!*inserted) continue;
        if (auto r = tx.commit(); !r) return r.error();
        return pair;
    }
    return fail(Errc::internal, "no unique alias pair after " + std::to_string(kAliasAttempts) +
                                    " attempts: is the CSPRNG broken?");
}

Result<std::optional<Pair>> find_pair(Database& db, const std::string& buyer_id,
                                      const std::string& seller_id) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return select_pair(*lease, kSelectPair, {buyer_id, seller_id});
}

Result<std::optional<Pair>> find_pair_by_alias(Database& db, const std::string& local) {
    auto lease = db.acquire();
    if (!lease) return lease.error();
    return select_pair(*lease, kSelectPairByAlias, {local});
}

}  // namespace mm::alias::sqlite
