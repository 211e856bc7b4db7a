// The report as one self-contained HTML page: inline SVG charts drawn here,
// the tables of report_tables() made sortable by a small inline script, no
// request to anywhere (a Content-Security-Policy allows only this page's own
// style and its one script, by hash).
//
// SECURITY: rule details, domains, attachment types and party ids come from
// the audit log, and some of them from mail; every one goes through
// escape() before it reaches the page, text and attributes alike.
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/cli_report.h"
#include "policy/rules/link_text.h"

namespace mm::milter::report {
namespace {

using policy::Decision;

constexpr const char* kPalette[] = {"#1b6ca8", "#e07b39", "#3a9d5d", "#c23b3b",
                                    "#7d5ba6", "#8c6d31", "#d4569e", "#5f6b73"};

constexpr const char* kSortScript = R"JS(
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('thead th').forEach(function (th, col) {
    var button = th.querySelector('button');
    button.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(function (o) { o.setAttribute('aria-sort', 'none'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var numeric = th.classList.contains('num');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var text = row.cells[col].textContent;
        if (!numeric) return text;
        var n = parseFloat(text);
        return isNaN(n) ? -Infinity : n;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = numeric ? (x < y ? -1 : x > y ? 1 : 0) : x.localeCompare(y);
        return ascending ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
)JS";

constexpr const char* kStyle = R"CSS(
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 70em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; } figcaption { font-weight: bold; margin-bottom: .3em; }
svg text { font-size: 11px; fill: #333; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
th.num, td.num { text-align: right; }
th button { font: inherit; font-weight: bold; border: 0; background: none; cursor: pointer; padding: 0; }
th[aria-sort=ascending] button::after { content: " \25B2"; }
th[aria-sort=descending] button::after { content: " \25BC"; }
.note { color: #555; margin: .2em 0; }
)CSS";

// The page quotes every attribute with '"', which html_escape escapes.
std::string escape(std::string_view s) {
    return policy::link::html_escape(s);
}

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string sha256_base64(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
    return std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n));
}

// The top of a count axis: four steps of 1, 2 or 5 times a power of ten
// (whole numbers, so every tick is a count), at least `v`.
double axis_max(double v) {
    const double step = v / 4;
    if (step <= 1) return 4;
    const double p = std::pow(10.0, std::floor(std::log10(step)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= step) return 4 * m * p;
    return 40 * p;
}

std::string count(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

struct Series {
    std::string name;
    std::vector<double> values;  // one per category
};

// The largest sum of the series at one of the n categories.
double largest_stack(const std::vector<Series>& series, std::size_t n) {
    double max = 0;
    for (std::size_t c = 0; c < n; ++c) {
        double sum = 0;
        for (const Series& s : series) sum += s.values[c];
        max = std::max(max, sum);
    }
    return max;
}

// The frame every chart shares: the <svg> with its title and description
// (read by screen readers), horizontal grid lines and their labels.
struct Frame {
    double width = 720, height = 280, left = 48, right = 28, top = 12, bottom = 64;
    double plot_w() const { return width - left - right; }
    double plot_h() const { return height - top - bottom; }
};

std::string svg_open(const std::string& id, const std::string& title, const std::string& desc,
                     const Frame& f) {
    return "<svg id=\"" + id + "\" class=\"chart\" role=\"img\" width=\"" + fmt(f.width) +
           "\" height=\"" + fmt(f.height) + "\" viewBox=\"0 0 " + fmt(f.width) + " " +
           fmt(f.height) + "\" aria-labelledby=\"" + id + "-title " + id + "-desc\"><title id=\"" +
           id + "-title\">" + escape(title) + "</title><desc id=\"" + id + "-desc\">" +
           escape(desc) + "</desc>";
}

std::string grid(const Frame& f, double max) {
    std::string out;
    for (int i = 0; i <= 4; ++i) {
        const double y = f.top + f.plot_h() * (1 - i / 4.0);
        out += "<line x1=\"" + fmt(f.left) + "\" x2=\"" + fmt(f.width - f.right) + "\" y1=\"" +
               fmt(y) + "\" y2=\"" + fmt(y) + "\" stroke=\"#ddd\"/>";
        out += "<text x=\"" + fmt(f.left - 6) + "\" y=\"" + fmt(y + 4) + "\" text-anchor=\"end\">" +
               count(max * i / 4.0) + "</text>";
    }
    return out;
}

std::string legend(const std::vector<Series>& series, const Frame& f) {
    std::string out;
    double x = f.left;
    const double y = f.height - 14;
    for (std::size_t i = 0; i < series.size(); ++i) {
        out += "<rect x=\"" + fmt(x) + "\" y=\"" + fmt(y - 9) +
               "\" width=\"10\" height=\"10\" fill=\"" + kPalette[i % std::size(kPalette)] +
               "\"/><text x=\"" + fmt(x + 14) + "\" y=\"" + fmt(y) + "\">" +
               escape(series[i].name) + "</text>";
        x += 24 + 7 * static_cast<double>(std::min<std::size_t>(series[i].name.size(), 40));
    }
    return out;
}

// Columns per category, the series stacked.
std::string stacked_columns(const std::string& id, const std::string& title,
                            const std::vector<std::string>& categories,
                            const std::vector<Series>& series) {
    Frame f;
    const double max = axis_max(largest_stack(series, categories.size()));
    std::string out = svg_open(id, title, "stacked columns, one per day", f) + grid(f, max);
    const double band =
        f.plot_w() / static_cast<double>(std::max<std::size_t>(1, categories.size()));
    for (std::size_t c = 0; c < categories.size(); ++c) {
        double y = f.top + f.plot_h();
        const double x = f.left + band * static_cast<double>(c) + band * 0.15;
        for (std::size_t s = 0; s < series.size(); ++s) {
            const double h = f.plot_h() * series[s].values[c] / max;
            if (h <= 0) continue;
            y -= h;
            out += "<rect class=\"bar\" x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" +
                   fmt(band * 0.7) + "\" height=\"" + fmt(h) + "\" fill=\"" +
                   kPalette[s % std::size(kPalette)] + "\"><title>" + escape(categories[c]) + " " +
                   escape(series[s].name) + ": " + count(series[s].values[c]) + "</title></rect>";
        }
        if (categories.size() <= 16 || c % (categories.size() / 16 + 1) == 0)
            out += "<text x=\"" + fmt(x + band * 0.35) + "\" y=\"" + fmt(f.top + f.plot_h() + 14) +
                   "\" text-anchor=\"middle\">" + escape(categories[c].substr(5)) + "</text>";
    }
    return out + legend(series, f) + "</svg>";
}

// One line per series over the categories, a dot at each point.
std::string lines(const std::string& id, const std::string& title,
                  const std::vector<std::string>& categories, const std::vector<Series>& series) {
    Frame f;
    double max = 0;
    for (const Series& s : series)
        for (double v : s.values) max = std::max(max, v);
    max = axis_max(max);
    std::string out = svg_open(id, title, "one line per rule, refusals per day", f) + grid(f, max);
    const double step =
        categories.size() > 1 ? f.plot_w() / static_cast<double>(categories.size() - 1) : 0;
    auto at = [&](std::size_t c, double v) {
        const double x =
            f.left + (categories.size() > 1 ? step * static_cast<double>(c) : f.plot_w() / 2);
        return std::make_pair(x, f.top + f.plot_h() * (1 - v / max));
    };
    for (std::size_t s = 0; s < series.size(); ++s) {
        const char* color = kPalette[s % std::size(kPalette)];
        std::string points;
        for (std::size_t c = 0; c < categories.size(); ++c) {
            auto [x, y] = at(c, series[s].values[c]);
            points += fmt(x) + "," + fmt(y) + " ";
        }
        out += "<polyline class=\"series\" fill=\"none\" stroke-width=\"2\" stroke=\"" +
               std::string(color) + "\" points=\"" + points + "\"/>";
        for (std::size_t c = 0; c < categories.size(); ++c) {
            auto [x, y] = at(c, series[s].values[c]);
            out += "<circle class=\"point\" r=\"3\" cx=\"" + fmt(x) + "\" cy=\"" + fmt(y) +
                   "\" fill=\"" + color + "\"><title>" + escape(categories[c]) + " " +
                   escape(series[s].name) + ": " + count(series[s].values[c]) + "</title></circle>";
        }
    }
    for (std::size_t c = 0; c < categories.size(); ++c)
        if (categories.size() <= 16 || c % (categories.size() / 16 + 1) == 0) {
            auto [x, y] = at(c, 0);
            out += "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y + 14) + "\" text-anchor=\"middle\">" +
                   escape(categories[c].substr(5)) + "</text>";
        }
    return out + legend(series, f) + "</svg>";
}

// Horizontal bars, one per label, the series stacked.
std::string bars(const std::string& id, const std::string& title,
                 const std::vector<std::string>& labels, const std::vector<Series>& series) {
    Frame f;
    f.left = 200;
    f.bottom = 40;
    f.height = f.top + f.bottom + 22 * static_cast<double>(std::max<std::size_t>(1, labels.size()));
    const double max = axis_max(largest_stack(series, labels.size()));
    std::string out = svg_open(id, title, "horizontal bars, largest first", f);
    for (int i = 0; i <= 4; ++i) {
        const double x = f.left + f.plot_w() * i / 4.0;
        out += "<line x1=\"" + fmt(x) + "\" x2=\"" + fmt(x) + "\" y1=\"" + fmt(f.top) + "\" y2=\"" +
               fmt(f.top + f.plot_h()) + "\" stroke=\"#ddd\"/><text x=\"" + fmt(x) + "\" y=\"" +
               fmt(f.top + f.plot_h() + 12) + "\" text-anchor=\"middle\">" + count(max * i / 4.0) +
               "</text>";
    }
    for (std::size_t l = 0; l < labels.size(); ++l) {
        const double y = f.top + 22 * static_cast<double>(l) + 3;
        std::string label = labels[l].size() > 30 ? labels[l].substr(0, 29) + "~" : labels[l];
        out += "<text x=\"" + fmt(f.left - 6) + "\" y=\"" + fmt(y + 12) +
               "\" text-anchor=\"end\">" + escape(label) + "</text>";
        double x = f.left;
        for (std::size_t s = 0; s < series.size(); ++s) {
            const double w = f.plot_w() * series[s].values[l] / max;
            if (w <= 0) continue;
            out += "<rect class=\"bar\" x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\" width=\"" +
                   fmt(w) + "\" height=\"16\" fill=\"" + kPalette[s % std::size(kPalette)] +
                   "\"><title>" + escape(labels[l]) + " " + escape(series[s].name) + ": " +
                   count(series[s].values[l]) + "</title></rect>";
            x += w;
        }
    }
    return out + legend(series, f) + "</svg>";
}

std::string decisions_chart(const ReportData& data) {
    std::vector<std::string> days;
    std::vector<Series> series;
    for (Decision d : kDecisions) series.push_back({policy::to_string(d), {}});
    for (const auto& [day, c] : data.per_day) {
        days.push_back(day);
        for (std::size_t i = 0; i < kDecisions.size(); ++i)
            series[i].values.push_back(static_cast<double>(c.of(kDecisions[i])));
    }
    return stacked_columns("chart-decisions", "Decisions per day", days, series);
}

std::string refusals_chart(const ReportData& data) {
    std::vector<std::pair<std::string, RuleCounts>> ranked = rules_by_weight(data);
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second.refused > b.second.refused;
    });
    std::vector<Series> series;
    for (const auto& [id, c] : ranked)
        if (c.refused > 0 && series.size() < 6) series.push_back({id, {}});
    std::vector<std::string> days;
    for (const auto& [day, c] : data.per_day) {
        days.push_back(day);
        auto found = data.refusals_per_day.find(day);
        for (Series& s : series) {
            double v = 0;
            if (found != data.refusals_per_day.end())
                if (auto it = found->second.find(s.name); it != found->second.end())
                    v = static_cast<double>(it->second);
            s.values.push_back(v);
        }
    }
    return lines("chart-refusals", "Refusals over time by rule (six most refusing rules)", days,
                 series);
}

std::string rules_chart(const ReportData& data) {
    std::vector<std::string> labels;
    std::vector<Series> series{
        {"refused", {}}, {"stripped", {}}, {"quarantined", {}}, {"tempfailed", {}}};
    for (const auto& [id, c] : rules_by_weight(data)) {
        if (labels.size() == 10 || c.refused + c.stripped + c.quarantined + c.tempfailed == 0)
            break;
        labels.push_back(id);
        series[0].values.push_back(static_cast<double>(c.refused));
        series[1].values.push_back(static_cast<double>(c.stripped));
        series[2].values.push_back(static_cast<double>(c.quarantined));
        series[3].values.push_back(static_cast<double>(c.tempfailed));
    }
    return bars("chart-rules", "Top rules", labels, series);
}

std::string sellers_chart(const ReportData& data) {
    std::vector<std::string> labels;
    std::vector<Series> series{{"refused", {}}};
    for (const auto& [id, s] : sellers_by_refusals(data)) {
        if (labels.size() == 10) break;
        labels.push_back(id);
        series[0].values.push_back(static_cast<double>(s->refused));
    }
    return bars("chart-sellers", "Top sellers refused", labels, series);
}

std::string table_html(const Table& t) {
    std::string out = "<section id=\"" + escape(t.id) + "\"><h2>" + escape(t.title) + "</h2>";
    if (!t.note.empty()) out += "<p class=\"note\">" + escape(t.note) + "</p>";
    if (t.rows.empty()) return out + "<p>" + escape(t.empty) + "</p></section>";
    out += "<table class=\"sortable\"><caption>" + escape(t.title) +
           " (select a column heading to sort)</caption><thead><tr>";
    for (std::size_t c = 0; c < t.headers.size(); ++c)
        out += std::string("<th scope=\"col\" aria-sort=\"none\"") +
               (t.numeric[c] ? " class=\"num\"" : "") + "><button type=\"button\">" +
               escape(t.headers[c]) + "</button></th>";
    out += "</tr></thead><tbody>";
    for (const auto& row : t.rows) {
        out += "<tr>";
        for (std::size_t c = 0; c < row.size(); ++c)
            out += std::string(c == 0 ? "<th scope=\"row\"" : "<td") +
                   (t.numeric[c] ? " class=\"num\">" : ">") + escape(row[c]) +
                   (c == 0 ? "</th>" : "</td>");
        out += "</tr>";
    }
    return out + "</tbody></table></section>";
}

}  // namespace

std::string render_html(const ReportData& data, const ReportOptions& options) {
    std::ostringstream out;
    out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
           "style-src 'unsafe-inline'; script-src 'sha256-"
        << sha256_base64(kSortScript) << "'\">"
        << "<meta name=\"viewport\" content=\"width=device-width\">"
        << "<title>marketplace-milter audit report</title><style>" << kStyle
        << "</style></head><body><main><h1>marketplace-milter audit report</h1>";
    out << "<p>Period: " << escape(options.since.empty() ? "(start)" : options.since) << " to "
        << escape(options.until.empty() ? "(end)" : options.until);
    if (data.records > 0)
        out << " (records " << iso_ms(data.first_ms) << " to " << iso_ms(data.last_ms) << ")";
    out << ". Files: " << data.files.size() << "; lines: " << data.lines
        << "; records: " << data.records << "; outside the dates: " << data.outside_dates
        << "; bad lines: " << data.bad_lines << ".</p><p>Decisions:";
    for (Decision d : kDecisions) out << " " << policy::to_string(d) << " " << data.totals.of(d);
    out << ".</p>";
    if (!data.file_errors.empty() || !data.bad_examples.empty()) {
        out << "<section id=\"input-problems\"><h2>Input problems</h2><ul>";
        for (const std::string& e : data.file_errors) out << "<li>" << escape(e) << "</li>";
        for (const BadLine& b : data.bad_examples)
            out << "<li>bad line " << escape(b.where) << ": " << escape(b.why) << "</li>";
        out << "</ul></section>";
    }
    out << "<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">";
    const std::pair<const char*, std::string> charts[] = {
        {"Decisions per day", decisions_chart(data)},
        {"Refusals over time by rule", refusals_chart(data)},
        {"Top rules", rules_chart(data)},
        {"Top sellers refused", sellers_chart(data)}};
    for (const auto& [caption, svg] : charts)
        out << "<figure><figcaption>" << caption << "</figcaption>" << svg << "</figure>";
    out << "</div></section>";
    for (const Table& t : report_tables(data, options)) out << table_html(t);
    out << "</main><script>" << kSortScript << "</script></body></html>\n";
    return out.str();
}

}  // namespace mm::milter::report
