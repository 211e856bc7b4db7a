// The MIME pre-scan (policy/mime/mime_limits.h): parts and depth counted as
// GMime would build them, boundaries found however they are declared, the
// header block of each part bounded, and parse_mime refusing under a
// LimitScope before any tree is built.
#include <gtest/gtest.h>

#include <string>

#include "policy/limits.h"
#include "policy/message.h"
#include "policy/mime/mime_io.h"
#include "policy/mime/mime_limits.h"

namespace mm::policy {
namespace {

MessageLimits bounds(std::size_t parts, std::size_t depth) {
    MessageLimits l;
    l.max_mime_parts = parts;
    l.max_mime_depth = depth;
    return l;
}

Message message(const std::string& content_type, const std::string& body) {
    Message m;
    m.headers = {{"From", "a@b.example"}, {"Content-Type", content_type}};
    m.body = MessageBody(body);
    return m;
}

// A multipart/mixed body of `n` text parts.
std::string parts(const std::string& boundary, int n, const std::string& eol = "\r\n") {
    std::string out = "preface" + eol;
    for (int i = 0; i < n; ++i)
        out += "--" + boundary + eol + "Content-Type: text/plain" + eol + eol + "part " +
               std::to_string(i) + eol;
    return out + "--" + boundary + "--" + eol;
}

// `levels` multiparts, each the one part of the one around it.
std::string nested(int levels) {
    std::string out;
    for (int i = 1; i < levels; ++i)
        out += "--b" + std::to_string(i) + "\r\nContent-Type: multipart/mixed; boundary=b" +
               std::to_string(i + 1) + "\r\n\r\n";
    out += "--b" + std::to_string(levels) + "\r\n\r\nbottom\r\n";
    for (int i = levels; i >= 1; --i) out += "--b" + std::to_string(i) + "--\r\n";
    return out;
}

std::size_t count_of(const Message& m, std::size_t max_parts) {
    // The smallest bound it passes is its count.
    for (std::size_t n = 0; n <= max_parts; ++n)
        if (!scan_mime_limits(m, bounds(n, MessageLimits::kUnlimited))) return n;
    return max_parts + 1;
}

std::size_t depth_of(const Message& m, std::size_t max_depth) {
    for (std::size_t n = 0; n <= max_depth; ++n)
        if (!scan_mime_limits(m, bounds(MessageLimits::kUnlimited, n))) return n;
    return max_depth + 1;
}

TEST(MimeLimits, PlainMessageHasNoParts) {
    const Message m = message("text/plain", "--b\r\nhello\r\n");
    EXPECT_EQ(count_of(m, 5), 0u);
    EXPECT_EQ(depth_of(m, 5), 0u);
}

TEST(MimeLimits, CountsThePartsOfAMultipart) {
    const Message m = message("multipart/mixed; boundary=\"b\"", parts("b", 7));
    EXPECT_EQ(count_of(m, 10), 7u);
    EXPECT_EQ(depth_of(m, 5), 1u);
}

TEST(MimeLimits, OverTheBoundIsRefusedWithTheKeyNamed) {
    const Message m = message("multipart/mixed; boundary=\"b\"", parts("b", 7));
    auto refused = scan_mime_limits(m, bounds(6, 32));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->smtp_code, "552");
    EXPECT_EQ(refused->enhanced_code, "5.3.4");
    EXPECT_EQ(refused->text, "Message has more than 6 MIME parts (limit limits.max_mime_parts)");
    EXPECT_EQ(refused->rule.id, "limits.max_mime_parts");
    EXPECT_FALSE(scan_mime_limits(m, bounds(7, 32)));
}

TEST(MimeLimits, LfLineEndsAndTrailingWhiteSpaceAsGMimeReadsThem) {
    std::string body = parts("b", 3, "\n");
    // GMime takes "--b" followed by white space for a boundary line.
    body.insert(body.find("--b\n"), "--b \t\n\n");
    const Message m = message("multipart/mixed; boundary=b", body);
    EXPECT_EQ(count_of(m, 10), 4u);
}

TEST(MimeLimits, BoundaryDeclaredByRfc2231ContinuationsIsFound) {
    const Message m = message("multipart/mixed;\r\n boundary*0=\"long-\";\r\n boundary*1=\"bound\"",
                              parts("long-bound", 5));
    EXPECT_EQ(count_of(m, 10), 5u);
}

TEST(MimeLimits, LinesThatOnlyStartWithTheBoundaryAreContent) {
    const Message m =
        message("multipart/mixed; boundary=b", "--b\r\n\r\n--bx\r\n--b-\r\n-- b\r\n--b--\r\n");
    EXPECT_EQ(count_of(m, 10), 1u);
}

TEST(MimeLimits, NestingDepthCountsOpenMultiparts) {
    const Message m = message("multipart/mixed; boundary=b1", nested(5));
    EXPECT_EQ(depth_of(m, 10), 5u);
    auto refused = scan_mime_limits(m, bounds(100, 4));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->rule.id, "limits.max_mime_depth");
    EXPECT_EQ(refused->text,
              "Message MIME structure nests deeper than 4 levels (limit limits.max_mime_depth)");
}

