// write_body_spliced against GMime's own write of the same tree: the same
// bytes for messages of random shapes (base64 parts at every depth, with
// and without a line break at their end, beside text parts), a fallback
// whenever a part's line ends are not all CRLF, the tree left as it was,
// and GMime's share of the output held in memory only under the spill
// threshold.
#include "policy/mime/body_splice.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"
#include "tests/support/base64_samples.h"

namespace mm::policy {
namespace {

using base64_testing::kDigits;

struct FormatOptionsFree {
    void operator()(GMimeFormatOptions* p) const { g_mime_format_options_free(p); }
};

GPtr<GMimeMessage> parse(const std::string& text) {
    ensure_gmime();
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    return GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
}

std::string gmime_write(GMimeObject* top) {
    std::unique_ptr<GMimeFormatOptions, FormatOptionsFree> fopt(g_mime_format_options_new());
    g_mime_format_options_set_newline_format(fopt.get(), GMIME_NEWLINE_FORMAT_DOS);
    GPtr<GMimeStream> mem(g_mime_stream_mem_new());
    EXPECT_GE(g_mime_object_write_content_to_stream(top, fopt.get(), mem.get()), 0);
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

// Base64-looking lines of `line` digits, `eol` after each; `tail` after all.
std::string lines(std::size_t digits, std::size_t line, const std::string& eol,
                  const std::string& tail, std::mt19937& rng) {
    std::string out;
    for (std::size_t i = 0; i < digits; ++i) {
        out += kDigits[rng() % 64];
        if ((i + 1) % line == 0) out += eol;
    }
    return out + tail;
}

std::string base64_part(const std::string& type, const std::string& content) {
    return "Content-Type: " + type + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + content;
}

// A multipart message of random shape; `bare_lf` puts one LF-only line in
// one base64 part.
std::string random_message(std::mt19937& rng, bool bare_lf, int& base64_parts) {
    const std::string tails[] = {"", "\r\n", "\r\n\r\n", "=\r\n", "==\r\n\r\n\r\n"};
    base64_parts = 0;
    std::string inner;
    const int nested = static_cast<int>(rng() % 3);
    for (int i = 0; i < nested; ++i) {
        inner +=
            "--in\r\n" +
            base64_part("image/png", lines(rng() % 9000 + 1, 76, "\r\n", tails[rng() % 5], rng)) +
            "\r\n";
        ++base64_parts;
    }
    inner += "--in--\r\n";
    std::string body =
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"out\"\r\n\r\n"
        "preamble\r\n--out\r\nContent-Type: text/plain\r\n\r\nHello\r\n";
    const int parts = static_cast<int>(rng() % 4) + 1;
    for (int i = 0; i < parts; ++i) {
        std::string content =
            lines(rng() % 20000 + 1, rng() % 2 ? 76 : 64, "\r\n", tails[rng() % 5], rng);
        if (bare_lf && i == 0) content.insert(content.size() / 2, "QUJD\n");
        body += "--out\r\n" + base64_part("application/pdf", content) + "\r\n";
        ++base64_parts;
    }
    if (nested > 0)
        body += "--out\r\nContent-Type: multipart/related; boundary=\"in\"\r\n\r\n" + inner;
    body +=
        "--out\r\nContent-Type: message/rfc822\r\n\r\n"
        "Subject: inner\r\nContent-Type: application/zip\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" +
        lines(4096, 76, "\r\n", "\r\n", rng) + "--out--\r\nepilogue\r\n";
    ++base64_parts;
    return body;
}

class BodySplice : public ::testing::Test {
protected:
    void SetUp() override { ensure_gmime(); }
};

TEST_F(BodySplice, InstalledGMimeWritesWhatTheSpliceWrites) {
    EXPECT_TRUE(splice_writes_like_gmime())
        << "GMime " << gmime_major_version << "." << gmime_minor_version << "."
        << gmime_micro_version << " writes kept parts otherwise than 3.2.13";
}

TEST_F(BodySplice, RandomMessagesAreWrittenByteForByteAsGMimeWritesThem) {
    std::mt19937 rng(1805);
    int spliced = 0;
    for (int i = 0; i < 120; ++i) {
        int base64_parts = 0;
        const std::string text = random_message(rng, false, base64_parts);
        GPtr<GMimeMessage> message = parse(text);
        ASSERT_TRUE(message);
        GMimeObject* top = g_mime_message_get_mime_part(message.get());
        const std::string want = gmime_write(top);
        const auto got = write_body_spliced(top, SpoolOptions{}, text.size(), 0);
        ASSERT_TRUE(got) << "message " << i << " with " << base64_parts << " base64 parts";
        EXPECT_EQ(got->str(), want) << "message " << i;
        EXPECT_EQ(gmime_write(top), want) << "message " << i << ": the tree was not put back";
        ++spliced;
    }
    EXPECT_EQ(spliced, 120);
}

TEST_F(BodySplice, APartWithALineNotEndingInCrlfFallsBack) {
    std::mt19937 rng(1806);
    for (int i = 0; i < 20; ++i) {
        int base64_parts = 0;
        const std::string text = random_message(rng, true, base64_parts);
        GPtr<GMimeMessage> message = parse(text);
        GMimeObject* top = g_mime_message_get_mime_part(message.get());
        const std::string want = gmime_write(top);
        EXPECT_FALSE(write_body_spliced(top, SpoolOptions{}, text.size(), 0)) << "message " << i;
        EXPECT_EQ(gmime_write(top), want) << "message " << i << ": the tree was not put back";
        // write_body, the caller, writes it through GMime.
        EXPECT_EQ(write_body(top, SpoolOptions{}, text.size()).str(), want);
    }
}

// Text that looks like a marker does not confuse the splice: the marker's
// token is random, and any extra occurrence makes it fall back.
TEST_F(BodySplice, ContentThatLooksLikeAMarkerIsCopiedAsItIs) {
    std::mt19937 rng(1807);
    const std::string text =
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\nMMSPLICE0123456789abcdef0123456789abcdefx0y\r\n--b\r\n" +
        base64_part("application/pdf", "MMSPLICE0123456789abcdef0123456789abcdefx0y\r\n" +
                                           lines(8000, 76, "\r\n", "\r\n", rng)) +
        "--b--\r\n";
    GPtr<GMimeMessage> message = parse(text);
    GMimeObject* top = g_mime_message_get_mime_part(message.get());
    const std::string want = gmime_write(top);
    const auto got = write_body_spliced(top, SpoolOptions{}, text.size(), 0);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->str(), want);
}

// Small parts are left to GMime (min_part), and GMime's share of the body
// is held in memory only while it fits under the spill threshold.
TEST_F(BodySplice, SmallPartsAndLargeRestsAreLeftToGMime) {
    std::mt19937 rng(1808);
    const std::string big_text(300000, 'x');
    const std::string text =
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\n" +
        big_text + "\r\n--b\r\n" +
        base64_part("application/pdf", lines(40000, 76, "\r\n", "", rng)) + "\r\n--b--\r\n";
    GPtr<GMimeMessage> message = parse(text);
    GMimeObject* top = g_mime_message_get_mime_part(message.get());
    const std::string want = gmime_write(top);
    EXPECT_FALSE(write_body_spliced(top, SpoolOptions{}, text.size(), 60000));

    SpoolOptions spill;
    spill.spill_threshold = 100000;
    spill.spool_dir = ::testing::TempDir();
    EXPECT_FALSE(write_body_spliced(top, spill, text.size(), 0));
    spill.spill_threshold = 320000;
    const auto got = write_body_spliced(top, spill, text.size(), 0);
    ASSERT_TRUE(got);
    EXPECT_TRUE(got->spilled());
    EXPECT_EQ(got->str(), want);
    EXPECT_EQ(write_body(top, spill, text.size()).str(), want);
}

}  // namespace
}  // namespace mm::policy
