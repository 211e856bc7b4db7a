// The tables of a whole-store transfer and the backend-neutral parts of it
// (see store_transfer.h).
#include "alias/store_transfer.h"

namespace mm::alias {

namespace {

using T = ColumnType;

// Schema version 4 of alias/sqlite/schema.cc, column by column.  A new schema
// version changes this list and kTransferSchemaVersion together (the test
// alias_store_transfer_test compares it with the SQLite schema).
constexpr Column kParty[] = {{"id", T::text},         {"role", T::text},
                             {"address", T::text},    {"display_name", T::text},
                             {"attributes", T::text}, {"created", T::integer}};
constexpr Column kPartySender[] = {{"party_id", T::text}, {"address", T::text}};
constexpr Column kPair[] = {{"id", T::integer},        {"buyer_id", T::text},
                            {"seller_id", T::text},    {"buyer_alias", T::text},
                            {"seller_alias", T::text}, {"created", T::integer}};
constexpr Column kMessageId[] = {{"marketplace_id", T::text},
                                 {"original_id", T::text},
                                 {"pair_id", T::integer},
                                 {"sender_role", T::text},
                                 {"created", T::integer}};
constexpr Column kOrders[] = {{"id", T::text},
                              {"pair_id", T::integer},
                              {"kind", T::text},
                              {"fulfilment", T::text},
                              {"created", T::integer}};
constexpr Column kThreads[] = {{"pair_id", T::integer},
                               {"order_id", T::text},
                               {"started_by", T::text},
                               {"created", T::integer},
                               {"last_buyer_at", T::integer},
                               {"last_seller_at", T::integer},
                               {"unsolicited_since_buyer", T::integer}};
constexpr Column kImportantUses[] = {
    {"seller_id", T::text}, {"day", T::text}, {"count", T::integer}};
constexpr Column kFingerprints[] = {
    {"seller_id", T::text}, {"buyer_id", T::text}, {"hash", T::text}, {"at", T::integer}};
constexpr Column kResponseLog[] = {{"id", T::integer},
                                   {"pair_id", T::integer},
                                   {"seller_id", T::text},
                                   {"buyer_message_at", T::integer},
                                   {"first_reply_at", T::integer, true}};
constexpr Column kDeliveries[] = {
    {"key", T::text},     {"pair_id", T::integer}, {"marketplace_id", T::text},
    {"outcome", T::text}, {"created", T::integer}, {"expires", T::integer}};

constexpr Table kTables[] = {
    {"party", kParty, "\"id\"", ""},
    {"party_sender", kPartySender, "\"party_id\", \"address\"", ""},
    {"pair", kPair, "\"id\"", "id"},
    {"message_id", kMessageId, "\"marketplace_id\"", ""},
    {"orders", kOrders, "\"id\"", ""},
    {"threads", kThreads, "\"pair_id\", \"order_id\"", ""},
    {"important_uses", kImportantUses, "\"seller_id\", \"day\"", ""},
    {"fingerprints", kFingerprints, "\"seller_id\", \"buyer_id\", \"at\", \"hash\"", ""},
    {"response_log", kResponseLog, "\"id\"", "id"},
    {"deliveries", kDeliveries, "\"key\"", ""},
};

// Identifiers come from the constant table list, never from input; quoted,
// since some (key, count, day, at) are key words in one dialect or another.
std::string quoted(std::string_view name) {
    return "\"" + std::string(name) + "\"";
}

std::string column_list(const Table& table) {
    std::string out;
    for (const Column& c : table.columns) {
        if (!out.empty()) out += ", ";
        out += quoted(c.name);
    }
    return out;
}

const char* type_name(ColumnType type) {
    return type == ColumnType::integer ? "an integer" : "a string";
}

}  // namespace

std::span<const Table> transfer_tables() {
    return kTables;
}

const Table* find_table(std::string_view name) {
    for (const Table& t : kTables)
        if (t.name == name) return &t;
    return nullptr;
}

Result<void> check_row(const Row& row) {
    if (row.table == nullptr) return fail(Errc::invalid, "a row without a table");
    const Table& t = *row.table;
    if (row.values.size() != t.columns.size())
        return fail(Errc::invalid, std::string(t.name) + ": " + std::to_string(row.values.size()) +
                                       " values for " + std::to_string(t.columns.size()) +
                                       " columns");
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        const Column& c = t.columns[i];
        const Value& v = row.values[i];
        const bool ok =
            std::holds_alternative<std::monostate>(v)
                ? c.nullable
                : (c.type == ColumnType::integer ? std::holds_alternative<std::int64_t>(v)
                                                 : std::holds_alternative<std::string>(v));
        if (!ok)
            return fail(Errc::invalid, std::string(t.name) + "." + std::string(c.name) +
                                           ": expected " + type_name(c.type) +
                                           (c.nullable ? " or null" : ""));
    }
    return {};
}

