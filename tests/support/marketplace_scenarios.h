// The marketplace rules' test scenarios (policy/marketplace/marketplace_rules.h):
// threads in each state, a message described by a Scenario and run through
// decide() with the committed policy (etc/policy.yaml), and what a test
// expects of the decision; the `marketplace:` loader on a YAML text.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/marketplace/fingerprints.h"
#include "policy/marketplace/marketplace_rules.h"
#include "policy/policy.h"

namespace mm::policy {
namespace marketplace_testing {

using alias::Order;
using alias::Party;
using alias::Role;
using alias::ThreadState;
using alias::ThreadUpdate;

inline constexpr std::int64_t kNow = 1'800'000'000;
inline constexpr std::int64_t kDay = 86400;
inline constexpr const char* kOrder = "123-1234567-1234567";

}  // namespace marketplace_testing

// Decisions by name in failure messages.
inline void PrintTo(Decision d, std::ostream* os) {
    *os << to_string(d);
}

namespace marketplace_testing {

inline std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Loads `marketplace:` from a YAML text; the error is "LINE:COL: message".
inline std::string load_marketplace(const std::string& text, MarketplacePolicy& out) {
    YAML::Node root = YAML::Load(text);
    try {
        load_marketplace_section({"marketplace", YAML::Node("marketplace"), root["marketplace"]},
                                 out);
    } catch (const yaml::SchemaError& e) {
        return std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " +
               e.what();
    }
    return "";
}

// The committed policy as the daemon loads it: its contact reasons bound to
// the concepts of etc/concepts.yaml.
inline const MarketplacePolicy& committed_policy() {
    static const std::shared_ptr<const Policy> policy = [] {
        auto p =
            load_policy((std::filesystem::path(MM_SOURCE_DIR) / "etc" / "policy.yaml").string());
        if (!p) throw std::runtime_error("etc/policy.yaml: " + p.error().message);
        return p.value();
    }();
    return policy->marketplace;
}

// ---- scenarios -------------------------------------------------------------

inline ThreadState no_thread() {
    ThreadState s;
    s.pair_id = 7;
    s.order_id = kOrder;
    return s;
}

// The buyer wrote first `ago` seconds ago; the seller has not answered yet.
inline ThreadState buyer_thread(std::int64_t ago = 3600) {
    ThreadState s = no_thread();
    s.exists = true;
    s.started_by = Role::buyer;
    s.created = kNow - ago;
    s.last_buyer_at = kNow - ago;
    return s;
}

// The seller wrote first; `unsolicited` seller messages since; the buyer
// wrote `buyer_ago` seconds ago (0: never), before the seller's last.
inline ThreadState seller_thread(int unsolicited, std::int64_t buyer_ago = 0) {
    ThreadState s = no_thread();
    s.exists = true;
    s.started_by = Role::seller;
    s.created = kNow - 90 * kDay;
    s.last_seller_at = kNow - 600;
    s.last_buyer_at = buyer_ago ? kNow - buyer_ago : 0;
    s.unsolicited_since_buyer = unsolicited;
    return s;
}

struct Scenario {
    std::string name;
    Role writer = Role::seller;
    bool optout = false;
    bool vacation = false;
    std::string away_text;
    bool has_order = true;
    std::string kind = "standard";
    std::string fulfilment = "fbm";
    std::string subject = std::string("Your order ") + kOrder;
    std::vector<std::string> texts = {"Your parcel is on its way and should arrive on Friday."};
    std::string reason_header;
    bool trusted = false;
    bool auto_reply = false;
    ThreadState state = no_thread();
    // Expected.
    Decision decision = Decision::tempfail;
    std::string rule;  // must be among the hits
    std::string reply_contains = "";
};

struct Outcome {
    MarketplaceDecision d;
    Party buyer, seller;
};

inline Outcome run(const Scenario& s, const MarketplacePolicy& policy = committed_policy()) {
    Outcome r;
    r.buyer.id = "b1";
    r.buyer.role = Role::buyer;
    r.buyer.address = "bob@gmail.example";
    r.seller.id = "s1";
    r.seller.role = Role::seller;
    r.seller.address = "support@acme.example";
    if (s.optout) r.buyer.attributes[alias::kAttrOptout] = "on";
    if (s.vacation) r.seller.attributes[alias::kAttrMessaging] = "off";
    if (!s.away_text.empty()) r.seller.attributes[alias::kAttrAwayText] = s.away_text;
    std::optional<Order> order;
    if (s.has_order) order = Order{kOrder, 7, s.kind, s.fulfilment, kNow - 10 * kDay};
    bool seller_writes = s.writer == Role::seller;
    MarketplaceFacts f{.writer = s.writer,
                       .sender = seller_writes ? r.seller : r.buyer,
                       .recipient = seller_writes ? r.buyer : r.seller,
                       .order = order,
                       .order_id = s.has_order ? kOrder : "",
                       .subject = s.subject,
                       .texts = s.texts,
                       .contact_reason_header = s.reason_header,
                       .trusted_tooling = s.trusted,
                       .is_reply = s.state.exists,
                       .auto_reply = s.auto_reply,
                       .now = kNow};
    r.d = decide(f, s.state, policy);
    return r;
}

inline bool has_rule(const MarketplaceDecision& d, const std::string& id) {
    return std::any_of(d.rules.begin(), d.rules.end(),
                       [&](const RuleHit& h) { return h.id == id; });
}

inline std::string rules_of(const MarketplaceDecision& d) {
    std::string out;
    for (const RuleHit& h : d.rules) out += h.id + " (" + h.detail + "); ";
    return out;
}

inline void expect_scenario(const Scenario& s,
                            const MarketplacePolicy& policy = committed_policy()) {
    SCOPED_TRACE(s.name);
    Outcome r = run(s, policy);
    const MarketplaceDecision& d = r.d;
    EXPECT_EQ(d.decision, s.decision) << rules_of(d) << " reply: " << d.reply_text;
    EXPECT_TRUE(has_rule(d, s.rule)) << "want " << s.rule << ", got " << rules_of(d);
    EXPECT_FALSE(d.rules.empty());
    EXPECT_EQ(d.update.allowed, s.decision != Decision::reject);
    if (s.decision == Decision::reject) {
        EXPECT_EQ(d.smtp_code, "550");
        EXPECT_EQ(d.enhanced_code, "5.7.1");
        EXPECT_FALSE(d.reply_text.empty());
    } else {
        EXPECT_TRUE(d.smtp_code.empty());
    }
    if (!s.reply_contains.empty()) {
        EXPECT_NE(d.reply_text.find(s.reply_contains), std::string::npos) << d.reply_text;
    }
    for (char c : d.reply_text) {
        auto u = static_cast<unsigned char>(c);
        EXPECT_TRUE(u >= 0x20 && u < 0x7F) << "reply not printable ASCII: " << d.reply_text;
    }
}

inline const std::string kCriticalEn =
    "The courier returned your parcel: the shipping address is missing a house number.";
inline const std::string kNotCriticalEn =
    "We hope you enjoy your new lamp. Please leave us a review.";
inline const std::string kTagged = std::string("[Important] Order ") + kOrder;

inline Scenario seller(std::string name) {
    Scenario s;
    s.name = std::move(name);
    return s;
}

}  // namespace marketplace_testing
}  // namespace mm::policy
