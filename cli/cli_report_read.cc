// Finding the audit log's rotated files and streaming their lines
// (cli_report.h).  zlib's gz* reader reads gzip and plain files alike, so a
// file is judged by its bytes, not by its name.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <tuple>

#include "cli/cli_report.h"

namespace mm::milter::report {
namespace {

struct GzClose {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Where a name stands among one log's rotations, oldest first:
// "base-20260101[.gz]" (logrotate's dateext) by date, then "base.N[.gz]" by
// N downwards, then "base" itself.
struct Rotation {
    std::string base;
    int kind = 2;  // 0 dated, 1 numbered, 2 the live log
    long long order = 0;
};

Rotation rotation_of(const std::string& path) {
    std::string name = path;
    if (name.ends_with(".gz")) name.resize(name.size() - 3);
    const std::size_t slash = name.rfind('/');
    const std::size_t file_start = slash == std::string::npos ? 0 : slash + 1;
    const std::size_t dot = name.rfind('.');
    if (dot != std::string::npos && dot > file_start && all_digits(name.substr(dot + 1)) &&
        name.size() - dot - 1 <= 6)
        return {name.substr(0, dot), 1, -std::stoll(name.substr(dot + 1))};
    const std::size_t dash = name.rfind('-');
    if (dash != std::string::npos && dash > file_start && all_digits(name.substr(dash + 1)) &&
        name.size() - dash - 1 >= 8 && name.size() - dash - 1 <= 14)
        return {name.substr(0, dash), 0, std::stoll(name.substr(dash + 1))};
    return {path, 2, 0};
}

bool older(const std::string& a, const std::string& b) {
    const Rotation ra = rotation_of(a), rb = rotation_of(b);
    return std::tie(ra.kind, ra.order) < std::tie(rb.kind, rb.order);
}

}  // namespace

void oldest_first(std::vector<std::string>& paths) {
    // Group each log's files where its first one stood.
    std::vector<std::string> grouped;
    std::vector<bool> taken(paths.size(), false);
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (taken[i]) continue;
        const std::string base = rotation_of(paths[i]).base;
        std::vector<std::string> group;
        for (std::size_t j = i; j < paths.size(); ++j)
            if (!taken[j] && rotation_of(paths[j]).base == base) {
                group.push_back(paths[j]);
                taken[j] = true;
            }
        std::stable_sort(group.begin(), group.end(), older);
        grouped.insert(grouped.end(), group.begin(), group.end());
    }
    paths = std::move(grouped);
}

std::vector<std::string> rotated_logs(const std::string& path) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    const fs::path live(path);
    const std::string name = live.filename().string();
    fs::path dir = live.parent_path();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir.empty() ? fs::path(".") : dir, ec)) {
        const std::string other = entry.path().filename().string();
        if (other == name || !other.starts_with(name) || !entry.is_regular_file(ec)) continue;
        const std::string candidate = (dir / other).string();
        const Rotation r = rotation_of(candidate);
        if (r.kind != 2 && r.base == (dir / name).string()) out.push_back(candidate);
    }
    if (fs::exists(live, ec)) out.push_back(path);
    oldest_first(out);
    return out;
}

Result<void> for_each_line(
    const std::string& path,
    const std::function<Result<void>(std::string_view, std::uint64_t)>& each) {
    GzFile file(gzopen(path.c_str(), "rb"));
    if (!file) {
        const int err = errno;
        return fail(Errc::unavailable,
                    path + ": " + (err != 0 ? std::strerror(err) : "cannot open"));
    }
    std::string line;
    std::uint64_t line_no = 0;
    bool over = false;  // the current line passed kMaxLineBytes: the rest is dropped
    std::vector<char> buf(1 << 16);
    for (;;) {
        const int n = gzread(file.get(), buf.data(), static_cast<unsigned>(buf.size()));
        if (n <= 0) {
            // A stream cut short shows at its end as Z_BUF_ERROR, not as a failed read.
            int code = Z_OK;
            const char* why = gzerror(file.get(), &code);
            if (n == 0 && code == Z_OK) break;
            if (!line.empty()) {
                if (auto r = each(line, ++line_no); !r) return r;
            }
            return fail(Errc::unavailable, path + ": after line " + std::to_string(line_no) + ": " +
                                               (why != nullptr ? why : "read error"));
        }
        std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
        while (!chunk.empty()) {
            const std::size_t nl = chunk.find('\n');
            const std::string_view part = chunk.substr(0, nl);
            if (!over) {
                const std::size_t room = kMaxLineBytes - line.size();
                line.append(part.substr(0, room));
                over = part.size() > room;
            }
            if (nl == std::string_view::npos) break;
            chunk.remove_prefix(nl + 1);
            if (auto r = each(line, ++line_no); !r) return r;
            line.clear();
            over = false;
        }
    }
    if (!line.empty()) return each(line, ++line_no);
    return {};
}

}  // namespace mm::milter::report
