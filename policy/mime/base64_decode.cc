#include "policy/mime/base64_decode.h"

#include <gmime/gmime.h>

#include <bit>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "policy/mime/gmime_ptr.h"

namespace mm::policy {
namespace {

// Set in every table entry of a byte that is not a digit: one test of the
// four lookups' union finds any of them.
constexpr std::uint32_t kNotDigit = 0x80000000u;

// One table per position in the group, each digit's six bits already in
// place: a group is the union of four lookups.
struct Tables {
    std::uint32_t at[4][256];
};

constexpr Tables make_tables() {
    Tables t{};
    for (int c = 0; c < 256; ++c)
        for (int k = 0; k < 4; ++k) {
            const int r = base64_rank(c);
            t.at[k][c] = r < 0 ? kNotDigit : static_cast<std::uint32_t>(r) << (18 - 6 * k);
        }
    return t;
}

constexpr Tables kTables = make_tables();

inline std::uint32_t group(const unsigned char* p) {
    return kTables.at[0][p[0]] | kTables.at[1][p[1]] | kTables.at[2][p[2]] | kTables.at[3][p[3]];
}

inline void put3(unsigned char* o, std::uint32_t v) {
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
}

// The six bytes of two groups in one eight-byte store (two bytes past them
// are overwritten by the next store or left as slack, see max_output).
inline void put6(unsigned char* o, std::uint32_t a, std::uint32_t b) {
    std::uint64_t v = (static_cast<std::uint64_t>(a) << 24 | b) << 16;
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    std::memcpy(o, &v, sizeof v);
}

inline bool is_skipped(unsigned char c) {
    return (kTables.at[3][c] & kNotDigit) != 0 && c != '=';
}

}  // namespace

// GMime's loop, one byte at a time, until the open group is complete, the
// data ended at an '=', or the input ran out.
std::size_t Base64Decoder::slow(const unsigned char*& in, const unsigned char* end,
                                unsigned char* out) {
    unsigned char* o = out;
    while (in < end) {
        const unsigned char c = *in++;
        if (c == '=') {
            // The '=' counts as a zero digit of the group it closes.
            const int n = n_ + 1;
            if (n > 2) {
                const std::uint32_t v = n < 4 ? saved_ << 12 : saved_ << 6;
                *o++ = static_cast<unsigned char>(v >> 16);
                if (n == 4) *o++ = static_cast<unsigned char>(v >> 8);
            }
            n_ = -1;
            break;
        }
        const int r = base64_rank(c);
        if (r < 0) continue;
        saved_ = saved_ << 6 | static_cast<std::uint32_t>(r);
        if (++n_ == 4) {
            put3(o, saved_);
            o += 3;
            n_ = 0;
            saved_ = 0;
            break;
        }
    }
    return static_cast<std::size_t>(o - out);
}

std::size_t Base64Decoder::step(const unsigned char* in, std::size_t len, unsigned char* out) {
    const unsigned char* end = in + len;
    unsigned char* o = out;
    while (in < end && n_ >= 0) {
        if (n_ == 0) {
            // Whole groups of digits, two at a time, as long as they last
            // (a line of 76 is 19 groups).
            while (end - in >= 8) {
                const std::uint32_t a = group(in);
                const std::uint32_t b = group(in + 4);
                if ((a | b) & kNotDigit) break;
                put6(o, a, b);
                o += 6;
                in += 8;
            }
            if (end - in >= 4) {
                const std::uint32_t a = group(in);
                if (!(a & kNotDigit)) {
                    put3(o, a);
                    o += 3;
                    in += 4;
                    continue;
                }
            }
            // Between groups, what is not a digit (a line break) is
            // skipped here, not a byte at a time through `slow`.
            if (in < end && is_skipped(*in)) {
                do ++in;
                while (in < end && is_skipped(*in));
                continue;
            }
        }
        o += slow(in, end, o);
    }
    return static_cast<std::size_t>(o - out);
}

namespace {

// Both decoders over `in` cut at `cut`: the same bytes and the same state.
bool same_as_gmime(std::string_view in, std::size_t cut) {
    GMimeEncoding gmime;
    g_mime_encoding_init_decode(&gmime, GMIME_CONTENT_ENCODING_BASE64);
    std::string want(g_mime_encoding_outlen(&gmime, in.size()) + 8, '\0');
    std::size_t w = g_mime_encoding_step(&gmime, in.data(), cut, want.data());
    w += g_mime_encoding_step(&gmime, in.data() + cut, in.size() - cut, want.data() + w);
    want.resize(w);

    Base64Decoder ours;
    std::string got(Base64Decoder::max_output(in.size()) * 2, '\0');
    auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
    auto* out = reinterpret_cast<unsigned char*>(got.data());
    std::size_t g = ours.step(bytes, cut, out);
    g += ours.step(bytes + cut, in.size() - cut, out + g);
    got.resize(g);
    return got == want && ours.state() == gmime.state;
}

}  // namespace

// The padding cases are where 3.2.7 and 3.2.13 differ (3.2.7 went on after
// an '=' and took bytes off per '=' at the end of each step); the random
// strings mix digits, padding, line breaks and junk.
bool base64_decodes_like_gmime() {
    static const bool same = [] {
        ensure_gmime();
        using namespace std::string_view_literals;
        for (std::string_view in :
             {"QUJD=QUJD"sv, "QUJDQUI=\r\nQUJD"sv, "QUJDQQ=="sv, "QUJDQ==="sv, "Q="sv, "QQ="sv,
              "QQQ="sv, "QQQQ="sv, "QUJDQ"sv, "QUJDQUJ"sv, "Q U*J\n@D\x80\x00QUJD"sv, "=QUJD"sv,
              "QUJDQUJDQUJD\r\nQUJDQUJD\r\nQUI=\r\n"sv, "/+9z/+9zAZaz09+/\xff\xfeQUJD"sv})
            for (std::size_t cut = 0; cut <= in.size(); ++cut)
                if (!same_as_gmime(in, cut)) return false;
        static constexpr char kAlphabet[] = "QUJDazAZ09+/=\r\n \t*-.\x80\xff";
        std::mt19937 rng(18);
        for (int i = 0; i < 200; ++i) {
            std::string in(rng() % 48, '\0');
            for (char& c : in) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
            if (!same_as_gmime(in, in.empty() ? 0 : rng() % (in.size() + 1))) return false;
        }
        return true;
    }();
    return same;
}

}  // namespace mm::policy
