// scan_bytes (util/byte_scan.h) reports exactly the positions a byte loop
// finds, in order, at every length and alignment (the padded last block
// included), and stops at the first hit that says so.
#include "util/byte_scan.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mm::bytes {
namespace {

bool wanted(unsigned char c) {
    return c == '<' || c == 0 || (c >= '0' && c <= '9') || (c | 0x20) == 'd';
}

Block wanted_in(Block b) {
    return eq(b, '<') | eq(b, 0) | in_range(b, '0', '9') | eq(folded(b), 'd');
}

TEST(ByteScan, ReportsWhatALoopFinds) {
    std::mt19937 rng(7);
    const std::string alphabet = std::string("<09aDd \xFF\x80", 10) + std::string(1, '\0');
    for (int n = 0; n < 20000; ++n) {
        std::string s(rng() % 70, ' ');
        for (char& c : s) c = rng() % 3 ? 'x' : alphabet[rng() % alphabet.size()];
        const std::size_t from = rng() % (s.size() + 1);
        const std::string_view v = std::string_view(s).substr(from);
        std::vector<std::size_t> expected, found;
        for (std::size_t i = 0; i < v.size(); ++i)
            if (wanted(static_cast<unsigned char>(v[i]))) expected.push_back(i);
        EXPECT_FALSE(scan_bytes(v, wanted_in, [&](std::size_t i) {
            found.push_back(i);
            return false;
        }));
        ASSERT_EQ(found, expected) << s;
        if (expected.empty()) continue;
        const std::size_t stop = expected[rng() % expected.size()];
        std::size_t last = 0;
        EXPECT_TRUE(scan_bytes(v, wanted_in, [&](std::size_t i) {
            last = i;
            return i == stop;
        }));
        EXPECT_EQ(last, stop);
    }
}

}  // namespace
}  // namespace mm::bytes
