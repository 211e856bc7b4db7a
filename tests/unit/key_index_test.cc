// The lexicon's look-up table (policy/classify/key_index.h) against the
// standard map it replaced, on keys that collide in the slot array.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "policy/classify/key_index.h"

namespace mm::classify {
namespace {

TEST(KeyIndexTest, EmptyIndexFindsNothing) {
    KeyIndex index;
    EXPECT_TRUE(index.find("review").empty());
    index.freeze();
    EXPECT_TRUE(index.find("review").empty());
    EXPECT_FALSE(index.contains(""));
    EXPECT_EQ(index.size(), 0u);
}

TEST(KeyIndexTest, KeysWithoutIdsAreASet) {
    KeyIndex heads;
    heads[std::string("\x01review", 7)];
    heads.freeze();
    EXPECT_TRUE(heads.contains(std::string("\x01review", 7)));
    EXPECT_TRUE(heads.find(std::string("\x01review", 7)).empty());
    EXPECT_FALSE(heads.contains(std::string("\x02review", 7)));
}

TEST(KeyIndexTest, AgreesWithAStandardMapOnManyKeys) {
    std::mt19937 rng(7);
    std::map<std::string, std::vector<std::uint32_t>> expected;
    KeyIndex index;
    for (std::uint32_t id = 0; id < 20000; ++id) {
        std::string key(1 + rng() % 12, '\0');
        for (char& c : key) c = static_cast<char>('a' + rng() % 4);  // many shared prefixes
        expected[key].push_back(id);
        index[key].push_back(id);
    }
    index.freeze();
    EXPECT_EQ(index.size(), expected.size());
    for (const auto& [key, ids] : expected) {
        const auto found = index.find(key);
        ASSERT_EQ(std::vector<std::uint32_t>(found.begin(), found.end()), ids) << key;
    }
    for (int i = 0; i < 20000; ++i) {
        std::string key(13 + rng() % 4, 'a');  // longer than every key put in
        EXPECT_TRUE(index.find(key).empty());
        key.resize(rng() % 13);
        EXPECT_EQ(index.contains(key), expected.count(key) == 1) << key;
    }
}

}  // namespace
}  // namespace mm::classify
