#include "policy/mime/embedded_payloads.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "policy/html/html_text.h"
#include "policy/mime/base64_decode.h"
#include "policy/rules/link_text.h"

namespace mm::policy {
namespace {

struct Line {
    std::string_view text;  // without the line break
    std::size_t begin = 0;  // offset of the line in the whole text
    std::size_t next = 0;   // offset just after its line break
};

class Lines {
public:
    explicit Lines(std::string_view text) : text_(text) {}
    std::optional<Line> next() {
        if (pos_ >= text_.size()) return std::nullopt;
        const std::size_t nl = text_.find('\n', pos_);
        const std::size_t stop = nl == std::string_view::npos ? text_.size() : nl;
        Line l{text_.substr(pos_, stop - pos_), pos_, nl == std::string_view::npos ? stop : nl + 1};
        if (!l.text.empty() && l.text.back() == '\r') l.text.remove_suffix(1);
        pos_ = l.next;
        return l;
    }
    std::size_t position() const { return pos_; }
    void rewind(std::size_t pos) { pos_ = pos; }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

// "begin 644 name" (uuencode) or "begin-base64 644 name" (uuencode -m);
// clients accept any octal mode of one to four digits.
std::optional<EmbeddedPayload> uu_begin(std::string_view line) {
    std::string_view s = trim(line);
    EmbeddedPayload p;
    if (starts_with_nocase(s, "begin-base64 ")) {
        p.kind = EmbeddedPayload::Kind::base64_uuencode;
        s.remove_prefix(13);
    } else if (starts_with_nocase(s, "begin ")) {
        p.kind = EmbeddedPayload::Kind::uuencode;
        s.remove_prefix(6);
    } else {
        return std::nullopt;
    }
    s = trim(s);
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '7') ++digits;
    if (digits == 0 || digits > 4 || digits == s.size() || (s[digits] != ' ' && s[digits] != '\t'))
        return std::nullopt;
    p.filename = std::string(trim(s.substr(digits)));
    if (p.filename.empty()) return std::nullopt;
    return p;
}

bool is_uu_char(char c) {
    return c >= ' ' && c <= '`';
}

// A uuencoded data line: its length character says how many bytes it holds,
// and the line has the characters for them.
bool is_uu_data(std::string_view line) {
    if (line.empty() || !is_uu_char(line[0])) return false;
    const int n = (line[0] - ' ') & 63;
    if (n == 0) return line.size() <= 2;
    const std::size_t need = 1 + (static_cast<std::size_t>(n) + 2) / 3 * 4;
    if (line.size() < need) return false;
    return std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(need), is_uu_char);
}

void uu_decode_line(std::string_view line, EmbeddedPayload& p, std::size_t keep) {
    const int n = (line[0] - ' ') & 63;
    p.size += static_cast<std::uint64_t>(n);
    for (std::size_t i = 1, out = 0; i + 3 < line.size() && out < static_cast<std::size_t>(n);
         i += 4) {
        const unsigned c0 = (line[i] - ' ') & 63, c1 = (line[i + 1] - ' ') & 63,
                       c2 = (line[i + 2] - ' ') & 63, c3 = (line[i + 3] - ' ') & 63;
        const unsigned char bytes[3] = {static_cast<unsigned char>(c0 << 2 | c1 >> 4),
                                        static_cast<unsigned char>(c1 << 4 | c2 >> 2),
                                        static_cast<unsigned char>(c2 << 6 | c3)};
        for (unsigned char b : bytes)
            if (out++ < static_cast<std::size_t>(n) && p.head.size() < keep)
                p.head.push_back(static_cast<char>(b));
    }
}

int base64_value(char c) {
    return base64_rank(static_cast<unsigned char>(c));
}

bool is_base64_data(std::string_view line) {
    return !line.empty() && std::all_of(line.begin(), line.end(),
                                        [](char c) { return base64_value(c) >= 0 || c == '='; });
}

void base64_decode_line(std::string_view line, EmbeddedPayload& p, std::size_t keep, unsigned& bits,
                        int& nbits) {
    for (char c : line) {
        const int v = base64_value(c);
        if (v < 0) continue;
        bits = (bits << 6 | static_cast<unsigned>(v)) & 0xffffff;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            ++p.size;
            if (p.head.size() < keep) p.head.push_back(static_cast<char>((bits >> nbits) & 0xff));
        }
    }
}

// Reads a uuencode block whose begin line was just consumed.  Returns false
// (and rewinds) when the first line after it is not uuencoded data: prose
// that happens to start with "begin 100 ...".
bool read_uu_block(Lines& lines, EmbeddedPayload& p, std::size_t keep) {
    const std::size_t after_begin = lines.position();
    const bool b64 = p.kind == EmbeddedPayload::Kind::base64_uuencode;
    unsigned bits = 0;
    int nbits = 0;
    bool first = true;
    while (auto l = lines.next()) {
        p.end = l->next;
        const std::string_view t = b64 ? trim(l->text) : l->text;
        if (first) {
            if (b64 ? !is_base64_data(t) : !is_uu_data(t)) {
                lines.rewind(after_begin);
                return false;
            }
            first = false;
        }
        if (b64 ? t == "====" : (trim(t) == "end" || trim(t) == "END")) return true;
        if (b64) {
            base64_decode_line(t, p, keep, bits, nbits);
        } else if (is_uu_data(t)) {
            uu_decode_line(t, p, keep);
        }
    }
    return !first;
}

