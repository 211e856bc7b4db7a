// scan_bytes (util/byte_scan.h) reports exactly the positions a byte loop
// finds, in order, at every length and alignment (the padded last block
// included), and stops at the first hit that says so.
#include "util/byte_scan.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mm::bytes {
namespace {

bool wanted(unsigned char c) {
    return c == '<' || c == 0 || (c >= '0' && c <= '9') || (c | 0x20) == 'd';
}

Block wanted_in(const Window& w) {
    const Block b = w.cur;
    return eq(b, '<') | eq(b, 0) | in_range(b, '0', '9') | eq(folded(b), 'd');
}

// A pair: '<' then 'a', and its neighbours as the window shows them.
bool pair_at(std::string_view v, std::size_t i) {
    return v[i] == '<' && i + 1 < v.size() && v[i + 1] == 'a';
}

Block pair_in(const Window& w) {
    return eq(w.cur, '<') & eq(w.next, 'a');
}

bool after_x(std::string_view v, std::size_t i) {
    return i > 0 && v[i - 1] == 'x' && v[i] == '0';
}

Block after_x_in(const Window& w) {
    return eq(w.prev, 'x') & eq(w.cur, '0');
}

TEST(ByteScan, ReportsWhatALoopFinds) {
    std::mt19937 rng(7);
    const std::string alphabet = std::string("<09aDd \xFF\x80x", 11) + std::string(1, '\0');
    for (int n = 0; n < 20000; ++n) {
        std::string s(rng() % 70, ' ');
        for (char& c : s) c = rng() % 3 ? 'x' : alphabet[rng() % alphabet.size()];
        const std::size_t from = rng() % (s.size() + 1);
        const std::string_view v = std::string_view(s).substr(from);
        // (the window must not read before `from`: s[from - 1] is an x now and then)
        std::vector<std::size_t> expected, found;
        for (std::size_t i = 0; i < v.size(); ++i)
            if (wanted(static_cast<unsigned char>(v[i]))) expected.push_back(i);
        EXPECT_FALSE(scan_bytes(v, wanted_in, [&](std::size_t i) {
            found.push_back(i);
            return false;
        }));
        ASSERT_EQ(found, expected) << s;
        for (auto [want, in] : {std::pair{&pair_at, &pair_in}, std::pair{&after_x, &after_x_in}}) {
            std::vector<std::size_t> e2, f2;
            for (std::size_t i = 0; i < v.size(); ++i)
                if (want(v, i)) e2.push_back(i);
            scan_bytes(v, in, [&](std::size_t i) {
                f2.push_back(i);
                return false;
            });
            ASSERT_EQ(f2, e2) << s;
        }
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
