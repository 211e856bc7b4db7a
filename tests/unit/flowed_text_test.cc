// unflow() (policy/mime/flowed_text.h): RFC 3676 text as its reader sees
// it, and flowed_format() / mark_unflowed() on a part's Content-Type.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "policy/mime/flowed_text.h"
#include "policy/mime/gmime_ptr.h"
#include "policy/mime/mime_io.h"

namespace mm::policy {
namespace {

TEST(UnflowTest, DelSpYesJoinsAndDeletesTheSpace) {
    EXPECT_EQ(unflow("Leave us a rev \r\niew and a gi \r\nft card.\r\n", true),
              "Leave us a review and a gift card.\r\n");
    EXPECT_EQ(unflow("john.smith@gm \r\nail.com\r\n", true), "john.smith@gmail.com\r\n");
}

TEST(UnflowTest, DelSpNoKeepsTheSpace) {
    EXPECT_EQ(unflow("Leave us a \r\nreview.\r\n", false), "Leave us a review.\r\n");
    EXPECT_EQ(unflow("a rev \r\niew\r\n", false), "a rev iew\r\n");
}

TEST(UnflowTest, FixedLinesStayAsTheyAre) {
    const std::string fixed = "First line.\r\nSecond line.\r\n\r\nThird.";
    EXPECT_EQ(unflow(fixed, true), fixed);
    EXPECT_EQ(unflow(fixed, false), fixed);
    EXPECT_EQ(unflow("", true), "");
    EXPECT_EQ(unflow("one\ntwo \nthree\n", false), "one\ntwo three\n");  // bare LF
}

TEST(UnflowTest, SpaceStuffingIsRemovedBeforeTheFlowTest) {
    // A stuffed line: its first space is not content.
    EXPECT_EQ(unflow(" From here\r\n", false), "From here\r\n");
    EXPECT_EQ(unflow(" >not a quote\r\n", false), ">not a quote\r\n");
    // A stuffed flowed line still flows; only one space is stuffing.
    EXPECT_EQ(unflow(" rev \r\n iew\r\n", true), "review\r\n");
    EXPECT_EQ(unflow("  two\r\n", false), " two\r\n");
    // The stuffing space alone is not a flowed line.
    EXPECT_EQ(unflow(" \r\nnext\r\n", true), "\r\nnext\r\n");
}

TEST(UnflowTest, QuotedLinesJoinWithinTheirDepth) {
    EXPECT_EQ(unflow("> Leave a rev \r\n> iew\r\n", true), "> Leave a review\r\n");
    EXPECT_EQ(unflow(">> gi \r\n>>ft card\r\n", true), ">> gift card\r\n");
    EXPECT_EQ(unflow(">\r\n> x\r\n", false), ">\r\n> x\r\n");
    // A flowed line followed by another depth ends its paragraph as a
    // fixed line: its space is kept.
    EXPECT_EQ(unflow("> quoted \r\nreply\r\n", true), "> quoted \r\nreply\r\n");
    EXPECT_EQ(unflow("top \r\n> quoted\r\n", false), "top \r\n> quoted\r\n");
}

TEST(UnflowTest, SignatureSeparatorIsNotFlowed) {
    EXPECT_EQ(unflow("Thanks\r\n-- \r\nAcme Support\r\n", true),
              "Thanks\r\n-- \r\nAcme Support\r\n");
    EXPECT_EQ(unflow("> -- \r\n> Bob\r\n", true), "> -- \r\n> Bob\r\n");
    // Only that exact line: "--  " (two spaces) flows.
    EXPECT_EQ(unflow("--  \r\nx\r\n", true), "-- x\r\n");
}

TEST(UnflowTest, AFlowedLastLineKeepsItsSpace) {
    EXPECT_EQ(unflow("the end ", true), "the end ");
    EXPECT_EQ(unflow("the end \r\n", true), "the end \r\n");
}

// Millions of short flowed lines are joined in one pass.
TEST(UnflowTest, LinearOnManyShortLines) {
    std::string text;
    for (int i = 0; i < 2'000'000; ++i) text += "ab \r\n";
    const auto start = std::chrono::steady_clock::now();
    const std::string out = unflow(text, true);
    const auto spent = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(out.size(), 2'000'000u * 2 + 3);  // the last line keeps its space and CRLF
    EXPECT_LT(spent, std::chrono::seconds(2));
}

class FlowedFormatTest : public ::testing::Test {
protected:
    void SetUp() override { ensure_gmime(); }
    static GPtr<GMimePart> part(const char* content_type) {
        GPtr<GMimeTextPart> p(g_mime_text_part_new());
        GPtr<GMimeContentType> type(g_mime_content_type_parse(nullptr, content_type));
        g_mime_object_set_content_type(GMIME_OBJECT(p.get()), type.get());
        return GPtr<GMimePart>(GMIME_PART(p.release()));
    }
    static std::string content_type(GMimePart* p) {
        GCharPtr s(
            g_mime_content_type_encode(g_mime_object_get_content_type(GMIME_OBJECT(p)), nullptr));
        return s.get();
    }
};

TEST_F(FlowedFormatTest, ReadsFormatAndDelSp) {
    EXPECT_FALSE(flowed_format(part("text/plain; charset=utf-8").get()));
    EXPECT_FALSE(flowed_format(part("text/plain; format=fixed").get()));
    EXPECT_FALSE(flowed_format(part("text/html; format=flowed").get()));
    auto f = flowed_format(part("Text/Plain; Format=Flowed").get());
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->delsp);
    f = flowed_format(part("text/plain; format=flowed; delsp=YES").get());
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->delsp);
    f = flowed_format(part("text/plain; format=flowed; delsp=no").get());
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->delsp);
}

TEST_F(FlowedFormatTest, MarkUnflowedDropsTheParametersAndFitsLongLines) {
    GPtr<GMimePart> p = part("text/plain; charset=us-ascii; Format=flowed; DelSp=yes");
    g_mime_text_part_set_text(GMIME_TEXT_PART(p.get()), (std::string(2000, 'a') + "\r\n").c_str());
    g_mime_part_set_content_encoding(p.get(), GMIME_CONTENT_ENCODING_7BIT);
    mark_unflowed(p.get());
    const std::string type = content_type(p.get());
    EXPECT_EQ(type.find("ormat"), std::string::npos) << type;
    EXPECT_EQ(type.find("elSp"), std::string::npos) << type;
    EXPECT_NE(type.find("charset"), std::string::npos) << type;
    EXPECT_EQ(g_mime_part_get_content_encoding(p.get()), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);

    GPtr<GMimePart> short_lines = part("text/plain; format=flowed");
    g_mime_text_part_set_text(GMIME_TEXT_PART(short_lines.get()), "short\r\n");
    g_mime_part_set_content_encoding(short_lines.get(), GMIME_CONTENT_ENCODING_7BIT);
    mark_unflowed(short_lines.get());
    EXPECT_EQ(g_mime_part_get_content_encoding(short_lines.get()), GMIME_CONTENT_ENCODING_7BIT);
}

}  // namespace
}  // namespace mm::policy
