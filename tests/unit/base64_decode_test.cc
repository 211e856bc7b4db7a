// Base64Decoder against the installed GMime's g_mime_encoding_step, byte for
// byte and state for state, on every shape of input: well-formed in the
// line layouts clients send, truncated, malformed (padding anywhere, junk,
// high bytes) and thousands of random bodies, each cut into steps at random
// points.  Also: it writes no more than max_output says.
#include "policy/mime/base64_decode.h"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "policy/mime/gmime_ptr.h"
#include "tests/support/base64_samples.h"

namespace mm::policy {
namespace {

using base64_testing::base64;
using base64_testing::kDigits;
using base64_testing::random_bytes;

struct Decoded {
    std::string bytes;
    int state = 0;
};

// `in` in the steps that end at `cuts` (ascending, within the input).
Decoded gmime(const std::string& in, const std::vector<std::size_t>& cuts) {
    GMimeEncoding enc;
    g_mime_encoding_init_decode(&enc, GMIME_CONTENT_ENCODING_BASE64);
    Decoded out;
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(in.size());
    for (std::size_t to : ends) {
        std::string buf(g_mime_encoding_outlen(&enc, to - from) + 8, '\0');
        buf.resize(g_mime_encoding_step(&enc, in.data() + from, to - from, buf.data()));
        out.bytes += buf;
        from = to;
    }
    out.state = enc.state;
    return out;
}

// The same with Base64Decoder, each step's output in a buffer of exactly
// max_output bytes between guard bytes that must stay untouched.
Decoded ours(const std::string& in, const std::vector<std::size_t>& cuts) {
    Base64Decoder dec;
    Decoded out;
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(in.size());
    constexpr unsigned char kGuard = 0xa5;
    for (std::size_t to : ends) {
        const std::size_t room = Base64Decoder::max_output(to - from);
        std::vector<unsigned char> buf(room + 32, kGuard);
        const std::size_t got =
            dec.step(reinterpret_cast<const unsigned char*>(in.data()) + from, to - from, &buf[16]);
        EXPECT_LE(got, room);
        for (std::size_t i = 0; i < 16; ++i) {
            EXPECT_EQ(buf[i], kGuard) << "wrote before its output";
            EXPECT_EQ(buf[16 + room + i], kGuard) << "wrote past max_output";
        }
        out.bytes.append(reinterpret_cast<const char*>(&buf[16]), got);
        from = to;
    }
    out.state = dec.state();
    return out;
}

std::vector<std::size_t> random_cuts(std::size_t size, std::mt19937& rng) {
    std::vector<std::size_t> cuts;
    const unsigned n = rng() % 4;
    for (unsigned i = 0; i < n; ++i) cuts.push_back(size == 0 ? 0 : rng() % (size + 1));
    std::sort(cuts.begin(), cuts.end());
    return cuts;
}

// Returns whether they agree; reports the first difference with `what`.
bool agree(const std::string& in, const std::vector<std::size_t>& cuts, const std::string& what) {
    const Decoded want = gmime(in, cuts);
    const Decoded got = ours(in, cuts);
    if (got.bytes == want.bytes && got.state == want.state) return true;
    std::string cut_list;
    for (std::size_t c : cuts) cut_list += " " + std::to_string(c);
    ADD_FAILURE() << what << ": input of " << in.size() << " bytes cut at" << cut_list << ": "
                  << got.bytes.size() << " bytes, state " << got.state << " (GMime "
                  << want.bytes.size() << ", state " << want.state << ")";
    return false;
}

class Base64DecoderTest : public ::testing::Test {
protected:
    void SetUp() override { ensure_gmime(); }
};

TEST_F(Base64DecoderTest, InstalledGMimeDecodesByTheSameRule) {
    EXPECT_TRUE(base64_decodes_like_gmime())
        << "GMime " << gmime_major_version << "." << gmime_minor_version << "."
        << gmime_micro_version << " decodes base64 by another rule than 3.2.13";
}

TEST_F(Base64DecoderTest, WellFormedInEveryLineLayoutDecodesTheData) {
    std::mt19937 rng(1801);
    const std::size_t lines[] = {76, 64, 72, 4, 1, 0};
    const std::string eols[] = {"\r\n", "\n", "\r"};
    int cases = 0;
    for (std::size_t n : {0, 1, 2, 3, 4, 5, 6, 7, 57, 58, 59, 1000, 4096, 65536, 110000}) {
        for (std::size_t line : lines)
            for (const std::string& eol : eols) {
                const std::string data = random_bytes(n, rng);
                const std::string raw = base64(data, line, eol);
                const std::string what = "size " + std::to_string(n) + " line " +
                                         std::to_string(line) + " eol " +
                                         std::to_string(eol.size());
                EXPECT_EQ(ours(raw, {}).bytes, data) << what;
                EXPECT_TRUE(agree(raw, random_cuts(raw.size(), rng), what));
                ++cases;
            }
    }
    EXPECT_EQ(cases, 15 * 6 * 3);
}

// A body cut short anywhere: in a group, in the padding, in a line break.
TEST_F(Base64DecoderTest, TruncatedAtEveryLengthAgrees) {
    std::mt19937 rng(1802);
    const std::string raw = base64(random_bytes(160, rng), 76, "\r\n");
    int cases = 0;
    for (std::size_t len = 0; len <= raw.size(); ++len) {
        const std::string cut = raw.substr(0, len);
        EXPECT_TRUE(agree(cut, {}, "truncated to " + std::to_string(len)));
        EXPECT_TRUE(agree(cut, {len / 2}, "truncated to " + std::to_string(len) + ", halves"));
        ++cases;
    }
    EXPECT_EQ(cases, static_cast<int>(raw.size()) + 1);
}

// Every cut of inputs where the padding, line breaks and junk fall in each
// position of a group.
TEST_F(Base64DecoderTest, PaddingAndJunkAtEveryPositionAndCutAgree) {
    const std::vector<std::string> inputs = {"QUJD=QUJD",
                                             "QUJDQUI=\r\nQUJD",
                                             "QUJDQQ==",
                                             "QUJDQ===",
                                             "Q=",
                                             "QQ=",
                                             "QQQ=",
                                             "QQQQ=",
                                             "QUJDQ",
                                             "QUJDQUJ",
                                             std::string("Q U*J\n@D\x80\0QUJD", 15),
                                             "=QUJD",
                                             "====",
                                             "QUJDQUJDQUJDQUJDQUJD\r\nQU=JD",
                                             "QUJD\r\nQUJD\r\nQ\r\nU\r\nJ\r\nD==\r\n",
                                             "Q\xffU\xfeJ\x80"
                                             "DQUJDQUJD",
                                             "QUJDQUJD QUJD\tQUJD-QUJD.QUJD=",
                                             "QUJDQUJDQUJD==QUJD"};
    int cases = 0;
    for (const std::string& in : inputs)
        for (std::size_t a = 0; a <= in.size(); ++a)
            for (std::size_t b = a; b <= in.size(); ++b) {
                EXPECT_TRUE(agree(in, {a, b}, "\"" + in + "\""));
                ++cases;
            }
    EXPECT_GT(cases, 1000);
}

// Random bodies from an alphabet weighted to digits with the bytes that
// matter (padding, line breaks, junk, high bytes) mixed in, and wholly
// random bytes, in random steps.
TEST_F(Base64DecoderTest, ThousandsOfRandomBodiesAgree) {
    std::mt19937 rng(1803);
    const std::string alphabet =
        std::string(kDigits) + kDigits + "==\r\n\r\n \t*-.\x80\xff" + std::string(1, '\0');
    int failures = 0;
    int cases = 0;
    for (int i = 0; i < 4000 && failures < 5; ++i) {
        const std::size_t n = i % 10 == 0 ? rng() % 20000 : rng() % 200;
        std::string in(n, '\0');
        if (i % 3 == 0)
            in = random_bytes(n, rng);
        else
            for (char& c : in) c = alphabet[rng() % alphabet.size()];
        // Padding late or not at all, so long runs of digits come first.
        if (i % 3 == 1)
            for (char& c : in)
                if (c == '=' && rng() % 8 != 0) c = 'A';
        failures += !agree(in, random_cuts(n, rng), "random body " + std::to_string(i));
        ++cases;
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(cases, 4000);
}

// Well-formed bodies with a fault inserted: a stray byte, a missing digit,
// padding in the middle, a CR without LF.
TEST_F(Base64DecoderTest, WellFormedBodiesWithOneFaultAgree) {
    std::mt19937 rng(1804);
    const std::string faults[] = {"=", "==", "*", "\r", "\n", " ", "\x80", ""};
    int cases = 0;
    for (int i = 0; i < 600; ++i) {
        std::string raw = base64(random_bytes(rng() % 3000, rng), 76, "\r\n");
        const std::size_t at = raw.empty() ? 0 : rng() % raw.size();
        const std::string& fault = faults[rng() % 8];
        if (fault.empty() && !raw.empty())
            raw.erase(at, 1);
        else
            raw.insert(at, fault);
        EXPECT_TRUE(agree(raw, random_cuts(raw.size(), rng), "fault at " + std::to_string(at)));
        ++cases;
    }
    EXPECT_EQ(cases, 600);
}

TEST_F(Base64DecoderTest, NothingIsDecodedAfterThePadding) {
    Base64Decoder dec;
    const std::string first = "QUI=";
    unsigned char out[64];
    EXPECT_EQ(dec.step(reinterpret_cast<const unsigned char*>(first.data()), first.size(), out),
              2u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(out), 2), "AB");
    EXPECT_TRUE(dec.ended());
    const std::string more = "QUJD";
    EXPECT_EQ(dec.step(reinterpret_cast<const unsigned char*>(more.data()), more.size(), out), 0u);
}

}  // namespace
}  // namespace mm::policy
