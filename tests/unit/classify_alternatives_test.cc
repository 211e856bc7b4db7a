// `{a|b}` in a lexicon entry: the entry stands for every combination of its
// alternatives, so a negation beside any of a dozen channels is one line.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "policy/classify/lexicon_yaml.h"
#include "tests/support/lexicon_samples.h"

namespace mm::classify {
namespace {

using lexicon_samples::concepts_in;
using lexicon_samples::lexicon_error;

std::shared_ptr<const Lexicon> lexicon() {
    static const auto lx = load_lexicon(YAML::Load("languages: [en]\n"
                                                   "concepts:\n"
                                                   "  DECLINED:\n"
                                                   "    en: [\"{cannot|can t} {accept|take} ... "
                                                   "{transfer*|paypal}\", \"rather {|not} "
                                                   "by cheque\"]\n"),
                                        "c.yaml")
                               .value();
    return lx;
}

bool declined(const std::string& text) {
    return !concepts_in(*lexicon(), text).empty();
}

TEST(ClassifyAlternatives, EveryCombinationIsAnEntry) {
    EXPECT_TRUE(declined("We cannot accept bank transfers."));
    EXPECT_TRUE(declined("We can't take PayPal, sorry."));
    EXPECT_TRUE(declined("We cannot take a transfer."));
    EXPECT_FALSE(declined("We cannot ship a transfer."));
    EXPECT_FALSE(declined("We accept transfers."));
}

TEST(ClassifyAlternatives, AnEmptyAlternativeDropsTheWord) {
    EXPECT_TRUE(declined("Rather by cheque, please."));
    EXPECT_TRUE(declined("Rather not by cheque."));
}

TEST(ClassifyAlternatives, BadBracesAndTooManyCombinationsAreRefusedAtTheirPlace) {
    const std::string head = "languages: [en]\nconcepts:\n  X:\n    en: [";
    EXPECT_EQ(lexicon_error(head + "\"{accept|take paypal\"]\n"),
              "c.yaml:4:10: concept X en '{accept|take paypal': unbalanced or nested { }");
    EXPECT_EQ(lexicon_error(head + "\"{a{b}|c} paypal\"]\n"),
              "c.yaml:4:10: concept X en '{a{b}|c} paypal': unbalanced or nested { }");
    EXPECT_EQ(lexicon_error(head + "\"accept} paypal\"]\n"),
              "c.yaml:4:10: concept X en 'accept} paypal': unbalanced or nested { }");
    std::string many = "\"";
    for (int i = 0; i < 5; ++i) many += "{aaaa|bbbb|cccc|dddd|eeee|ffff} ";
    many += "paypal\"]\n";
    const std::string error = lexicon_error(head + many);
    EXPECT_NE(error.find("c.yaml:4:10: concept X en '"), std::string::npos) << error;
    EXPECT_NE(error.find("': more than 4096 combinations"), std::string::npos) << error;
}

}  // namespace
}  // namespace mm::classify
