// normalize_text: what each folding does, what it leaves alone, and that
// every byte of the result maps back to the source bytes it came from.
#include "policy/rules/text_normalize.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mm::policy {
namespace {

std::string words(std::string_view s) {
    return normalize_text(s, Normalize::words).text;
}
std::string characters(std::string_view s) {
    return normalize_text(s, Normalize::characters).text;
}

// A table of inputs and what normalising them by `how` makes of them: one
// assertion a row.
struct Case {
    std::string_view input, expected;
};
void expect_normalized(Normalize how, std::initializer_list<Case> cases) {
    for (const Case& c : cases) {
        SCOPED_TRACE(c.input);
        EXPECT_EQ(normalize_text(c.input, how).text, c.expected);
    }
}

// The source bytes behind the first occurrence of `what` in the result.
std::string source_of(std::string_view source, Normalize how, std::string_view what) {
    NormalizedText n = normalize_text(source, how);
    std::size_t at = n.text.find(what);
    if (at == std::string::npos) return "(not found in \"" + n.text + "\")";
    auto [b, e] = n.source_span(at, at + what.size());
    return std::string(source.substr(b, e - b));
}

// ---- characters --------------------------------------------------------------

TEST(NormalizeCharacters, AsciiIsUnchanged) {
    const std::string text = "Call +49 30 1234 5678, Order 10 items, size 42.\r\n\tEnd";
    NormalizedText n = normalize_text(text, Normalize::characters);
    EXPECT_EQ(n.text, text);
    EXPECT_TRUE(n.characters.identity());
    EXPECT_EQ(n.source_span(5, 20), std::make_pair(std::size_t{5}, std::size_t{20}));
}

TEST(NormalizeCharacters, InvisibleCharactersAreRemoved) {
    // U+200B..U+200D, U+2060, U+FEFF, U+00AD, U+202E (bidi override).
    expect_normalized(
        Normalize::characters,
        {{"a\u200Bb\u200Cc\u200Dd\u2060e\uFEFFf\u00ADg\u202Eh", "abcdefgh"}, {"\u200B", ""}});
}

TEST(NormalizeCharacters, NfkcFoldsCompatibilityForms) {
    expect_normalized(
        Normalize::characters,
        {
            {"\uFF0B\uFF14\uFF19 \U0001D7D1\U0001D7D5", "+49 37"},  // full-width, math
            {"name\uFF20host\uFF0Eexample", "name@host.example"},
            {"a\u00A0b", "a b"},
            {"e\u0301", "\u00E9"},  // composed
            // Case and letters of other scripts are left to `words`.
            {"R\u0435view", "R\u0435view"},
        });
}

TEST(NormalizeCharacters, InvalidUtf8IsKept) {
    const std::string text = "caf\xe9 \xff\xfe ok";
    EXPECT_EQ(characters(text), text);
}

TEST(NormalizeCharacters, SpansMapBackOverRemovedCharacters) {
    const std::string src = "mail: jo\u200Bhn@\u00ADgmail.com!";
    EXPECT_EQ(source_of(src, Normalize::characters, "john@gmail.com"),
              "jo\u200Bhn@\u00ADgmail.com");
    EXPECT_EQ(source_of(src, Normalize::characters, "!"), "!");
    EXPECT_EQ(source_of("\uFF14\uFF19 x", Normalize::characters, "9"), "\uFF19");
}

// A letter and thousands of combining marks is normalised in segments of a
// bounded length (ICU's reordering is quadratic in one): every mark is kept,
// and a letter and its marks still compose.
TEST(NormalizeCharacters, LongMarkRunsAreCutIntoSegmentsAndKept) {
    EXPECT_EQ(characters("e\u0301"), "\u00E9");
    std::string zalgo = "a";
    for (int i = 0; i < 5000; ++i) zalgo += "\u0301\u0316";
    const std::string out = characters(zalgo);
    auto count = [&](std::string_view mark) {
        std::size_t n = 0;
        for (std::size_t p = out.find(mark); p != std::string::npos; p = out.find(mark, p + 1)) ++n;
        return n;
    };
    EXPECT_EQ(count("\u0316"), 5000u);
    EXPECT_GE(count("\u0301"), 4999u);
    EXPECT_LE(out.size(), zalgo.size());
}

// ---- words ----------------------------------------------------------------------

TEST(NormalizeWords, CaseIsFolded) {
    EXPECT_EQ(words("Gift CARD \u00C9T\u00C9 STRASSE Stra\u00DFe"),
              "gift card \u00E9t\u00E9 strasse stra\u00DFe");
}

TEST(NormalizeWords, LookAlikeLettersBecomeLatin) {
    // Cyrillic е о а р с, Greek ο ν, Cyrillic capital І and Greek capital Ι.
    expect_normalized(Normalize::words, {
                                            {"r\u0435vi\u0435w", "review"},
                                            {"c\u043Eup\u043En", "coupon"},
                                            {"\u0440\u0430yp\u0430l", "paypal"},
                                            {"\u0441ash", "cash"},
                                            {"\u03BF\u03BDer", "over"},
                                            {"R\u0415V\u0406EW", "review"},
                                            {"REV\u0399EW", "review"},
                                        });
}

TEST(NormalizeWords, LatinLettersOfOurLanguagesStay) {
    const std::string text = "\u00E9t\u00E9 \u00FCber se\u00F1or gar\u00E7on \u0153il \u00DF";
    EXPECT_EQ(words(text), text);
}

TEST(NormalizeWords, LetterSpacedWordsAreJoined) {
    expect_normalized(Normalize::words,
                      {
                          {"g i f t  c a r d", "gift card"},
                          {"a free g i f t for you", "a free gift for you"},
                          {"r e v 1 e w", "review"},
                          // Two single letters, or mostly digits, are not a spaced word.
                          {"plan a b", "plan a b"},
                          {"box 3 x 4 x 5", "box 3 x 4 x 5"},
                          {"rows 1 2 3 4", "rows 1 2 3 4"},
                      });
}

// Letters spaced by any one separator, repeated alike: a run of spaces or
// tabs, or one of . - _ * / · •.  Punctuation needs four members, so
// abbreviations stay.
TEST(NormalizeWords, LettersSpacedByOtherSeparatorsAreJoined) {
    expect_normalized(
        Normalize::words,
        {
            {"a r.e.v.i.e.w here", "a review here"},
            {"a g-i-f-t card", "a gift card"},
            {"a r  e  v  i  e  w and", "a review and"},
            {"r\te\tv\ti\te\tw", "review"},
            {"on W-h-a-t-s-A-p-p", "on whatsapp"},
            {"to u-n-s-u-b-s-c-r-i-b-e.", "to unsubscribe."},
            {"r_e_v_i_e_w r*e*v*i*e*w r/e/v/i/e/w", "review review review"},
            {"r\u00B7e\u00B7v\u00B7i\u00B7e\u00B7w g\u2022i\u2022f\u2022t", "review gift"},
            {"I.n.s.t.a.g.r.a.m.", "instagram."},
            {"Big S.A.L.E: now", "big sale: now"},
            {"web-s-h-o-p", "web-shop"},
            {"g i f t  c a r d", "gift card"},
            {"r  e  v  i  e  w  g  i  f  t", "reviewgift"},
            // Separators that differ make no word.
            {"r.e-v.i-e", "r.e-v.i-e"},
            {"a. b. c. d.", "a. b. c. d."},
        });
}

TEST(NormalizeWords, AbbreviationsDatesAndListsStay) {
    expect_normalized(Normalize::words,
                      {
                          {"e.g. this, i.e. that", "e.g. this, i.e. that"},
                          {"the U.S. and the U.S.A.", "the u.s. and the u.s.a."},
                          {"on 05.11.2026 at 10.30", "on 05.11.2026 at 10.30"},
                          {"EUR 12.50 - 3 x 4", "eur 12.50 - 3 x 4"},
                          {"well-known a-b x-ray T-shirt", "well-known a-b x-ray t-shirt"},
                          {"a) b) c)", "a) b) c)"},
                          {"1.2.3.4 and 1-2-3-4 and a.1.2.3", "1.2.3.4 and 1-2-3-4 and a.1.2.3"},
                          {"Hello.  I  am  here", "hello.  i  am  here"},
                          {"x - y - z", "x - y - z"},
                      });
}

// A chain of single characters that is no spaced word is passed once, not
// once from each of its members.
TEST(NormalizeWords, ChainsThatAreNoWordCostOnePass) {
    std::string digits;
    for (int i = 0; i < 200000; ++i) digits += "1 ";
    const std::string long_chain = words(digits + "and r e v i e w");
    EXPECT_EQ(long_chain.size(), digits.size() + 10);
    EXPECT_TRUE(long_chain.ends_with(" and review"));
    // The earliest members that are a spaced word are joined.
    EXPECT_EQ(words("1 1 1 1 1 a b c"), "1 1 1 11abc");
    EXPECT_EQ(words("1 1 a b c d"), "11abcd");
    EXPECT_EQ(words("a.b c d e"), "a.bcde");
}

TEST(NormalizeWords, ASingleLetterBeforeASpacedWordIsReadBothWays) {
    NormalizedText n = normalize_text("for a r e v i e w", Normalize::words);
    EXPECT_EQ(n.text, "for areview");
    ASSERT_TRUE(n.run_after_article);
    const std::vector<Reading> others = other_readings(n);
    ASSERT_EQ(others.size(), 1u);
    NormalizedText apart = normalize_text("for a r e v i e w", Normalize::words, others[0]);
    EXPECT_EQ(apart.text, "for a review");
    auto [b, e] = apart.source_span(6, 12);
    EXPECT_EQ(std::string("for a r e v i e w").substr(b, e - b), "r e v i e w");
    // "g i f t" has no such choice.
    EXPECT_FALSE(normalize_text("a free g i f t", Normalize::words).run_after_article);
}

TEST(NormalizeWords, DigitsInsideWordsReadAsLetters) {
    expect_normalized(Normalize::words,
                      {
                          {"r3v13w", "review"},
                          {"g1ft c4rd", "gift card"},
                          {"fr33 st0ck 4ll", "fr33 stock 4ll"},  // only between two letters
                          {"c@rd", "card"},
                      });
    NormalizedText n = normalize_text("fo11ow g1ft", Normalize::words);
    EXPECT_EQ(n.text, "foiiow gift");
    ASSERT_TRUE(n.one_as_letter);
    ASSERT_EQ(other_readings(n).size(), 1u);
    EXPECT_EQ(normalize_text("fo11ow g1ft", Normalize::words, other_readings(n)[0]).text,
              "follow glft");
}

// Latin letters with marks past U+024F, and marks NFKC leaves on a Latin
// letter, read as the letter; small capitals as their letter.
TEST(NormalizeWords, OtherLatinLettersReadAsTheirLetter) {
    expect_normalized(Normalize::words,
                      {
                          {"\u1E5B\u1EB9\u1E7F\u1ECB\u1EB9\u1E89", "review"},
                          {"g\u0331i\u0331f\u0331\u1E6F", "gift"},
                          {"\u1E56\u1EA1\u1E8F\u1E56\u1EA1\u1E37", "paypal"},
                          {"\u0280\u1D07\u1D20\u026A\u1D07\u1D21", "review"},
                          {"\u0262\u026A\uA730\u1D1B", "gift"},
                          {"\u026A\u0274\uA731\u1D1B\u1D00\u0262\u0280\u1D00\u1D0D", "instagram"},
                          {"\uA731\u1D00\u029F\u1D07", "sale"},
                          {"\u0435\u0323", "e"},
                          {"\u00E9\u0331t\u00E9", "\u00E9t\u00E9"},
                      });
    // Marks on letters of other scripts stay.
    EXPECT_EQ(words("\u0915\u093F"), "\u0915\u093F");
    EXPECT_EQ(words("\u05E9\u05C1"), "\u05E9\u05C1");
}

// A word hyphenated at a line break is one word; "\/" and "vv" after a
// letter and '!', '|', '9' between letters are read as letters.
TEST(NormalizeWords, HyphensAtLineBreaksAndSymbolsForLetters) {
    expect_normalized(Normalize::words,
                      {
                          {"a re-\nview and a gi-\nft", "a review and a gift"},
                          {"unsub-\r\n   scribe", "unsubscribe"},
                          {"rev!ew g!ft rev|ew", "review gift review"},
                          {"re\\/iew revi3vv", "review review"},
                          {"vvhatsapp", "whatsapp"},
                          // Italian doubles its v inside words.
                          {"davvero, avviso, savvy, vv", "davvero, avviso, savvy, vv"},
                          {"a 9ift, a g9ft", "a 9ift, a ggft"},
                          // Not between letters, or not at a line break: as written.
                          {"well-known, -\nx, a -\nb, 3-\n4", "well-known, -\nx, a -\nb, 3-\n4"},
                          {"Hi! You? No!", "hi! you? no!"},
                          {"a | b, \\/ x", "a | b, \\/ x"},
                          {"1Z999AA10", "1z999aa10"},
                      });
    NormalizedText n = normalize_text("rev!ew", Normalize::words);
    ASSERT_TRUE(n.one_as_letter);
    EXPECT_EQ(normalize_text("rev!ew", Normalize::words, other_readings(n)[0]).text, "revlew");
    EXPECT_EQ(source_of("a re-\nview.", Normalize::words, "review"), "re-\nview");
    EXPECT_EQ(source_of("a revi3vv.", Normalize::words, "review"), "revi3vv");
    EXPECT_EQ(source_of("a re\\/iew.", Normalize::words, "review"), "re\\/iew");
}

// Text inside a right-to-left override is shown reversed, and read so.
TEST(NormalizeWords, OverriddenTextReadsAsShown) {
    expect_normalized(Normalize::words,
                      {
                          {"a \u202Eweiver\u202C and", "a review and"},
                          {"a \u202Etf\u0456g\u202C card", "a gift card"},
                          {"call \u202E87654321 6710\u202C now", "call 0176 12345678 now"},
                          {"\u2067\u202Eweiver\u2069 x", "review x"},
                          // To the end of the line without a PDF; a letter keeps its marks.
                          {"x\u202Eb\u0915\u093Fc\ny", "xc\u0915\u093Fb\ny"},
                          {"\u202E\u202E\u202Eabc", "cba"},
                      });
    EXPECT_EQ(source_of("a \u202Eweiver\u202C.", Normalize::words, "review"), "\u202Eweiver\u202C");
    // Redaction's characters are as written.
    EXPECT_EQ(characters("\u202Eweiver\u202C"), "weiver");
}

TEST(NormalizeWords, OrdinaryTextKeepsItsMeaning) {
    expect_normalized(Normalize::words,
                      {
                          {"Order 10 items, size 42", "order 10 items, size 42"},
                          {"Save 20% on 3 pairs, $5 off, 10euro, 1st, 3rd, mp3, 4x4, B2B",
                           "save 20% on 3 pairs, $5 off, 10euro, 1st, 3rd, mp3, 4x4, b2b"},
                          {"Tracking 1Z999AA10123456784 on 2026-11-23",
                           "tracking 1z999aa10123456784 on 2026-11-23"},
                          // An address keeps its '@'.
                          {"paypal@shop.example", "paypal@shop.example"},
                      });
    EXPECT_TRUE(other_readings(normalize_text("Order 10 items", Normalize::words)).empty());
}

TEST(NormalizeWords, SentenceEndsAreNotAdded) {
    // U+2026 and the full-width full stop would become '.', which ends the
    // sentence a pattern keeps to.
    expect_normalized(Normalize::words,
                      {{"leave a review\u2026 get a gift", "leave a review\u2026 get a gift"},
                       {"a\uFF0Eb", "a\uFF0Eb"}});
}

TEST(NormalizeWords, EveryTrickAtOnce) {
    const std::string src =
        "L\u200Beave a r\u0435v\u00AD1\u0435w and we s e n d you a  g 1 f t  c 4 r d";
    EXPECT_EQ(words(src), "leave a review and we send you a  gift card");
}

TEST(NormalizeWords, SpansMapBackToTheSource) {
    const std::string src = "Hi! G I F T  C A R D for a r\u0435v13w.";
    for (auto [what, source] :
         {std::pair<std::string_view, std::string_view>{"gift card", "G I F T  C A R D"},
          {"review", "r\u0435v13w"},
          {"for", "for"},
          {".", "."}})
        EXPECT_EQ(source_of(src, Normalize::words, what), source) << what;
}

TEST(NormalizeWords, RunsAndSwapsAnywhereInTheText) {
    expect_normalized(Normalize::words, {
                                            {"(g i f t)", "(gift)"},
                                            {"caf\u00E9 g i f t", "caf\u00E9 gift"},
                                            {"\u0433 \u0435 v i \u0435 w", "review"},
                                            {"\u00E9t\u00E9 c0up0n", "\u00E9t\u00E9 coupon"},
                                            {"x\nr e v", "x\nrev"},
                                        });
}

// The characters pass notes where a run or a swap may be, and the words pass
// runs only then: a text after a prefix that has both must come out as it
// does alone.
TEST(NormalizeWords, ScoutingSkipsNothing) {
    const std::string prefix = "x y z a1b . ";
    const std::string alone = words(prefix);
    ASSERT_EQ(alone, "xyz aib . ");
    const std::vector<std::string> bits = {
        "a",    "b",      "i",      "1",       "3",       "0",       "@",      " ",
        "  ",   ".",      "\u00E9", "\u0435",  "\u200B",  "\u00AD",  "-",      "x.y",
        "word", "\uFF13", "\u00A0", "g i f t", " a b c ", "e\u0301", "\t",     "_",
        "*",    "/",      "!",      "|",       "9",       "\u00B7",  "\u2022", "\\/",
        "vv",   "-\n",    "\u0280", "\u0331",  "r.e.v",   "\u202E",  "\u202C"};
    std::mt19937 rng(4242);
    for (int round = 0; round < 30000; ++round) {
        std::string text;
        const int n = 1 + static_cast<int>(rng() % 24);
        for (int k = 0; k < n; ++k) text += bits[rng() % bits.size()];
        if (text.starts_with("e\u0301") || text.starts_with("\u0301")) continue;
        ASSERT_EQ(words(prefix + text), alone + words(text)) << "\"" << text << "\"";
    }
}

TEST(NormalizeWords, HostileInputIsHarmless) {
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "a \u200B\xff\u0301 ";
    NormalizedText n = normalize_text(text, Normalize::words);
    auto [b, e] = n.source_span(0, n.text.size());
    EXPECT_LE(b, e);
    EXPECT_LE(e, text.size());
    EXPECT_EQ(words(""), "");
}

}  // namespace
}  // namespace mm::policy
