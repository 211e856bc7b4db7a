// The `marketplace:` section (policy/marketplace/marketplace_policy.h): the
// committed policy as loaded, the loader's errors, and the order ids and
// trusted tooling it configures.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/marketplace_scenarios.h"

namespace mm::policy {
namespace {

using namespace marketplace_testing;

// ---- order ids, trusted tooling -------------------------------------------------

TEST(MarketplaceRules, OrderId) {
    const MarketplacePolicy& p = committed_policy();
    Message m;
    m.headers = {{"Subject", "Re: your order 402-1234567-7654321 has shipped"}};
    EXPECT_EQ(extract_order_id(m, p), "402-1234567-7654321");
    m.headers.push_back({"X-Marketplace-Order", " 111-2223334-4445556 "});
    EXPECT_EQ(extract_order_id(m, p), "111-2223334-4445556");
    m.headers.back().value = "bad value; with spaces";
    EXPECT_EQ(extract_order_id(m, p), "402-1234567-7654321");
    m.headers = {{"Subject", "order 40-1234567-7654321 or 4021-1234567-7654321"}};
    EXPECT_EQ(extract_order_id(m, p), std::nullopt);
    m.headers = {};
    EXPECT_EQ(extract_order_id(m, p), std::nullopt);

    MarketplacePolicy q;
    ASSERT_EQ(load_marketplace("marketplace:\n  order_subject_regex: 'ORD-\\d+'\n", q), "");
    m.headers = {{"Subject", "about ord-42 please"}};
    EXPECT_EQ(extract_order_id(m, q), "ord-42");
}

TEST(MarketplaceRules, TrustedTooling) {
    MarketplacePolicy p;
    ASSERT_EQ(load_marketplace("marketplace:\n  trusted_tooling:\n    clients: [192.0.2.10, "
                               "198.51.100.0/24, '2001:db8::/32']\n    senders: "
                               "[Tool@Seller-Tools.example]\n",
                               p),
              "");
    EXPECT_TRUE(is_trusted_tooling(p, "192.0.2.10", ""));
    EXPECT_TRUE(is_trusted_tooling(p, "[198.51.100.77]", ""));
    EXPECT_TRUE(is_trusted_tooling(p, "::ffff:198.51.100.1", ""));
    EXPECT_TRUE(is_trusted_tooling(p, "IPv6:2001:db8::1", ""));
    EXPECT_FALSE(is_trusted_tooling(p, "192.0.2.11", ""));
    EXPECT_FALSE(is_trusted_tooling(p, "198.51.101.1", ""));
    EXPECT_FALSE(is_trusted_tooling(p, "2001:db9::1", ""));
    EXPECT_FALSE(is_trusted_tooling(p, "not an ip", ""));
    EXPECT_TRUE(is_trusted_tooling(p, "203.0.113.5", "<tool@seller-tools.example>"));
    EXPECT_FALSE(is_trusted_tooling(p, "203.0.113.5", "other@seller-tools.example"));
    EXPECT_FALSE(is_trusted_tooling(MarketplacePolicy{}, "127.0.0.1", "tool@x.example"));
}

// ---- loader -----------------------------------------------------------------------

TEST(MarketplaceRules, CommittedPolicyLoads) {
    const MarketplacePolicy& p = committed_policy();
    EXPECT_EQ(p.important_tag, "[Important]");
    EXPECT_EQ(p.important_action, MarketplacePolicy::ImportantAction::reject);
    EXPECT_EQ(p.important_daily_threshold, 20);
    EXPECT_EQ(p.buyer_window_days, 30);
    EXPECT_EQ(p.unsolicited_per_order, 1);
    EXPECT_EQ(p.repeat_window_hours, 72);
    EXPECT_EQ(p.exempt_order_kinds, (std::vector<std::string>{"handmade", "custom", "wine"}));
    EXPECT_EQ(p.critical_reasons,
              (std::vector<std::string>{"product_customisation", "delivery_scheduling",
                                        "shipping_address"}));
    EXPECT_EQ(p.fba_product_inquiry_reason, "product_inquiry");
    EXPECT_EQ(p.contact_reasons->rules().size(), 4u);
    // Each reason speaks all five languages: through its `when:` (a concept
    // without a language is refused at load) or through its patterns.
    for (const ContentRule& r : p.contact_reasons->rules()) {
        if (!r.when.empty()) continue;
        std::vector<std::string> langs;
        for (const auto& pat : r.patterns)
            if (std::find(langs.begin(), langs.end(), pat.language) == langs.end())
                langs.push_back(pat.language);
        EXPECT_EQ(langs.size(), 5u) << r.id;
    }
    EXPECT_NE(p.messages.opted_out.find("{order}"), std::string::npos);
}

TEST(MarketplaceRules, LoaderErrors) {
    MarketplacePolicy p;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"marketplace:\n  important_tagg: x\n",
         "2:3: unknown key 'important_tagg' in 'marketplace'"},
        {"marketplace:\n  important_action: drop\n",
         "2:21: marketplace.important_action: unknown action"},
        {"marketplace:\n  unsolicited_per_order: -1\n",
         "2:26: marketplace.unsolicited_per_order: -1 is out of range"},
        {"marketplace:\n  order_subject_regex: '(['\n",
         "2:24: marketplace.order_subject_regex: missing ]"},
        {"marketplace:\n  trusted_tooling:\n    clients: [300.1.1.1]\n",
         "3:15: marketplace.trusted_tooling.clients: expected an IP"},
        {"marketplace:\n  trusted_tooling:\n    senders: ['not an address']\n",
         "3:15: marketplace.trusted_tooling.senders: expected an email"},
        {"marketplace:\n  messages:\n    opted_out: \"two\\nlines\"\n",
         "3:16: marketplace.messages.opted_out: must be one line"},
        {"marketplace:\n  contact_reasons:\n    - id: a\n      critical: true\n      patterns:\n"
         "        en: ['ok', '(unclosed']\n",
         "6:20: marketplace.contact_reasons[0].patterns.en pattern 2: missing )"},
        {"marketplace:\n  contact_reasons:\n    - id: a\n      patterns:\n        xx: ['a']\n",
         "5:9: unknown key 'xx'"},
        {"marketplace:\n  contact_reasons:\n    - id: a\n      critical: true\n    - id: A\n",
         "5:11: marketplace.contact_reasons[1]: duplicate reason id 'a'"},
        {"marketplace:\n  fba_product_inquiry_reason: a\n  contact_reasons:\n    - id: a\n",
         "4:5: marketplace.contact_reasons: no reason is critical"},
        {"marketplace:\n  fba_product_inquiry_reason: asking\n  contact_reasons:\n    - id: a\n    "
         "  critical: true\n",
         "2:31: marketplace.fba_product_inquiry_reason: 'asking' is not one of contact_reasons"},
    };
    for (const auto& [yaml_text, want] : cases) {
        std::string err = load_marketplace(yaml_text, p);
        EXPECT_EQ(err.substr(0, want.size()), want) << yaml_text;
    }
    // A failed load leaves the policy as it was.
    EXPECT_EQ(p.important_action, MarketplacePolicy::ImportantAction::reject);
    EXPECT_EQ(p.unsolicited_per_order, 1);
}

}  // namespace
}  // namespace mm::policy