TEST(MimeLimits, ClosedMultipartsNoLongerCountTowardsDepth) {
    // Three multiparts side by side in one: depth 2, not 4.
    std::string body;
    for (int i = 0; i < 3; ++i) {
        const std::string inner = "in" + std::to_string(i);
        body += "--out\r\nContent-Type: multipart/alternative; boundary=" + inner + "\r\n\r\n" +
                parts(inner, 2);
    }
    body += "--out--\r\n";
    const Message m = message("multipart/mixed; boundary=out", body);
    EXPECT_EQ(depth_of(m, 10), 2u);
    EXPECT_EQ(count_of(m, 20), 9u);  // 3 multiparts, 2 parts in each
}

TEST(MimeLimits, AnOuterBoundaryEndsTheInnerMultipart) {
    // The inner multipart is never closed: its parent's next boundary ends it.
    const std::string body =
        "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\r\nx\r\n"
        "--out\r\nContent-Type: multipart/mixed; boundary=in2\r\n\r\n--in2\r\n\r\ny\r\n"
        "--out--\r\n";
    const Message m = message("multipart/mixed; boundary=out", body);
    EXPECT_EQ(depth_of(m, 10), 2u);
    EXPECT_EQ(count_of(m, 10), 4u);
}

TEST(MimeLimits, ForwardedMessagesNestAndCount) {
    std::string body;
    for (int i = 0; i < 4; ++i) body += "Subject: level\r\nContent-Type: message/rfc822\r\n\r\n";
    body += "Subject: bottom\r\n\r\nhello\r\n";
    const Message m = message("message/rfc822", body);
    EXPECT_EQ(depth_of(m, 10), 5u);
    EXPECT_EQ(count_of(m, 10), 5u);
}

TEST(MimeLimits, ContentTypeFoldedOverLinesAndInAnyCase) {
    const std::string body = "--b\r\nCONTENT-TYPE : multipart/mixed;\r\n\tboundary=\"in\"\r\n\r\n" +
                             parts("in", 3) + "--b--\r\n";
    const Message m = message("multipart/mixed; boundary=b", body);
    EXPECT_EQ(depth_of(m, 10), 2u);
    EXPECT_EQ(count_of(m, 10), 4u);
}

// A Content-Type the pass took for content still declares its boundary:
// GMime may read it as a header, and then builds those parts.
TEST(MimeLimits, BoundaryDeclaredOutsideAHeaderBlockStillCounts) {
    const std::string body =
        "Content-Type: multipart/mixed; boundary=hidden\r\n\r\n" + parts("hidden", 6);
    const Message m = message("text/plain", body);
    EXPECT_EQ(count_of(m, 10), 6u);
}