// "=ybegin line=128 size=1234 name=file.exe" ... "=yend".
bool read_yenc_block(std::string_view begin_line, Lines& lines, EmbeddedPayload& p,
                     std::size_t keep) {
    const std::size_t name = begin_line.find("name=");
    if (name == std::string_view::npos) return false;
    p.kind = EmbeddedPayload::Kind::yenc;
    p.filename = std::string(trim(begin_line.substr(name + 5)));
    while (auto l = lines.next()) {
        p.end = l->next;
        if (starts_with_nocase(l->text, "=yend")) return true;
        if (starts_with_nocase(l->text, "=ypart")) continue;
        for (std::size_t i = 0; i < l->text.size(); ++i) {
            unsigned char c = static_cast<unsigned char>(l->text[i]);
            if (c == '=' && i + 1 < l->text.size())
                c = static_cast<unsigned char>(l->text[++i] - 64);
            ++p.size;
            if (p.head.size() < keep) p.head.push_back(static_cast<char>(c - 42));
        }
    }
    return true;
}

// BinHex 4.0: the marker line, then data between two colons.
void read_binhex_block(Lines& lines, EmbeddedPayload& p) {
    p.kind = EmbeddedPayload::Kind::binhex;
    bool started = false;
    while (auto l = lines.next()) {
        p.end = l->next;
        const std::string_view t = trim(l->text);
        if (!started) {
            if (t.empty()) continue;
            if (t.front() != ':') return;
            started = true;
            if (t.size() > 1 && t.back() == ':') return;
            continue;
        }
        if (!t.empty() && t.back() == ':') return;
    }
}

}  // namespace

const char* to_string(EmbeddedPayload::Kind kind) {
    switch (kind) {
        case EmbeddedPayload::Kind::uuencode:
            return "uuencode";
        case EmbeddedPayload::Kind::base64_uuencode:
            return "uuencode (base64)";
        case EmbeddedPayload::Kind::yenc:
            return "yEnc";
        case EmbeddedPayload::Kind::binhex:
            return "BinHex";
        case EmbeddedPayload::Kind::overflow:
            return "more encoded files";
    }
    return "encoded file";
}

std::vector<EmbeddedPayload> find_embedded_payloads(std::string_view text, std::size_t keep) {
    std::vector<EmbeddedPayload> out;
    // The markers are ASCII: a text without any of them is answered at once.
    if (text.find("egin") == std::string_view::npos &&
        text.find("EGIN") == std::string_view::npos &&
        text.find("BinHex") == std::string_view::npos)
        return out;
    Lines lines(text);
    while (auto l = lines.next()) {
        std::optional<EmbeddedPayload> found;
        if (auto uu = uu_begin(l->text)) {
            uu->begin = l->begin;
            if (read_uu_block(lines, *uu, keep)) found = std::move(uu);
        } else if (starts_with_nocase(l->text, "=ybegin ")) {
            EmbeddedPayload y;
            y.begin = l->begin;
            if (read_yenc_block(l->text, lines, y, keep)) found = std::move(y);
        } else if (l->text.find("(This file must be converted with BinHex") !=
                   std::string_view::npos) {
            EmbeddedPayload b;
            b.begin = l->begin;
            read_binhex_block(lines, b);
            found = std::move(b);
        }
        if (!found) continue;
        if (out.size() == kMaxEmbeddedPayloads) {
            EmbeddedPayload rest;
            rest.kind = EmbeddedPayload::Kind::overflow;
            rest.begin = found->begin;
            rest.end = text.size();
            out.push_back(std::move(rest));
            break;
        }
        out.push_back(std::move(*found));
    }
    return out;
}

std::string apply_payload_cuts(std::string_view text, const std::vector<PayloadCut>& cuts) {
    std::string out;
    out.reserve(text.size());
    std::size_t copied = 0;
    for (const PayloadCut& c : cuts) {
        out.append(text.substr(copied, c.begin - copied));
        out += c.notice;
        copied = c.end;
    }
    out.append(text.substr(copied));
    return out;
}

std::string apply_payload_cuts_to_html(std::string_view html, const std::vector<PayloadCut>& cuts) {
    const MappedText rendering = html_to_mapped_text(html);
    std::vector<PayloadCut> source;
    for (const PayloadCut& c : cuts) {
        const std::vector<SourceRange> ranges = source_ranges(rendering, c.begin, c.end);
        for (std::size_t k = 0; k < ranges.size(); ++k) {
            // A text node may show the end of one block and the start of the next.
            const std::size_t b =
                source.empty() ? ranges[k].b : std::max(ranges[k].b, source.back().end);
            if (b >= ranges[k].e) continue;
            source.push_back({b, ranges[k].e, k == 0 ? html_escape(c.notice) : std::string()});
        }
    }
    return apply_payload_cuts(html, source);
}

}  // namespace mm::policy
