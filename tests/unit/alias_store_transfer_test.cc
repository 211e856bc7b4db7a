// Unit tests for the whole-store transfer (alias/store_transfer.h, its
// SQLite side alias/sqlite/transfer.cc) and the JSON Lines of export/import
// (cli/store_jsonl.h): the table list against the real schema, round trips,
// refused inputs with their line numbers, and the verdicts of the message
// flow on an imported store.  Real SQLite stores in a temp dir; the store
// is filled through the message flow (tests/support/message_flow_fixture.h)
// and the store's own calls, never by hand-written rows.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "alias/sqlite_store.h"
#include "alias/store_transfer.h"
#include "cli/store_jsonl.h"
#include "tests/support/message_flow_fixture.h"

namespace mm::milter {
namespace {

using namespace flow_testing;

std::unique_ptr<alias::StoreTransfer> open_transfer(const std::string& path) {
    auto t = alias::open_sqlite_transfer(path);
    EXPECT_TRUE(t) << t.error().message;
    return t ? std::move(t).value() : nullptr;
}

std::string export_text(alias::StoreTransfer& t) {
    std::ostringstream out;
    auto r = export_jsonl(t, out);
    EXPECT_TRUE(r) << r.error().message;
    return out.str();
}

Result<alias::TableCounts> import_text(alias::StoreTransfer& t, const std::string& text) {
    std::istringstream in(text);
    return import_jsonl(t, in, "store.jsonl");
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

std::int64_t total(const alias::TableCounts& counts) {
    std::int64_t n = 0;
    for (const auto& [table, rows] : counts) n += rows;
    return n;
}

std::set<std::string> rule_ids(const FlowOutcome& out) {
    std::set<std::string> ids;
    for (const auto& r : out.rules) ids.insert(r.id);
    return ids;
}

// A store with rows in every table: the fixture's bob, acme, their pair and
// order; a second buyer, zoe, with senders, attributes and a non-ASCII name;
// a delivered seller message to bob, unsolicited (thread, fingerprint,
// Message-ID, delivery); a counted [Important] use; and on zoe's pair the
// response log with an answered and an open (NULL) entry.
class StoreTransferTest : public MessageFlowTest {
protected:
    void SetUp() override {
        MessageFlowTest::SetUp();
        if (HasFatalFailure()) return;
        ASSERT_TRUE(store_->add_party({"zoe",
                                       alias::Role::buyer,
                                       "zoe@example.org",
                                       "Zoë \"Z\" Ünal",
                                       {"zoe.work@example.org"},
                                       {{"optout", "on"}, {"note", "line\\one\ttab"}}}));
        auto zoe = store_->add_pair("zoe", "acme");
        ASSERT_TRUE(zoe);
        zoe_pair_ = zoe->id;
        Sent s = send(kSubject, "Your parcel left our warehouse today.", "m1");
        ASSERT_TRUE(s.out.delivered()) << s.out.reply;
        ASSERT_NO_FATAL_FAILURE(writes(alias::Role::buyer, kNow - 7200));
        ASSERT_NO_FATAL_FAILURE(writes(alias::Role::seller, kNow - 3600));
        ASSERT_NO_FATAL_FAILURE(writes(alias::Role::buyer, kNow - 60));
        alias::ThreadEvent e = event(pair_.id, "bob");
        e.commit = true;
        auto important = store_->apply_thread_event(e, [](const alias::ThreadState&) {
            alias::ThreadUpdate u;
            u.important_used = true;  // refused, yet counted
            return u;
        });
        ASSERT_TRUE(important) << important.error().message;
    }

    alias::ThreadEvent event(std::int64_t pair_id, const std::string& buyer) {
        alias::ThreadEvent e;
        e.pair_id = pair_id;
        e.buyer_id = buyer;
        e.seller_id = "acme";
        e.now = kNow;
        e.repeat_window_s = 3600;
        return e;
    }

    // A message on zoe's pair at `at`, outside any order: a buyer's opens a
    // response-time entry, the seller's answers it.
    void writes(alias::Role writer, std::int64_t at) {
        alias::ThreadEvent e = event(zoe_pair_, "zoe");
        e.now = at;
        e.commit = true;
        auto r = store_->apply_thread_event(e, [writer](const alias::ThreadState&) {
            alias::ThreadUpdate u;
            u.allowed = true;
            u.writer = writer;
            u.counts_as_buyer_message = writer == alias::Role::buyer;
            return u;
        });
        ASSERT_TRUE(r) << r.error().message;
    }

    std::int64_t zoe_pair_ = 0;

    std::string path_b() const { return dir_.file("b.db"); }
};

TEST_F(StoreTransferTest, TableListMatchesTheSqliteSchema) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db_path().c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    std::unique_ptr<sqlite3, DbClose> db(raw);
    auto strings = [&](const std::string& sql) {
        std::vector<std::vector<std::string>> rows;
        sqlite3_stmt* s = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
        while (sqlite3_step(s) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int i = 0; i < sqlite3_column_count(s); ++i) {
                const auto* t = sqlite3_column_text(s, i);
                row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
            }
            rows.push_back(row);
        }
        sqlite3_finalize(s);
        return rows;
    };
    std::set<std::string> schema_tables, listed;
    for (const auto& r : strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                 "NOT LIKE 'sqlite_%'"))
        schema_tables.insert(r[0]);
    for (const auto& t : alias::transfer_tables()) {
        listed.insert(std::string(t.name));
        // cid, name, type, notnull, dflt_value, pk
        auto columns = strings("PRAGMA table_info(\"" + std::string(t.name) + "\")");
        ASSERT_EQ(columns.size(), t.columns.size()) << t.name;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const auto& c = t.columns[i];
            EXPECT_EQ(columns[i][1], c.name) << t.name;
            EXPECT_EQ(columns[i][2], c.type == alias::ColumnType::integer ? "INTEGER" : "TEXT")
                << t.name << "." << c.name;
            // INTEGER PRIMARY KEY is never NULL though not declared NOT NULL.
            const bool not_null = columns[i][3] == "1" || columns[i][5] == "1";
            EXPECT_EQ(not_null, !c.nullable) << t.name << "." << c.name;
        }
    }
    EXPECT_EQ(listed, schema_tables);
    EXPECT_EQ(*open_transfer(db_path())->schema_version(), alias::kTransferSchemaVersion);
}

