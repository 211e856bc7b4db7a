// decode_prefix against GMime's own decode of the whole part.  Base64 parts
// are sized by counting the encoded digits instead of decoding them, so
// these tests hold the count to GMime's decoder byte for byte: well-formed
// input of every shape mail clients send, and malformed input, where the
// result is whatever the installed GMime's decoder makes of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/message_body.h"
#include "policy/mime/mime_io.h"
#include "policy/mime/mime_parts.h"
#include "tests/support/base64_samples.h"
#include "tests/support/test_support.h"

namespace mm::policy {
namespace {

using base64_testing::base64;
using base64_testing::kDigits;
using base64_testing::random_bytes;

GPtr<GMimePart> part_with(const std::string& raw, GMimeContentEncoding encoding) {
    ensure_gmime();
    GPtr<GMimePart> part(g_mime_part_new_with_type("application", "octet-stream"));
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
    GPtr<GMimeDataWrapper> content(g_mime_data_wrapper_new_with_stream(stream.get(), encoding));
    g_mime_part_set_content(part.get(), content.get());
    return part;
}

// The reference: GMime writing the part's content decoded, as its own
// writers do.
std::string gmime_decoded(GMimePart* part) {
    GPtr<GMimeStream> mem(g_mime_stream_mem_new());
    EXPECT_GE(g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(part), mem.get()), 0);
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

// decode_prefix for several `keep` values around the decoded size and the
// read block must give the first bytes and the exact size GMime gives, and
// decode_to_body going on after each prefix the whole content.
// Returns the number of mismatches (each reported with `what`).
int compare_with_gmime(GMimePart* part, const std::string& what) {
    const std::string want = gmime_decoded(part);
    if (auto whole = decode_to_body(part, SpoolOptions{}); !whole || whole->str() != want)
        ADD_FAILURE() << what << ": decode_to_body differs from GMime";
    std::vector<std::size_t> keeps = {0, 1, 2, 3, 1000, 3071, 3072, 3073, 65536};
    for (std::size_t k : {want.size(), want.size() + 1, want.size() * 2}) keeps.push_back(k);
    if (!want.empty()) keeps.push_back(want.size() - 1);
    int mismatches = 0;
    for (std::size_t keep : keeps) {
        const DecodedPrefix got = decode_prefix(part, keep);
        const std::size_t head = std::min(keep, want.size());
        const bool same = got.size == want.size() && got.head.size() == head &&
                          got.head.compare(0, head, want, 0, head) == 0;
        if (!same) {
            ++mismatches;
            ADD_FAILURE() << what << " keep " << keep << ": size " << got.size << " (GMime "
                          << want.size() << "), head " << got.head.size() << " bytes"
                          << (got.head.size() == head ? " (content differs)" : "");
        }
        // The whole content, decoding on from where the prefix stopped.
        auto whole = decode_to_body(part, SpoolOptions{}, &got);
        if (!whole || whole->str() != want) {
            ++mismatches;
            ADD_FAILURE() << what << " keep " << keep << ": decode_to_body after the prefix "
                          << (whole ? std::to_string(whole->size()) + " bytes"
                                    : whole.error().message)
                          << " (GMime " << want.size() << ")";
        }
    }
    return mismatches;
}

// The benchmarks' numbers assume the counting path: on a GMime whose base64
// rule differs from 3.2.13's, decode_prefix falls back to decoding whole
// (still exact, as slow as before) and this test says so.
TEST(DecodePrefix, InstalledGMimeDecodesAsCounted) {
    ensure_gmime();
    EXPECT_TRUE(base64_sized_by_counting())
        << "GMime " << gmime_major_version << "." << gmime_minor_version << "."
        << gmime_micro_version << " decodes malformed base64 by another rule than 3.2.13";
}

TEST(DecodePrefix, WellFormedBase64OfRandomShapesIsExact) {
    std::mt19937 rng(20261123);
    const std::size_t lines[] = {76, 64, 1, 0};
    const std::string eols[] = {"\r\n", "\n"};
    const std::string tails[] = {"", "\r\n", "\r\n\r\n", "  \t\r\n", "\n\n\n", " "};
    std::vector<std::size_t> sizes = {0, 1, 2, 3, 4, 5, 6, 57, 3070, 3071, 3072, 3073, 3074, 49152};
    for (int i = 0; i < 160; ++i) sizes.push_back(rng() % 300001);
    int cases = 0;
    for (std::size_t n : sizes) {
        const std::string data = random_bytes(n, rng);
        const std::size_t line = lines[rng() % 4];
        const std::string& eol = eols[rng() % 2];
        const std::string raw = base64(data, line, eol) + tails[rng() % 6];
        GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
        const std::string what = "size " + std::to_string(n) + " line " + std::to_string(line);
        ASSERT_EQ(gmime_decoded(part.get()), data) << what << ": the test's encoder is wrong";
        EXPECT_EQ(compare_with_gmime(part.get(), what), 0);
        ++cases;
    }
    EXPECT_EQ(cases, 174);
}

// '=' and '==' with the padding, or the group it ends, cut by the end of a
// 4 KiB read block at every position.
TEST(DecodePrefix, PaddingAcrossTheReadBlockBoundaryIsExact) {
    std::mt19937 rng(7);
    for (std::size_t n : {3070u, 3071u, 3073u, 3074u, 6142u, 6143u}) {
        const std::string data = random_bytes(n, rng);
        const std::string flat = base64(data, 0, "");
        for (std::size_t shift = 0; shift <= 12; ++shift) {
            // A line break just before the end moves the last group over
            // the block boundary one byte at a time.
            for (const std::string& eol : {std::string("\r\n"), std::string("\n")}) {
                const std::size_t at = flat.size() - std::min(flat.size(), shift);
                const std::string raw = flat.substr(0, at) + eol + flat.substr(at) + "\r\n";
                GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
                ASSERT_EQ(gmime_decoded(part.get()), data);
                EXPECT_EQ(compare_with_gmime(part.get(), "size " + std::to_string(n) + " break " +
                                                             std::to_string(at)),
                          0);
            }
            // Leading blank lines push the whole body across the boundary.
            const std::string raw = std::string(shift, '\n') + flat + "\n";
            GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
            EXPECT_EQ(compare_with_gmime(part.get(), "lead " + std::to_string(shift)), 0);
        }
    }
}

// Malformed input.  GMime 3.2.13 skips what is not a base64 digit, drops an
// unfinished final group, and stops at the first '=' (the group it closes
// gives what its digits hold; nothing after it is decoded, not even a
// second body).  The count follows the same rule, so it matches exactly;
// on a GMime with another rule decode_prefix decodes whole, and matches too.
TEST(DecodePrefix, MalformedBase64MatchesGMime) {
    std::mt19937 rng(99);
    int cases = 0;
    auto check = [&](const std::string& raw, const std::string& what) {
        GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
        EXPECT_EQ(compare_with_gmime(part.get(), what), 0);
        ++cases;
    };
    for (int round = 0; round < 40; ++round) {
        const std::size_t n = round < 8 ? static_cast<std::size_t>(round) : rng() % 40000;
        const std::string data = random_bytes(n, rng);
        const std::string good = base64(data, round % 2 ? 76 : 0, "\r\n");
        const std::string tag = "round " + std::to_string(round);

        std::string junk = good;  // any byte outside the alphabet, NUL and 8-bit too
        for (int k = 0; k < 30; ++k) {
            char c;
            do c = static_cast<char>(rng() & 0xff);
            while (std::string_view(kDigits).find(c) != std::string_view::npos || c == '=');
            junk.insert(junk.begin() + static_cast<long>(rng() % (junk.size() + 1)), c);
        }
        check(junk, tag + " junk");

        std::string inner = good;  // '=' in the middle, near block ends as well
        for (std::size_t at : {inner.size() / 2, std::size_t{4095}, std::size_t{4094},
                               std::size_t{8191}, static_cast<std::size_t>(rng() % 9000)})
            if (at < inner.size()) inner[at] = '=';
        check(inner, tag + " inner '='");
        check(good + good, tag + " two bodies, padding between");

        std::string flat = base64(data, 0, "");
        for (std::size_t cut = 1; cut <= 3 && cut <= flat.size(); ++cut)
            check(flat.substr(0, flat.size() - cut) + "\r\n",
                  tag + " truncated by " + std::to_string(cut));
        std::string unpadded = flat;
        while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
        check(unpadded + "\r\n", tag + " no padding");
        check(flat + "==\r\n", tag + " extra padding");
        check(flat + "=", tag + " lone '=' after");
    }
    // '=' runs placed so a block ends inside them, and blocks of padding only.
    for (std::size_t at = 4088; at <= 4100; ++at) {
        std::string s(9000, 'Q');
        s[at] = '=';
        s[at + 1] = '=';
        check(s, "'==' at " + std::to_string(at));
        check(std::string(at, 'Q') + "=" + std::string(at % 7, '\n') + "=Q==",
              "split pad at " + std::to_string(at));
    }
    check(std::string(5000, '='), "all '='");
    check(std::string(5000, '\n') + "QUJD", "4 KiB of line breaks first");
    check(std::string(4095, '\n') + "Q=" + std::string(5000, '\n') + "=", "lone '=' blocks");
    EXPECT_GT(cases, 300);
}

// Through the real parse: the part's content is a substream of the spool
// file behind a GMimeStreamCat, read in the same 4 KiB blocks.
TEST(DecodePrefix, SpooledPartsMatchGMime) {
    mm::testing::TempDir dir;
    std::mt19937 rng(5);
    for (std::size_t n : {0u, 1u, 2u, 3072u, 100000u, 1000003u}) {
        const std::string data = random_bytes(n, rng);
        for (bool malformed : {false, true}) {
            std::string encoded = base64(data, 76, "\r\n");
            if (malformed && encoded.size() > 10) encoded[encoded.size() / 2] = '=';
            Message m;
            m.headers = {{"From", "a@acme.example"},
                         {"MIME-Version", "1.0"},
                         {"Content-Type", "multipart/mixed; boundary=\"b1\""}};
            m.body = MessageBody(SpoolOptions{64, dir.path().string()});
            ASSERT_TRUE(m.body.append(
                "--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1\r\n"
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
                "\r\n" +
                encoded + "--b1--\r\n"));
            GPtr<GMimeMessage> parsed = parse_mime(m, nullptr, nullptr);
            ASSERT_TRUE(parsed);
            auto* mp = GMIME_MULTIPART(g_mime_message_get_mime_part(parsed.get()));
            GMimePart* part = GMIME_PART(g_mime_multipart_get_part(mp, 1));
            if (!malformed) {
                ASSERT_EQ(gmime_decoded(part), data);
            }
            EXPECT_EQ(compare_with_gmime(part, "spooled " + std::to_string(n)), 0);
        }
    }
}

// Other encodings keep GMime's filter: the same bytes as before.
TEST(DecodePrefix, QuotedPrintableAndUuencodeStillMatchGMime) {
    GPtr<GMimePart> qp = part_with("caf=C3=A9 =\r\nsoft break=3D\r\n=XYtrailing=",
                                   GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    EXPECT_EQ(compare_with_gmime(qp.get(), "quoted-printable"), 0);
    GPtr<GMimePart> uu =
        part_with("begin 644 a.txt\n#86)C\n`\nend\n", GMIME_CONTENT_ENCODING_UUENCODE);
    EXPECT_EQ(compare_with_gmime(uu.get(), "uuencode"), 0);
    GPtr<GMimePart> plain = part_with(std::string(10000, 'x'), GMIME_CONTENT_ENCODING_8BIT);
    EXPECT_EQ(compare_with_gmime(plain.get(), "8bit"), 0);
}

// A 4 KiB read block that decodes to nothing reads as 0 bytes from GMime's
// filter stream before the end of the part; the decode goes on past it (it
// once stopped there: size 0, nothing sniffed, an empty zip to open).
TEST(DecodePrefix, ABlockThatDecodesToNothingDoesNotEndThePart) {
    std::string soft_breaks;
    while (soft_breaks.size() < 9000) soft_breaks += "=\r\n";
    GPtr<GMimePart> qp =
        part_with(soft_breaks + "MZ executable", GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    EXPECT_EQ(gmime_decoded(qp.get()), "MZ executable");
    EXPECT_EQ(compare_with_gmime(qp.get(), "quoted-printable after soft breaks"), 0);
    EXPECT_EQ(decoded_content(qp.get()), "MZ executable");

    std::mt19937 rng(11);
    const std::string data = random_bytes(100000, rng);
    GPtr<GMimePart> b64 = part_with(std::string(5000, '\n') + base64(data, 76, "\r\n"),
                                    GMIME_CONTENT_ENCODING_BASE64);
    EXPECT_EQ(compare_with_gmime(b64.get(), "base64 after blank lines"), 0);
    auto whole = decode_to_body(b64.get(), SpoolOptions{});
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_TRUE(whole->str() == data);
    EXPECT_TRUE(decoded_content(b64.get()) == data);
}

// decode_prefix leaves the raw stream at its start, so writing the message
// afterwards gives the encoded part unchanged.
TEST(DecodePrefix, LeavesTheEncodedStreamReset) {
    std::mt19937 rng(3);
    const std::string raw = base64(random_bytes(20000, rng), 76, "\r\n");
    GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
    (void)decode_prefix(part.get(), 100);
    GMimeStream* stream = g_mime_data_wrapper_get_stream(g_mime_part_get_content(part.get()));
    EXPECT_EQ(g_mime_stream_tell(stream), 0);
    GPtr<GMimeStream> mem(g_mime_stream_mem_new());
    EXPECT_EQ(g_mime_stream_write_to_stream(stream, mem.get()), static_cast<gint64>(raw.size()));
}

// GMime ends base64 at the first '='; digits after it are data other
// decoders would deliver and no check has seen.
TEST(Base64AfterPadding, DigitsAfterTheFirstPaddingAreFound) {
    // decode_prefix finds the same in its own read, whether the padding is
    // met while decoding the prefix (keep large) or while counting (keep 0).
    auto continues = [](const std::string& raw) {
        GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
        const bool found = base64_continues_after_padding(part.get());
        for (std::size_t keep : {std::size_t{0}, std::size_t{2}, std::size_t{128 * 1024}})
            EXPECT_EQ(decode_prefix(part.get(), keep).base64_after_padding, found)
                << "keep " << keep << ": " << raw.substr(0, 40);
        return found;
    };
    EXPECT_FALSE(continues("QUJD"));
    EXPECT_FALSE(continues("QUI=\r\n"));
    EXPECT_FALSE(continues("QQ==\r\n\r\n"));
    EXPECT_FALSE(continues("QQ=\r\n=\r\n"));      // padding split over lines
    EXPECT_FALSE(continues("QUI=\r\n-- *\r\n"));  // junk, not digits
    EXPECT_FALSE(continues(""));
    EXPECT_TRUE(continues("QUI=QUJD"));
    EXPECT_TRUE(continues("QUI=\r\nQUJD\r\n"));
    EXPECT_TRUE(continues("QUJD=\r\n+\r\n"));
    EXPECT_TRUE(continues("=QUJD"));
    // The padding and the digits after it in different 64 KiB reads.
    std::string lines;
    while (lines.size() < 64 * 1024 - 4) lines += "QUJD\r\n";
    lines.resize(64 * 1024 - 1);
    EXPECT_TRUE(continues(lines + "=\r\n\r\nQQ"));
    EXPECT_FALSE(continues(lines + "=\r\n\r\n"));
}

TEST(Base64AfterPadding, OnlyBase64PartsAndTheStreamIsLeftReset) {
    GPtr<GMimePart> qp = part_with("a=3Db=\r\nQUJD", GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    EXPECT_FALSE(base64_continues_after_padding(qp.get()));
    const std::string raw = "QUI=\r\nQUJD\r\n";
    GPtr<GMimePart> part = part_with(raw, GMIME_CONTENT_ENCODING_BASE64);
    EXPECT_TRUE(base64_continues_after_padding(part.get()));
    GMimeStream* stream = g_mime_data_wrapper_get_stream(g_mime_part_get_content(part.get()));
    EXPECT_EQ(g_mime_stream_tell(stream), 0);
}

// part_text skips the ASCII it can see a word at a time before GMime's UTF-8
// check: the answer must be GMime's for every place the first other byte
// (a NUL, a stray continuation byte, a good or a cut sequence) can stand.
TEST(PartText, AcceptsExactlyWhatGMimeCallsUtf8) {
    ensure_gmime();
    GPtr<GMimePart> part(g_mime_part_new_with_type("application", "octet-stream"));
    const std::vector<std::string> odd = {
        std::string(1, '\0'), "\x80",    "\xc3\xa9", "\xc3", "\xff", "\x7f", "\x01",
        "\xe2\x82\xac",       "\xe2\x82"};
    for (std::size_t before = 0; before < 20; ++before)
        for (const std::string& o : odd)
            for (std::size_t after : {0, 1, 7, 8, 9}) {
                const std::string bytes = std::string(before, 'a') + o + std::string(after, 'b');
                std::string want = bytes;
                if (!g_utf8_validate(bytes.data(), static_cast<gssize>(bytes.size()), nullptr)) {
                    GCharPtr valid(
                        g_utf8_make_valid(bytes.data(), static_cast<gssize>(bytes.size())));
                    want = valid.get();
                }
                EXPECT_EQ(part_text(part.get(), bytes), want) << before << " " << after;
            }
}

// Content with no transfer encoding to undo is read without a filter stream:
// the same bytes as GMime writes, from memory and from a substream, across
// the read block.
TEST(DecodedContent, UnencodedContentIsGMimesOwn) {
    std::string raw = "line one\r\nwith a NUL " + std::string(1, '\0') + " and 8-bit \xc3\xa9\r\n";
    while (raw.size() < 200000) raw += raw;
    for (GMimeContentEncoding enc : {GMIME_CONTENT_ENCODING_DEFAULT, GMIME_CONTENT_ENCODING_7BIT,
                                     GMIME_CONTENT_ENCODING_8BIT, GMIME_CONTENT_ENCODING_BINARY}) {
        for (std::size_t len :
             {std::size_t{0}, std::size_t{5}, std::size_t{65536}, std::size_t{65537}, raw.size()}) {
            GPtr<GMimePart> part = part_with(raw.substr(0, len), enc);
            EXPECT_EQ(decoded_content(part.get()), gmime_decoded(part.get())) << enc << " " << len;
        }
        GPtr<GMimeStream> whole(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
        GPtr<GMimeStream> sub(g_mime_stream_substream(whole.get(), 7, 70007));
        GPtr<GMimePart> part(g_mime_part_new_with_type("text", "plain"));
        GPtr<GMimeDataWrapper> content(g_mime_data_wrapper_new_with_stream(sub.get(), enc));
        g_mime_part_set_content(part.get(), content.get());
        EXPECT_EQ(decoded_content(part.get()), raw.substr(7, 70000)) << enc;
        EXPECT_EQ(gmime_decoded(part.get()), raw.substr(7, 70000)) << enc;
    }
}

}  // namespace
}  // namespace mm::policy
