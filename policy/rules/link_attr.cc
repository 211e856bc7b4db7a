#include "policy/rules/link_attr.h"

#include <re2/re2.h>

#include <array>
#include <utility>
#include <vector>

#include "policy/html/html_tokenizer.h"
#include "util/strings.h"

namespace mm::policy::link {
namespace {

using html::is_html_space;

// The URL in <meta http-equiv=refresh content="5; url=...">, if any.
std::optional<std::string_view> refresh_url(std::string_view content) {
    std::string low = to_lower(content);
    std::size_t p = low.find("url");
    if (p == std::string::npos) return std::nullopt;
    p += 3;
    while (p < content.size() && is_html_space(content[p])) ++p;
    if (p >= content.size() || content[p] != '=') return std::nullopt;
    ++p;
    while (p < content.size() && is_html_space(content[p])) ++p;
    return unquote(content.substr(p));
}

// srcset: "a.png 1x, b.png 2x" -> the URLs.
std::vector<std::string_view> srcset_urls(std::string_view v) {
    std::vector<std::string_view> urls;
    std::size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (is_html_space(v[i]) || v[i] == ',')) ++i;
        std::size_t b = i;
        while (i < v.size() && !is_html_space(v[i])) ++i;
        std::string_view url = v.substr(b, i - b);
        while (!url.empty() && url.back() == ',') url.remove_suffix(1);
        if (!url.empty()) urls.push_back(url);
        while (i < v.size() && v[i] != ',') ++i;
    }
    return urls;
}

bool is_image_attr(std::string_view name) {
    return name == "src" || name == "srcset" || name == "lowsrc" || name == "dynsrc" ||
           name == "background" || name == "poster" || name == "data" || name == "style";
}

std::optional<Violation> check(const Context& cx, std::string_view url, Use use) {
    Judgement j = judge(cx, url, use);
    if (j.keep) return std::nullopt;
    return Violation{normalize_url(url), std::move(j)};
}

std::optional<Violation> judge_css(const Context& cx, std::string_view css, Use use) {
    for (const CssUrl& c : css_urls(css))
        if (auto r = check(cx, c.url, use)) return r;
    return std::nullopt;
}

}  // namespace

const RE2& css_url_re() {
    static const RE2 re(
        R"((?is)(url\(\s*("[^"]*"|'[^']*'|[^)]*?)\s*\)|@import\s*("[^"]*"|'[^']*')))");
    return re;
}

std::vector<CssUrl> css_urls(std::string_view css) {
    std::vector<CssUrl> out;
    const RE2& re = css_url_re();
    re2::StringPiece input(css.data(), css.size());
    std::array<re2::StringPiece, 4> g;
    std::size_t pos = 0;
    while (pos < css.size() &&
           re.Match(input, pos, css.size(), RE2::UNANCHORED, g.data(), g.size())) {
        std::size_t mb = static_cast<std::size_t>(g[0].data() - css.data());
        pos = mb + g[0].size();
        bool is_url = g[2].data() != nullptr;
        re2::StringPiece u = is_url ? g[2] : g[3];
        // `@import "x";` keeps "@import" and loses the string.
        std::size_t b = is_url ? mb : static_cast<std::size_t>(u.data() - css.data());
        std::size_t e = is_url ? pos : b + u.size();
        out.push_back({b, e, unquote(std::string_view(u.data(), u.size())), is_url});
    }
    return out;
}

std::string_view unquote(std::string_view v) {
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        return v.substr(1, v.size() - 2);
    if (!v.empty() && (v.front() == '"' || v.front() == '\'')) return v.substr(1);
    return v;
}

std::optional<Violation> judge_attr(const Context& cx, std::string_view name,
                                    std::string_view value) {
    Use use = is_image_attr(name) ? Use::image : Use::link;
    if (name == "srcset") {
        for (std::string_view url : srcset_urls(value))
            if (auto r = check(cx, url, use)) return r;
        return std::nullopt;
    }
    if (name == "content") {
        auto url = refresh_url(value);
        return url ? check(cx, *url, use) : std::nullopt;
    }
    if (name == "style") return judge_css(cx, value, use);
    return check(cx, value, use);
}

std::string decode_attr(std::string_view raw_value) {
    std::string out;
    html::decode_refs(unquote(raw_value), true, out);
    return out;
}

}  // namespace mm::policy::link
