// Metrics in the Prometheus text exposition format (version 0.0.4): counters,
// gauges, histograms and one-label counter families, registered once and
// rendered on demand.
//
// The instruments are cheap on the hot path: a counter or gauge is one
// relaxed atomic add, a histogram a bucket search over a handful of bounds
// and three atomic adds.  A labelled family takes a mutex around a small map;
// it holds at most `max_labels` values, and a value past that is counted
// under "other", so a caller that labels by something unbounded cannot grow
// it without limit.  What another module already counts is exported by a
// function read at render time (counter_fn, gauge_fn), so that module needs
// no knowledge of metrics.
//
// Registration is not thread-safe and happens before the instruments are
// used; using and rendering are.  Names are checked at registration (a bad
// name is a programming error: std::invalid_argument).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mm::metrics {

class Counter {
public:
    void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

class Gauge {
public:
    void set(double v) { v_.store(v, std::memory_order_relaxed); }
    double value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> v_{0};
};

class Histogram {
public:
    // `bounds`: the upper bounds of the buckets, ascending; +Inf is implied.
    explicit Histogram(std::vector<double> bounds);

    void observe(double v);

    struct Snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;

private:
    const std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative; last is +Inf
    std::atomic<double> sum_{0};
};

// Counters by the value of one label.
class LabelledCounter {
public:
    explicit LabelledCounter(std::size_t max_labels) : max_labels_(max_labels) {}

    void inc(std::string_view label, std::uint64_t n = 1);
    std::uint64_t value(std::string_view label) const;
    // Every label value seen (or declared with inc(label, 0)), sorted.
    std::vector<std::pair<std::string, std::uint64_t>> values() const;

    static constexpr std::string_view kOther = "other";

private:
    const std::size_t max_labels_;
    mutable std::mutex mu_;
    std::map<std::string, std::uint64_t, std::less<>> counts_;
};

class Registry {
public:
    using ValueFn = std::function<double()>;
    using LabelledFn = std::function<std::vector<std::pair<std::string, double>>()>;

    Counter& counter(std::string name, std::string help);
    Gauge& gauge(std::string name, std::string help);
    Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);
    LabelledCounter& labelled_counter(std::string name, std::string help, std::string label,
                                      std::size_t max_labels = 1000);
    void counter_fn(std::string name, std::string help, ValueFn fn);
    void gauge_fn(std::string name, std::string help, ValueFn fn);
    // A counter family whose (label value, count) pairs `fn` reads.
    void labelled_counter_fn(std::string name, std::string help, std::string label, LabelledFn fn);

    // Every metric in the order registered, each with its HELP and TYPE
    // lines, label values in sorted order.
    std::string render() const;

private:
    struct Family {
        std::string name, help, type;
        std::function<void(const Family&, std::string&)> write;
    };
    Family& add(std::string name, std::string help, std::string type);

    std::vector<Family> families_;
    // Stable addresses for the instruments handed out.
    std::deque<Counter> counters_;
    std::deque<Gauge> gauges_;
    std::deque<Histogram> histograms_;
    std::deque<LabelledCounter> labelled_;
};

// The text format's escapes: in HELP text backslash and newline, in a label
// value also the double quote.
std::string escape_help(std::string_view text);
std::string escape_label_value(std::string_view value);
// A sample value as the text format writes it: integers without a fraction,
// others in the shortest form that reads back the same, +Inf, -Inf, NaN.
std::string format_value(double v);

}  // namespace mm::metrics