TEST_F(StoreTransferTest, RoundTripGivesIdenticalRows) {
    auto a = open_transfer(db_path());
    const std::string exported = export_text(*a);
    auto counts = a->count_rows();
    ASSERT_TRUE(counts);
    for (const auto& t : alias::transfer_tables())
        EXPECT_GT((*counts)[std::string(t.name)], 0) << t.name << " has no row to carry";

    auto b = open_transfer(path_b());
    auto imported = import_text(*b, exported);
    ASSERT_TRUE(imported) << imported.error().message;
    EXPECT_EQ(*imported, *counts);
    EXPECT_EQ(export_text(*b), exported);

    // The imported store works as a store: the alias resolves to the same
    // pair, and a new pair continues after the imported ids.
    auto store_b = alias::open_sqlite_store(path_b());
    ASSERT_TRUE(store_b);
    auto found = (*store_b)->find_pair_by_alias(pair_.buyer_alias);
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->id, pair_.id);
    auto zoe = (*store_b)->find_party("zoe");
    ASSERT_TRUE(zoe && *zoe);
    EXPECT_EQ((*zoe)->display_name, "Zoë \"Z\" Ünal");
    EXPECT_EQ((*zoe)->attributes.at("note"), "line\\one\ttab");
    ASSERT_TRUE((*store_b)->add_party({"ann", alias::Role::buyer, "ann@example.org", "", {}, {}}));
    auto added = (*store_b)->add_pair("ann", "acme");
    ASSERT_TRUE(added) << added.error().message;
    EXPECT_GT(added->id, pair_.id + 1);
}

