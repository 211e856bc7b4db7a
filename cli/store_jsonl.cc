// The JSON Lines of export and import (see store_jsonl.h).
#include "cli/store_jsonl.h"

#include <algorithm>
#include <istream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

namespace mm::milter {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

ordered_json value_json(const alias::Value& v) {
    if (const auto* n = std::get_if<std::int64_t>(&v)) return *n;
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    return nullptr;
}

class JsonlSink final : public alias::RowSink {
public:
    explicit JsonlSink(std::ostream& out) : out_(out) {}

    alias::TableCounts written;

    Result<void> begin(int schema_version, const alias::TableCounts& counts) override {
        ordered_json header = {{"format", kStoreFormat},
                               {"version", kStoreFormatVersion},
                               {"schema_version", schema_version}};
        ordered_json c = ordered_json::object();
        for (const auto& t : alias::transfer_tables()) {
            auto it = counts.find(t.name);
            c[std::string(t.name)] = it == counts.end() ? 0 : it->second;
            written[std::string(t.name)] = 0;
        }
        header["counts"] = std::move(c);
        return line(header, "the header");
    }

    Result<void> row(const alias::Row& row) override {
        ordered_json values = ordered_json::object();
        for (std::size_t i = 0; i < row.values.size(); ++i)
            values[std::string(row.table->columns[i].name)] = value_json(row.values[i]);
        auto& n = written[std::string(row.table->name)];
        ++n;
        return line({{"table", row.table->name}, {"row", std::move(values)}},
                    std::string(row.table->name) + " row " + std::to_string(n));
    }

private:
    Result<void> line(const ordered_json& j, const std::string& what) {
        try {
            out_ << j.dump() << '\n';
        } catch (const json::exception& e) {
            return fail(Errc::internal, what + ": " + e.what());
        }
        if (!out_) return fail(Errc::unavailable, "cannot write the export");
        return {};
    }
    std::ostream& out_;
};

// An integer JSON value as int64, if it is one.
std::optional<std::int64_t> as_int64(const json& v) {
    if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
    if (v.is_number_unsigned() &&
        v.get<std::uint64_t>() <=
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(v.get<std::uint64_t>());
    return std::nullopt;
}

class JsonlSource final : public alias::RowSource {
public:
    JsonlSource(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {}

    // Line 1; invalid unless it is a header of this format.
    Result<void> read_header() {
        auto j = read_line();
        if (!j) return j.error();
        if (!*j) {
            line_ = 1;
            return bad("empty file: no header");
        }
        const json& h = **j;
        if (!h.is_object() || h.value("format", json()) != kStoreFormat)
            return bad(std::string("not a header: expected {\"format\": \"") + kStoreFormat +
                       "\", ...}");
        if (h.value("version", json()) != kStoreFormatVersion)
            return bad("format version " + h.value("version", json()).dump() + ", expected " +
                       std::to_string(kStoreFormatVersion));
        auto v = as_int64(h.value("schema_version", json()));
        if (!v) return bad("schema_version: expected an integer");
        schema_version = static_cast<int>(*v);
        const json& counts = h.value("counts", json());
        if (!counts.is_object()) return bad("counts: expected an object");
        for (const auto& [table, n] : counts.items()) {
            if (alias::find_table(table) == nullptr)
                return bad("counts: unknown table '" + table + "'");
            auto count = as_int64(n);
            if (!count || *count < 0) return bad("counts." + table + ": expected a count");
            header_counts[table] = *count;
        }
        for (const auto& t : alias::transfer_tables())
            if (!header_counts.contains(t.name))
                return bad("counts: no count for table '" + std::string(t.name) + "'");
        return {};
    }

    Result<std::optional<alias::Row>> next() override {
        auto j = read_line();
        if (!j) return j.error();
        if (!*j) {
            at_end_ = true;
            if (auto r = alias::check_counts(header_counts, read_counts_, "end of file: rows"); !r)
                return bad(r.error().message + " (the header's counts)");
            return std::optional<alias::Row>();
        }
        auto row = parse_row(**j);
        if (!row) return row.error();
        ++read_counts_[std::string(row->table->name)];
        return std::optional<alias::Row>(std::move(row).value());
    }

    // Where a failure that is not the source's own happened.
    std::string location() const {
        return rows_ > 0 && !at_end_ ? name_ + ":" + std::to_string(line_) : name_;
    }
    bool failed() const { return failed_; }

    int schema_version = 0;
    alias::TableCounts header_counts;

private:
    Failure bad(const std::string& what) {
        failed_ = true;
        return fail(Errc::invalid, name_ + ":" + std::to_string(line_) + ": " + what);
    }

    // The next line as JSON; nullopt at the end of the input.
    Result<std::optional<json>> read_line() {
        std::string text;
        if (!std::getline(in_, text)) {
            if (in_.bad()) {
                failed_ = true;
                return fail(Errc::unavailable,
                            name_ + ": read error after line " + std::to_string(line_));
            }
            return std::optional<json>();
        }
        ++line_;
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.empty()) return bad("empty line");
        try {
            return std::optional<json>(json::parse(text));
        } catch (const json::exception& e) {
            return bad(std::string("not JSON: ") + e.what());
        }
    }

    Result<alias::Row> parse_row(const json& j) {
        if (!j.is_object() || j.size() != 2 || !j.contains("table") || !j.contains("row"))
            return bad("expected {\"table\": ..., \"row\": {...}}");
        if (!j["table"].is_string()) return bad("table: expected a string");
        const std::string name = j["table"].get<std::string>();
        const alias::Table* table = alias::find_table(name);
        if (table == nullptr) return bad("unknown table '" + name + "'");
        const json& values = j["row"];
        if (!values.is_object()) return bad(name + ": row: expected an object");
        alias::Row row{table, {}};
        for (const auto& c : table->columns) {
            const std::string col(c.name);
            auto it = values.find(col);
            if (it == values.end()) return bad(name + ": no column '" + col + "'");
            if (it->is_null() && c.nullable) {
                row.values.emplace_back(std::monostate{});
            } else if (c.type == alias::ColumnType::integer) {
                auto n = as_int64(*it);
                if (!n)
                    return bad(name + "." + col + ": expected an integer" +
                               (c.nullable ? " or null" : ""));
                row.values.emplace_back(*n);
            } else {
                if (!it->is_string())
                    return bad(name + "." + col + ": expected a string" +
                               (c.nullable ? " or null" : ""));
                row.values.emplace_back(it->get<std::string>());
            }
        }
        if (values.size() != table->columns.size()) {
            for (const auto& [key, unused] : values.items())
                if (std::none_of(table->columns.begin(), table->columns.end(),
                                 [&](const alias::Column& c) { return c.name == key; }))
                    return bad(name + ": unknown column '" + key + "'");
        }
        ++rows_;
        return row;
    }

    std::istream& in_;
    const std::string name_;
    long line_ = 0;
    long rows_ = 0;
    bool at_end_ = false;
    bool failed_ = false;
    alias::TableCounts read_counts_;
};

}  // namespace

Result<alias::TableCounts> export_jsonl(alias::StoreTransfer& store, std::ostream& out) {
    JsonlSink sink(out);
    if (auto r = store.export_rows(sink); !r) return r.error();
    out.flush();
    if (!out) return fail(Errc::unavailable, "cannot write the export");
    return sink.written;
}

Result<alias::TableCounts> import_jsonl(alias::StoreTransfer& store, std::istream& in,
                                        const std::string& name) {
    JsonlSource source(in, name);
    if (auto r = source.read_header(); !r) return r.error();
    if (source.schema_version != alias::kTransferSchemaVersion)
        return fail(Errc::invalid, name + ":1: schema version " +
                                       std::to_string(source.schema_version) +
                                       ", this program imports version " +
                                       std::to_string(alias::kTransferSchemaVersion));
    auto version = store.schema_version();
    if (!version) return version.error();
    if (*version != source.schema_version)
        return fail(Errc::invalid, name + ":1: schema version " +
                                       std::to_string(source.schema_version) + ", the store's is " +
                                       std::to_string(*version));
    if (auto r = store.import_rows(source, &source.header_counts); !r) {
        if (source.failed()) return r.error();
        return fail(r.error().code, source.location() + ": " + r.error().message);
    }
    auto counts = store.count_rows();
    if (!counts) return counts.error();
    if (auto r = alias::check_counts(source.header_counts, *counts,
                                     name + ": rows in the store after the import");
        !r)
        return fail(Errc::internal, r.error().message);
    return counts;
}

}  // namespace mm::milter
