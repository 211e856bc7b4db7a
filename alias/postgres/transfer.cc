// StoreTransfer for PostgreSQL (see transfer.h): the recipe of
// alias/store_transfer.h with libpq.  Values travel as text (integers in
// decimal), NULL as a null parameter; the server casts them to the columns'
// types.
#include "alias/postgres/transfer.h"

#include "alias/postgres/handles.h"

#include <libpq-fe.h>

#include <charconv>
#include <utility>
#include <vector>

namespace mm::alias::postgres {

namespace {

void ignore_notice(void*, const char*) {}

class PostgresTransfer final : public StoreTransfer {
public:
    explicit PostgresTransfer(ConnPtr conn) : conn_(std::move(conn)) {}

    Result<int> schema_version() override { return version(); }

    Result<void> export_rows(RowSink& sink) override {
        if (auto r = run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r;
        auto done = [&](Result<void> r) { return finish(std::move(r)); };
        auto v = version();
        if (!v) return done(v.error());
        auto counts = count();
        if (!counts) return done(counts.error());
        if (auto r = sink.begin(*v, *counts); !r) return done(r);
        for (const Table& t : transfer_tables())
            if (auto r = export_table(t, sink); !r) return done(r);
        return done({});
    }

    Result<void> import_rows(RowSource& source, const TableCounts* expected) override {
        if (auto r = run("BEGIN"); !r) return r;
        return finish(import_in_transaction(source, expected));
    }

    Result<TableCounts> count_rows() override {
        if (auto r = run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r) return r.error();
        auto counts = count();
        if (auto r = finish(counts ? Result<void>() : Result<void>(counts.error())); !r)
            return r.error();
        return counts;
    }

private:
    Failure error(const std::string& what, const PGresult* r = nullptr) const {
        std::string m = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get());
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        // A constraint the rows break is the input's fault; anything else
        // (the server gone, a lock) is the store's.
        const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        const bool input = state != nullptr && std::string_view(state).starts_with("23");
        return fail(input ? Errc::invalid : Errc::unavailable,
                    input ? m : "postgresql: " + what + ": " + m);
    }

    Result<void> run(const std::string& sql) {
        ResultPtr r(PQexec(conn_.get(), sql.c_str()));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return error(sql, r.get());
        return {};
    }

    // Commits on success, rolls back on failure; the failure stays the answer.
    Result<void> finish(Result<void> r) {
        if (!r) {
            (void)run("ROLLBACK");
            return r;
        }
        return run("COMMIT");
    }

    Result<std::int64_t> single_int(const std::string& sql) {
        ResultPtr r(PQexec(conn_.get(), sql.c_str()));
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return error(sql, r.get());
        if (PQntuples(r.get()) != 1 || PQnfields(r.get()) < 1 || PQgetisnull(r.get(), 0, 0))
            return fail(Errc::unavailable, "postgresql: " + sql + ": expected one value");
        return parse_int(PQgetvalue(r.get(), 0, 0), sql);
    }

    static Result<std::int64_t> parse_int(std::string_view text, const std::string& what) {
        std::int64_t n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc() || end != text.data() + text.size())
            return fail(Errc::internal, "postgresql: " + what + ": not an integer");
        return n;
    }

    Result<int> version() {
        auto v = single_int("SELECT * FROM schema_version");
        if (!v) return v.error();
        return static_cast<int>(*v);
    }

    Result<TableCounts> count() {
        TableCounts counts;
        for (const Table& t : transfer_tables()) {
            auto n = single_int(count_sql(t));
            if (!n) return n.error();
            counts[std::string(t.name)] = *n;
        }
        return counts;
    }

    Result<void> export_table(const Table& t, RowSink& sink) {
        const std::string sql = select_sql(t);
        if (PQsendQuery(conn_.get(), sql.c_str()) == 0) return error(sql);
        PQsetSingleRowMode(conn_.get());
        Result<void> out;
        // Every result is read, even after a failure, so the connection is
        // ready for the rollback.
        while (PGresult* raw = PQgetResult(conn_.get())) {
            ResultPtr r(raw);
            const auto status = PQresultStatus(raw);
            if (status == PGRES_TUPLES_OK || !out) continue;
            if (status != PGRES_SINGLE_TUPLE) {
                out = error(sql, raw);
                continue;
            }
            out = export_row(t, raw);
            if (out) out = sink.row(row_);
        }
        return out;
    }