TEST_F(StoreTransferTest, BadLinesAreRefusedWithTheirLineAndNothingIsImported) {
    const auto good = lines_of(export_text(*open_transfer(db_path())));
    ASSERT_GE(good.size(), 6u);
    auto with_line = [&](std::size_t index, const std::string& text) {
        auto lines = good;
        lines[index] = text;
        return joined(lines);
    };
    auto replaced = [&](std::size_t index, const std::string& from, const std::string& to) {
        std::string line = good[index];
        const auto at = line.find(from);
        EXPECT_NE(at, std::string::npos) << from << " in " << line;
        if (at != std::string::npos) line.replace(at, from.size(), to);
        return with_line(index, line);
    };
    auto without = [&](std::size_t index) {
        auto lines = good;
        lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(index));
        return joined(lines);
    };
    auto swapped = [&](std::size_t i, std::size_t j) {
        auto lines = good;
        std::swap(lines[i], lines[j]);
        return joined(lines);
    };
    auto first_of = [&](const std::string& table) {
        for (std::size_t i = 1; i < good.size(); ++i)
            if (good[i].starts_with("{\"table\":\"" + table + "\"")) return i;
        ADD_FAILURE() << "no " << table << " row";
        return std::size_t{0};
    };
    // The last threads row comes just before the first important_uses row.
    const std::size_t important = first_of("important_uses"),
                      fingerprint = first_of("fingerprints");
    // Line 2 is the first party (acme), line 3 the second (bob).
    const std::string last = std::to_string(good.size());
    const struct {
        std::string text;
        std::string error;
    } cases[] = {
        {"", "store.jsonl:1: empty file"},
        {with_line(0, R"({"format":"something else"})"), "store.jsonl:1: not a header"},
        {replaced(0, "\"schema_version\":4", "\"schema_version\":3"),
         "store.jsonl:1: schema version 3"},
        {with_line(2, "{not json"), "store.jsonl:3: not JSON"},
        {with_line(2, ""), "store.jsonl:3: empty line"},
        {with_line(2, R"({"table":"nope","row":{}})"), "store.jsonl:3: unknown table 'nope'"},
        {replaced(2, "\"created\":", "\"created\":\"soon\",\"x\":"),
         "store.jsonl:3: party.created: expected an integer"},
        {replaced(2, "\"id\":\"bob\"", "\"id\":null"),
         "store.jsonl:3: party.id: expected a string"},
        {replaced(2, "\"role\":", "\"colour\":\"red\",\"role\":"),
         "store.jsonl:3: party: unknown column 'colour'"},
        {replaced(2, "\"role\":\"buyer\",", ""), "store.jsonl:3: party: no column 'role'"},
        {replaced(2, "\"role\":\"buyer\"", "\"role\":\"admin\""), "store.jsonl:3: party row 2: "},
        {replaced(2, "\"id\":\"bob\"", "\"id\":\"acme\""), "store.jsonl:3: party row 2: "},
        {swapped(important - 1, important),
         "store.jsonl:" + std::to_string(important + 1) + ": threads row after important_uses"},
        {without(fingerprint), "store.jsonl:" + std::to_string(good.size() - 1) +
                                   ": end of file: rows: fingerprints 0 (expected 1)"},
        {replaced(0, "\"party\":3", "\"party\":4"), "store.jsonl:" + last + ": end of file: rows"},
    };
    for (const auto& c : cases) {
        auto b = open_transfer(path_b());
        auto r = import_text(*b, c.text);
        ASSERT_FALSE(r) << c.error;
        EXPECT_EQ(r.error().code, Errc::invalid) << r.error().message;
        EXPECT_TRUE(r.error().message.starts_with(c.error))
            << "expected '" << c.error << "...', got: " << r.error().message;
        auto counts = b->count_rows();
        ASSERT_TRUE(counts);
        EXPECT_EQ(total(*counts), 0) << "rows were imported for: " << c.error;
    }
}

TEST_F(StoreTransferTest, ImportIntoANonEmptyStoreIsRefused) {
    const std::string exported = export_text(*open_transfer(db_path()));
    auto b = alias::open_sqlite_store(path_b());
    ASSERT_TRUE(b);
    ASSERT_TRUE((*b)->add_party({"ann", alias::Role::buyer, "ann@example.org", "", {}, {}}));
    auto transfer = open_transfer(path_b());
    auto r = import_text(*transfer, exported);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::conflict);
    EXPECT_NE(r.error().message.find("holds rows (party 1)"), std::string::npos)
        << r.error().message;
    auto counts = transfer->count_rows();
    ASSERT_TRUE(counts);
    EXPECT_EQ(total(*counts), 1);
    // Into itself, too.
    auto again = import_text(*open_transfer(db_path()), exported);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::conflict);
}

// The thread state moves with the store: the order's one unsolicited
// message was used on A before the export, so the next one is refused on
// both A and the imported B, and the repeat rule sees A's fingerprint on B.
TEST_F(StoreTransferTest, SameMessagesGetTheSameVerdictsAfterImport) {
    auto b = open_transfer(path_b());
    ASSERT_TRUE(import_text(*b, export_text(*open_transfer(db_path()))));
    b.reset();

    const policy::Message next =
        message(kSubject, "We have a question about the colour you chose.", "n1");
    const policy::Message again = message("Hello", "Your parcel left our warehouse today.", "n2");
    std::unique_ptr<MemorySink> sink;
    const Sent next_a = send(next, sink);
    const Sent again_a = send(again, sink);

    auto store_b = alias::open_sqlite_store(path_b());
    ASSERT_TRUE(store_b);
    store_ = std::shared_ptr<alias::Store>(std::move(store_b).value());
    directory_ = std::make_unique<alias::AliasDirectory>(store_, std::chrono::milliseconds(0));
    const Sent next_b = send(next, sink);
    const Sent again_b = send(again, sink);

    EXPECT_EQ(next_a.out.decision, Decision::reject);
    EXPECT_TRUE(has_rule(next_a.out, "marketplace.unsolicited_limit"));
    EXPECT_TRUE(has_rule(again_a.out, "marketplace.repeat"));
    EXPECT_EQ(next_b.out.decision, next_a.out.decision);
    EXPECT_EQ(next_b.out.smtp_code, next_a.out.smtp_code);
    EXPECT_EQ(rule_ids(next_b.out), rule_ids(next_a.out));
    EXPECT_EQ(again_b.out.decision, again_a.out.decision);
    EXPECT_EQ(rule_ids(again_b.out), rule_ids(again_a.out));
}

}  // namespace
}  // namespace mm::milter
