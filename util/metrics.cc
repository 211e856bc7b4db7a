#include "util/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace mm::metrics {
namespace {

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names without the colon.
bool valid_name(std::string_view name, bool colon_ok) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

void check_name(const std::string& name) {
    if (!valid_name(name, true)) throw std::invalid_argument("invalid metric name '" + name + "'");
}

void check_label(const std::string& label) {
    // Names starting with __ are reserved for Prometheus itself.
    if (!valid_name(label, false) || label.starts_with("__") || label == "le")
        throw std::invalid_argument("invalid label name '" + label + "'");
}

void sample(std::string& out, const std::string& name, std::string_view labels, double v) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    out += format_value(v);
    out += '\n';
}

// The text format's one escaping rule: backslash and newline always, the
// double quote only where the text sits between quotes (label values).
std::string escape(std::string_view text, bool quote) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '"' && quote)
            out += "\\\"";
        else if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string label_pair(const std::string& label, std::string_view value) {
    return label + "=\"" + escape_label_value(value) + "\"";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
        throw std::invalid_argument("histogram bounds must be strictly ascending");
}

void Histogram::observe(double v) {
    // The first bucket whose upper bound is >= v: buckets are "le".
    const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                            bounds_.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.bounds = bounds_;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

void LabelledCounter::inc(std::string_view label, std::uint64_t n) {
    std::lock_guard lock(mu_);
    auto it = counts_.find(label);
    if (it == counts_.end()) {
        if (counts_.size() >= max_labels_) label = kOther;
        it = counts_.try_emplace(std::string(label), 0).first;
    }
    it->second += n;
}

std::uint64_t LabelledCounter::value(std::string_view label) const {
    std::lock_guard lock(mu_);
    auto it = counts_.find(label);
    return it == counts_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, std::uint64_t>> LabelledCounter::values() const {
    std::lock_guard lock(mu_);
    return {counts_.begin(), counts_.end()};
}

Registry::Family& Registry::add(std::string name, std::string help, std::string type) {
    check_name(name);
    for (const Family& f : families_)
        if (f.name == name) throw std::invalid_argument("metric '" + name + "' registered twice");
    families_.push_back({std::move(name), std::move(help), std::move(type), nullptr});
    return families_.back();
}

Counter& Registry::counter(std::string name, std::string help) {
    Counter& c = counters_.emplace_back();
    add(std::move(name), std::move(help), "counter").write = [&c](const Family& f,
                                                                  std::string& out) {
        sample(out, f.name, "", static_cast<double>(c.value()));
    };
    return c;
}

Gauge& Registry::gauge(std::string name, std::string help) {
    Gauge& g = gauges_.emplace_back();
    add(std::move(name), std::move(help), "gauge").write = [&g](const Family& f, std::string& out) {
        sample(out, f.name, "", g.value());
    };
    return g;
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
    Histogram& h = histograms_.emplace_back(std::move(bounds));
    add(std::move(name), std::move(help), "histogram").write = [&h](const Family& f,
                                                                    std::string& out) {
        const Histogram::Snapshot s = h.snapshot();
        for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
            const double le = i < s.bounds.size() ? s.bounds[i] : INFINITY;
            sample(out, f.name + "_bucket", "le=\"" + format_value(le) + "\"",
                   static_cast<double>(s.cumulative[i]));
        }
        sample(out, f.name + "_sum", "", s.sum);
        sample(out, f.name + "_count", "", static_cast<double>(s.count));
    };
    return h;
}

LabelledCounter& Registry::labelled_counter(std::string name, std::string help, std::string label,
                                            std::size_t max_labels) {
    check_label(label);
    LabelledCounter& c = labelled_.emplace_back(max_labels);
    add(std::move(name), std::move(help), "counter").write = [&c, label](const Family& f,
                                                                         std::string& out) {
        for (const auto& [value, count] : c.values())
            sample(out, f.name, label_pair(label, value), static_cast<double>(count));
    };
    return c;
}

void Registry::counter_fn(std::string name, std::string help, ValueFn fn) {
    add(std::move(name), std::move(help), "counter").write =
        [fn = std::move(fn)](const Family& f, std::string& out) { sample(out, f.name, "", fn()); };
}

void Registry::gauge_fn(std::string name, std::string help, ValueFn fn) {
    add(std::move(name), std::move(help), "gauge").write =
        [fn = std::move(fn)](const Family& f, std::string& out) { sample(out, f.name, "", fn()); };
}

void Registry::labelled_counter_fn(std::string name, std::string help, std::string label,
                                   LabelledFn fn) {
    check_label(label);
    add(std::move(name), std::move(help), "counter").write =
        [fn = std::move(fn), label](const Family& f, std::string& out) {
            auto values = fn();
            std::sort(values.begin(), values.end());
            for (const auto& [value, count] : values)
                sample(out, f.name, label_pair(label, value), count);
        };
}

std::string Registry::render() const {
    std::string out;
    for (const Family& f : families_) {
        out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
        out += "# TYPE " + f.name + " " + f.type + "\n";
        f.write(f, out);
    }
    return out;
}

std::string escape_help(std::string_view text) {
    return escape(text, false);
}

std::string escape_label_value(std::string_view value) {
    return escape(value, true);
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[128];
    char* const last = buf + sizeof buf;
    const double a = std::abs(v);
    std::to_chars_result r;
    // Counts up to 2^53 are exact in a double and print as integers; other
    // values in plain decimals (bucket bounds read as written: 0.0005, not
    // 5e-04) unless too small or large for that.
    if (a < 9007199254740992.0 && v == std::trunc(v))
        r = std::to_chars(buf, last, static_cast<long long>(v));
    else if (a >= 1e-6 && a < 1e21)
        r = std::to_chars(buf, last, v, std::chars_format::fixed);
    else
        r = std::to_chars(buf, last, v);
    return r.ec == std::errc() ? std::string(buf, r.ptr) : "NaN";
}

}  // namespace mm::metrics