    Result<void> export_row(const Table& t, const PGresult* r) {
        row_ = Row{&t, {}};
        for (int i = 0; i < static_cast<int>(t.columns.size()); ++i) {
            const Column& c = t.columns[static_cast<std::size_t>(i)];
            const std::string where = std::string(t.name) + "." + std::string(c.name);
            if (PQgetisnull(r, 0, i)) {
                row_.values.emplace_back(std::monostate{});
            } else if (c.type == ColumnType::integer) {
                auto n = parse_int(std::string_view(PQgetvalue(r, 0, i),
                                                    static_cast<std::size_t>(PQgetlength(r, 0, i))),
                                   where);
                if (!n) return n.error();
                row_.values.emplace_back(*n);
            } else {
                row_.values.emplace_back(std::string(
                    PQgetvalue(r, 0, i), static_cast<std::size_t>(PQgetlength(r, 0, i))));
            }
        }
        if (auto ok = check_row(row_); !ok)
            return fail(Errc::internal, "postgresql: " + ok.error().message);
        return {};
    }

    Result<void> import_in_transaction(RowSource& source, const TableCounts* expected) {
        auto v = version();
        if (!v) return v.error();
        if (*v != kTransferSchemaVersion)
            return fail(Errc::unavailable, "postgresql: schema version " + std::to_string(*v) +
                                               ", the transfer knows " +
                                               std::to_string(kTransferSchemaVersion));
        auto before = count();
        if (!before) return before.error();
        if (auto r = check_empty(*before, "the postgresql store"); !r) return r;
        auto inserted = import_each(source, [&](const Row& row) { return insert(row); });
        if (!inserted) return inserted.error();
        auto after = count();
        if (!after) return after.error();
        if (auto r = check_counts(*inserted, *after, "rows in the store after the import"); !r)
            return fail(Errc::internal, r.error().message);
        if (expected != nullptr)
            if (auto r = check_counts(*expected, *after, "rows imported"); !r) return r;
        for (const Table& t : transfer_tables()) {
            const std::string reset = sequence_reset_sql(t);
            if (reset.empty()) continue;
            ResultPtr r(PQexec(conn_.get(), reset.c_str()));
            if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return error(reset, r.get());
        }
        return {};
    }

    Result<void> insert(const Row& row) {
        const std::string sql = insert_sql(*row.table, true);
        std::vector<std::string> text(row.values.size());
        std::vector<const char*> params(row.values.size(), nullptr);
        for (std::size_t i = 0; i < row.values.size(); ++i) {
            if (const auto* n = std::get_if<std::int64_t>(&row.values[i]))
                text[i] = std::to_string(*n);
            else if (const auto* s = std::get_if<std::string>(&row.values[i]))
                text[i] = *s;
            else
                continue;  // NULL
            params[i] = text[i].c_str();
        }
        ResultPtr r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                                 params.data(), nullptr, nullptr, 0));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
            return error("insert into " + std::string(row.table->name), r.get());
        return {};
    }

    ConnPtr conn_;
    Row row_;  // the row being exported
};

}  // namespace

Result<std::unique_ptr<StoreTransfer>> open_postgres_transfer(const std::string& dsn,
                                                              const std::string& passfile) {
    // libpq's own parse error may quote a piece of the DSN, a password perhaps.
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &parse_error);
    PQfreemem(parse_error);
    if (parsed == nullptr)
        return fail(Errc::invalid,
                    "store dsn: not a libpq connection string (key=value pairs or a URI)");
    PQconninfoFree(parsed);
    std::vector<const char*> keys = {"application_name"};
    std::vector<const char*> values = {"marketplace-milter transfer"};
    if (!passfile.empty()) {
        keys.push_back("passfile");
        values.push_back(passfile.c_str());
    }
    keys.push_back("dbname");
    values.push_back(dsn.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);
    ConnPtr conn(PQconnectdbParams(keys.data(), values.data(), 1));
    if (!conn) return fail(Errc::unavailable, "postgresql: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::string m = PQerrorMessage(conn.get());
        while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
        return fail(Errc::unavailable, "postgresql: cannot connect: " + m);
    }
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    return std::unique_ptr<StoreTransfer>(new PostgresTransfer(std::move(conn)));
}

}  // namespace mm::alias::postgres
