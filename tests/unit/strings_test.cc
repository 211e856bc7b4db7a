// util/strings.h: ASCII-only case folding, whatever the bytes around it.
#include "util/strings.h"

#include <gtest/gtest.h>

namespace mm {
namespace {

TEST(Strings, FoldsAsciiOnly) {
    EXPECT_EQ(to_lower("Bob@Gmail.EXAMPLE"), "bob@gmail.example");
    // UTF-8 bytes and Latin-1 bytes are not letters here.
    EXPECT_EQ(to_lower("\xC3\x84PFEL \xC4"), "\xC3\x84pfel \xC4");
    EXPECT_EQ(lower_char('Z'), 'z');
    EXPECT_EQ(lower_char('['), '[');
    EXPECT_EQ(lower_char('@'), '@');
}

TEST(Strings, CompareIgnoringAsciiCase) {
    EXPECT_TRUE(iequals("Content-Type", "content-TYPE"));
    EXPECT_FALSE(iequals("Content-Type", "Content-Typ"));
    EXPECT_FALSE(iequals("\xC3\x84", "\xC3\xA4"));  // Ä is not ä here
    EXPECT_TRUE(istarts_with("HTTPS://x", "https:"));
    EXPECT_FALSE(istarts_with("http", "https"));
    EXPECT_TRUE(istarts_with("anything", ""));
}

TEST(Strings, Ascii) {
    EXPECT_TRUE(is_ascii(""));
    EXPECT_TRUE(is_ascii("plain \x7f"));
    EXPECT_FALSE(is_ascii("caf\xC3\xA9"));
}

}  // namespace
}  // namespace mm