TEST(MimeLimits, LinesLongerThanOneReadAreJoined) {
    // A spilled body is read 64 KiB at a time: a boundary line and a
    // Content-Type field across a read's end are still seen whole.
    const std::string pad(64 * 1024 - 40, 'x');
    const std::string body = pad + "\r\n--b\r\nContent-Type: multipart/mixed;" +
                             std::string(100, ' ') + "boundary=in\r\n\r\n" + parts("in", 2) +
                             "--b--\r\n";
    Message m = message("multipart/mixed; boundary=b", "");
    SpoolOptions spool;
    spool.spill_threshold = 0;
    spool.spool_dir = "/tmp";
    m.body = MessageBody(spool);
    ASSERT_TRUE(m.body.append(body));
    ASSERT_TRUE(m.body.spilled());
    EXPECT_EQ(count_of(m, 10), 3u);
    EXPECT_EQ(depth_of(m, 10), 2u);
}

TEST(MimeLimits, HeaderBlockOfAPartIsBounded) {
    std::string fields;
    for (int i = 0; i < 20; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
    const Message m =
        message("multipart/mixed; boundary=b", "--b\r\n" + fields + "\r\nx\r\n--b--\r\n");
    MessageLimits l;
    l.max_header_count = 19;
    auto refused = scan_mime_limits(m, l);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->rule.id, "limits.max_header_count");
    EXPECT_EQ(refused->text,
              "The header of MIME part 1 exceeds 19 headers (limit limits.max_header_count)");
    l.max_header_count = 20;
    EXPECT_FALSE(scan_mime_limits(m, l));
    l.max_header_bytes = 20 * 8;  // "X-Fnn: v\r\n" is 10 bytes, 9 for one digit
    refused = scan_mime_limits(m, l);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->rule.id, "limits.max_header_bytes");
}

TEST(MimeLimits, HeaderBytesOfAllPartsTogetherAreBounded) {
    // Each part's header is within the bound, all of them are not.
    std::string body;
    for (int i = 0; i < 10; ++i) body += "--b\r\n" + std::string("a: b\r\n") + "\r\nx\r\n";
    const Message m = message("multipart/mixed; boundary=b", body + "--b--\r\n");
    MessageLimits l;
    l.max_header_bytes = 59;  // "a: b\r\n" is 6 bytes
    auto refused = scan_mime_limits(m, l);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->rule.id, "limits.max_header_bytes");
    EXPECT_EQ(refused->text,
              "The header of all MIME parts together exceeds 59 bytes (limit "
              "limits.max_header_bytes)");
    l.max_header_bytes = 60;
    EXPECT_FALSE(scan_mime_limits(m, l));
}

TEST(MimeLimits, ParseMimeRefusesOnlyUnderAScope) {
    const Message m = message("multipart/mixed; boundary=b", parts("b", 3));
    EXPECT_TRUE(parse_mime(m, nullptr, nullptr));  // no scope: nothing bounded
    const LimitScope scope(bounds(2, 32));
    try {
        parse_mime(m, nullptr, nullptr);
        FAIL() << "parsed a message over its bound";
    } catch (const LimitExceeded& e) {
        EXPECT_EQ(e.refusal().rule.id, "limits.max_mime_parts");
    }
    {
        const LimitScope inner(bounds(3, 32));
        EXPECT_TRUE(parse_mime(m, nullptr, nullptr));
    }
    EXPECT_THROW(parse_mime(m, nullptr, nullptr), LimitExceeded);
}

TEST(MimeLimits, ThousandsOfPartsAreCountedQuickly) {
    const Message m = message("multipart/mixed; boundary=b", parts("b", 100000));
    auto refused = scan_mime_limits(m, bounds(1000, 32));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->rule.id, "limits.max_mime_parts");
    EXPECT_FALSE(scan_mime_limits(m, bounds(100000, 32)));
}

}  // namespace
}  // namespace mm::policy
