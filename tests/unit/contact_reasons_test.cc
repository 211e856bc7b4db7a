// The contact reasons of the committed policy (etc/policy.yaml): the corpus
// tests/data/contact_reasons/<reason>/<lang>/{pos,neg}-N.txt run through its
// packs (a positive must hit its reason, a negative no reason at all), and
// the critical reasons found by pattern in each language.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/marketplace_scenarios.h"

namespace mm::policy {
namespace {

namespace fs = std::filesystem;
using namespace marketplace_testing;

// ---- critical reasons by pattern, per language ---------------------------------

TEST(MarketplaceRules, CriticalByPatternInEachLanguage) {
    const fs::path root = fs::path(MM_TEST_DATA) / "contact_reasons";
    const auto& critical = committed_policy().critical_reasons;
    ASSERT_EQ(critical.size(), 3u);
    int n = 0;
    for (const std::string& reason : critical) {
        for (const char* lang : {"en", "de", "fr", "it", "es"}) {
            for (const char* kind : {"pos-1.txt", "pos-2.txt"}) {
                Scenario s = seller(reason + "/" + lang + "/" + kind);
                s.optout = true;
                s.subject = kTagged;
                s.texts = {read_all(root / reason / lang / kind)};
                s.decision = Decision::accept;
                s.rule = "marketplace.critical";
                expect_scenario(s);
                ++n;
            }
            Scenario s = seller(reason + "/" + lang + "/neg-1.txt tagged");
            s.optout = true;
            s.subject = kTagged;
            s.texts = {read_all(root / reason / lang / "neg-1.txt")};
            s.decision = Decision::reject;
            s.rule = "marketplace.important_misuse";
            expect_scenario(s);
        }
    }
    EXPECT_EQ(n, 30);
}

TEST(MarketplaceRules, ContactReasonCorpus) {
    const MarketplacePolicy& p = committed_policy();
    const fs::path root = fs::path(MM_TEST_DATA) / "contact_reasons";
    std::map<std::string, int> per_reason;
    for (const auto& reason_dir : fs::directory_iterator(root)) {
        const std::string reason = reason_dir.path().filename().string();
        bool known =
            std::any_of(p.contact_reasons->rules().begin(), p.contact_reasons->rules().end(),
                        [&](const ContentRule& r) { return r.id == reason; });
        EXPECT_TRUE(known) << "corpus for unknown reason " << reason;
        for (const auto& lang_dir : fs::directory_iterator(reason_dir.path())) {
            int pos = 0, neg = 0;
            for (const auto& file : fs::directory_iterator(lang_dir.path())) {
                const std::string name = file.path().filename().string();
                const std::string text = read_all(file.path());
                std::vector<ContentHit> hits = p.contact_reasons->scan({text});
                std::string got;
                for (const ContentHit& h : hits) got += h.rule_id + "[" + h.language + "] ";
                if (name.rfind("pos-", 0) == 0) {
                    ++pos;
                    EXPECT_TRUE(
                        std::any_of(hits.begin(), hits.end(),
                                    [&](const ContentHit& h) { return h.rule_id == reason; }))
                        << file.path() << " should hit " << reason << ", got: " << got;
                } else {
                    ++neg;
                    EXPECT_TRUE(hits.empty()) << file.path() << " should hit nothing, got: " << got;
                }
                ++per_reason[reason];
            }
            EXPECT_GE(pos, 2) << lang_dir.path();
            EXPECT_GE(neg, 2) << lang_dir.path();
        }
    }
    for (const char* r :
         {"product_customisation", "delivery_scheduling", "shipping_address", "product_inquiry"})
        EXPECT_GE(per_reason[r], 20) << r;
}

}  // namespace
}  // namespace mm::policy