std::string select_sql(const Table& table) {
    return "SELECT " + column_list(table) + " FROM " + quoted(table.name) + " ORDER BY " +
           std::string(table.order_by);
}

std::string insert_sql(const Table& table, bool dollar) {
    std::string params;
    for (std::size_t i = 1; i <= table.columns.size(); ++i)
        params += (i > 1 ? ", " : "") + std::string(dollar ? "$" : "?") + std::to_string(i);
    return "INSERT INTO " + quoted(table.name) + " (" + column_list(table) + ") VALUES (" + params +
           ")";
}

std::string count_sql(const Table& table) {
    return "SELECT count(*) FROM " + quoted(table.name);
}

std::string sequence_reset_sql(const Table& table) {
    if (table.serial.empty()) return "";
    const std::string t = quoted(table.name), c = quoted(table.serial);
    // is_called false: the next nextval() returns exactly max + 1.
    return "SELECT setval(pg_get_serial_sequence('" + t + "', '" + std::string(table.serial) +
           "'), coalesce(max(" + c + "), 0) + 1, false) FROM " + t;
}

Result<TableCounts> import_each(RowSource& source,
                                const std::function<Result<void>(const Row&)>& insert) {
    TableCounts counts;
    for (const Table& t : kTables) counts[std::string(t.name)] = 0;
    std::size_t at = 0;  // index of the current table in kTables
    for (;;) {
        auto next = source.next();
        if (!next) return next.error();
        if (!*next) return counts;
        const Row& row = **next;
        if (auto r = check_row(row); !r) return r.error();
        std::size_t index = 0;
        while (index < std::size(kTables) && &kTables[index] != row.table) ++index;
        if (index == std::size(kTables))
            return fail(Errc::invalid, "a row of a table this program does not know");
        if (index < at)
            return fail(Errc::invalid, std::string(row.table->name) + " row after " +
                                           std::string(kTables[at].name) +
                                           " rows: tables must come in export order");
        at = index;
        auto& n = counts[std::string(row.table->name)];
        if (auto r = insert(row); !r)
            return fail(r.error().code, std::string(row.table->name) + " row " +
                                            std::to_string(n + 1) + ": " + r.error().message);
        ++n;
    }
}

Result<void> check_empty(const TableCounts& counts, const std::string& where) {
    std::string rows;
    for (const auto& [name, n] : counts)
        if (n != 0) rows += (rows.empty() ? "" : ", ") + name + " " + std::to_string(n);
    if (rows.empty()) return {};
    return fail(Errc::conflict,
                where + " holds rows (" + rows + "): import only into an empty store");
}

Result<void> check_counts(const TableCounts& expected, const TableCounts& actual,
                          const std::string& what) {
    std::string diff;
    auto count_in = [](const TableCounts& counts, std::string_view name) -> std::int64_t {
        auto it = counts.find(name);
        return it == counts.end() ? 0 : it->second;
    };
    TableCounts names = expected;
    names.insert(actual.begin(), actual.end());
    for (const auto& [name, unused] : names) {
        const auto want = count_in(expected, name), got = count_in(actual, name);
        if (want == got) continue;
        diff += (diff.empty() ? "" : ", ") + name + " " + std::to_string(got) + " (expected " +
                std::to_string(want) + ")";
    }
    if (diff.empty()) return {};
    return fail(Errc::invalid, what + ": " + diff);
}

}  // namespace mm::alias
