// Marketplace rules (policy/marketplace/marketplace_rules.h): table-driven
// cases for each rule and their combinations, the thread update each decision
// asks for, and the rules under other policy settings.  The repeat rule:
// fingerprints_test.cc; the contact reasons: contact_reasons_test.cc; the
// `marketplace:` loader: marketplace_policy_test.cc.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/support/marketplace_scenarios.h"

namespace mm::policy {
namespace {

using namespace marketplace_testing;

std::vector<Scenario> table() {
    std::vector<Scenario> t;
    auto add = [&](Scenario s) { t.push_back(std::move(s)); };

    // Buyer messages.
    {
        Scenario s;
        s.name = "buyer message to a seller";
        s.writer = Role::buyer;
        s.decision = Decision::accept;
        s.rule = "marketplace.buyer_message";
        add(s);
        s.name = "buyer message while seller on vacation, existing thread";
        s.vacation = true;
        s.away_text = "Back on Monday.";
        s.state = seller_thread(1);
        s.rule = "marketplace.vacation";
        add(s);
        s.name = "new buyer, seller on vacation: away text";
        s.state = no_thread();
        s.decision = Decision::reject;
        s.reply_contains = "Back on Monday.";
        add(s);
        s.name = "new buyer, seller on vacation without away text: default";
        s.away_text = "";
        s.reply_contains = "not accepting new messages";
        add(s);
        s.name = "away text is made one printable line";
        s.away_text = "Im Urlaub bis M\xC3\xA4rz.\r\nDanke!";
        s.reply_contains = "Im Urlaub bis M?rz. Danke!";
        add(s);
        s.name = "buyer opted out writes anyway";
        s = Scenario{};
        s.name = "buyer who opted out still writes to the seller";
        s.writer = Role::buyer;
        s.optout = true;
        s.decision = Decision::accept;
        s.rule = "marketplace.buyer_message";
        add(s);
    }

    // Unsolicited seller messages, buyer not opted out.
    {
        Scenario s = seller("first unsolicited seller message");
        s.decision = Decision::accept;
        s.rule = "marketplace.unsolicited_limit";
        add(s);
        s.name = "second unsolicited message for the order";
        s.state = seller_thread(1);
        s.decision = Decision::reject;
        s.reply_contains = kOrder;
        add(s);
        s.name = "second unsolicited, buyer wrote long ago but before the seller";
        s.state = seller_thread(1, 5 * kDay);
        add(s);
        s.name = "seller answers the buyer's message";
        s.state = buyer_thread();
        s.decision = Decision::accept;
        s.rule = "marketplace.reply";
        s.reply_contains = "";
        add(s);
        s.name = "seller answers the buyer in a thread the seller started";
        s.state = seller_thread(1, 60);
        s.state.last_seller_at = kNow - 3600;  // before the buyer's message
        add(s);
        s.name = "critical message is not limited";
        s.state = seller_thread(1);
        s.subject = kTagged;
        s.texts = {kCriticalEn};
        s.rule = "marketplace.critical";
        add(s);
    }

    // Opt-out.
    {
        Scenario s = seller("opted out, untagged: refused with the opt-out text");
        s.optout = true;
        s.decision = Decision::reject;
        s.rule = "marketplace.optout";
        s.reply_contains =
            std::string("order ") + kOrder + " because the buyer has chosen to opt out";
        add(s);
        s.name = "opted out, refusal says how to send a critical message";
        s.reply_contains = "put [Important] in the subject";
        add(s);
        s.reply_contains = "";
        s.name = "opted out, untagged critical text: still refused";
        s.texts = {kCriticalEn};
        add(s);
        s.name = "opted out, [Important] and critical (patterns)";
        s.subject = kTagged;
        s.decision = Decision::accept;
        s.rule = "marketplace.critical";
        add(s);
        s.name = "opted out, tag case does not matter";
        s.subject = std::string("RE: [IMPORTANT] order ") + kOrder;
        add(s);
        s.name = "opted out, tag without brackets does not count";
        s.subject = std::string("Important: order ") + kOrder;
        s.decision = Decision::reject;
        s.rule = "marketplace.optout";
        add(s);
        s.name = "opted out, [Important] but not critical: misuse";
        s.subject = kTagged;
        s.texts = {kNotCriticalEn};
        s.rule = "marketplace.important_misuse";
        add(s);
        s.name = "not opted out, [Important] but not critical: misuse too";
        s.optout = false;
        add(s);
        s.optout = true;
        s.name = "trusted tooling header names a critical reason";
        s.reason_header = "delivery_scheduling";
        s.trusted = true;
        s.decision = Decision::accept;
        s.rule = "marketplace.critical";
        add(s);
        s.name = "untrusted header is ignored; the text decides";
        s.trusted = false;
        s.decision = Decision::reject;
        s.rule = "marketplace.important_misuse";
        add(s);
        s.name = "untrusted header ignored, critical text passes";
        s.texts = {kCriticalEn};
        s.reason_header = "feedback_request";
        s.decision = Decision::accept;
        s.rule = "marketplace.critical";
        add(s);
        s.name = "trusted header wins over the patterns";
        s.trusted = true;
        s.reason_header = "shipment_confirmation";
        s.decision = Decision::reject;
        s.rule = "marketplace.important_misuse";
        add(s);
        s.name = "trusted header with several reasons, one critical";
        s.reason_header = "product_inquiry, Shipping_Address";
        s.decision = Decision::accept;
        s.rule = "marketplace.critical";
        add(s);
    }
    {
        Scenario s = seller("opted out, buyer started the thread");
        s.optout = true;
        s.state = buyer_thread(60 * kDay);
        s.decision = Decision::accept;
        s.rule = "marketplace.buyer_thread";
        add(s);
        s.name = "opted out, buyer wrote in the seller's thread within the window";
        s.state = seller_thread(0, 10 * kDay);
        add(s);
        s.name = "opted out, buyer wrote outside the window";
        s.state = seller_thread(0, 40 * kDay);
        s.decision = Decision::reject;
        s.rule = "marketplace.optout";
        add(s);
        for (std::string kind : {"handmade", "custom", "wine"}) {
            s.name = "opted out, exempt order kind " + kind;
            s.state = no_thread();
            s.kind = kind;
            s.decision = Decision::accept;
            s.rule = "marketplace.exempt_order";
            add(s);
        }
        s.name = "opted out, exempt order still limited per order";
        s.state = seller_thread(1);
        s.decision = Decision::reject;
        s.rule = "marketplace.unsolicited_limit";
        add(s);
        s.name = "opted out, no order at all";
        s.has_order = false;
        s.state = no_thread();
        s.state.order_id = "";
        s.rule = "marketplace.optout";
        s.reply_contains = "order (none)";
        add(s);
    }

    // FBA and gift returns.
    {
        Scenario s = seller("FBA seller starts a thread");
        s.fulfilment = "fba";
        s.decision = Decision::reject;
        s.rule = "marketplace.fba_reply_only";
        add(s);
        s.name = "FBA seller replies to the buyer";
        s.state = buyer_thread();
        s.decision = Decision::accept;
        add(s);
        s.name = "FBA seller answers a product inquiry first";
        s.state = no_thread();
        s.texts = {"Thank you for your question about the product: the lamp takes E27 bulbs."};
        add(s);
        s.name = "FBA product inquiry via trusted header";
        s.texts = {"See below."};
        s.reason_header = "product_inquiry";
        s.trusted = true;
        add(s);
        s.name = "FBA product inquiry via untrusted header: refused";
        s.trusted = false;
        s.decision = Decision::reject;
        add(s);
    }
    {
        Scenario s = seller("gift return: seller may not start");
        s.kind = "gift-return";
        s.decision = Decision::reject;
        s.rule = "marketplace.gift_return";
        add(s);
        s.name = "gift return: seller may not start even with [Important]";
        s.subject = kTagged;
        s.texts = {kCriticalEn};
        add(s);
        s.name = "gift return: seller answers the buyer";
        s.state = buyer_thread();
        s.decision = Decision::accept;
        s.rule = "marketplace.critical";
        add(s);
        s.name = "gift return: seller thread (should not exist) stays closed";
        s.state = seller_thread(0, 60);
        s.decision = Decision::reject;
        s.rule = "marketplace.gift_return";
        add(s);
    }

    // [Important] per seller per day.
    {
        Scenario s = seller("20th tagged message today passes");
        s.subject = kTagged;
        s.texts = {kCriticalEn};
        s.state.important_today = 19;
        s.decision = Decision::accept;
        s.rule = "marketplace.critical";
        add(s);
        s.name = "21st tagged message today is quarantined";
        s.state.important_today = 20;
        s.decision = Decision::quarantine;
        s.rule = "marketplace.important_quarantine";
        add(s);
        s.name = "past the threshold, opted-out buyer: quarantined, not refused";
        s.optout = true;
        add(s);
        s.name = "past the threshold and not critical: refused (reject wins)";
        s.texts = {kNotCriticalEn};
        s.decision = Decision::reject;
        s.rule = "marketplace.important_misuse";
        add(s);
    }
    return t;
}

TEST(MarketplaceRules, Table) {
    for (const Scenario& s : table()) expect_scenario(s);
}

TEST(MarketplaceRules, UpdateFields) {
    {
        Scenario s;
        s.writer = Role::buyer;
        Outcome r = run(s);
        EXPECT_TRUE(r.d.update.allowed);
        EXPECT_EQ(r.d.update.writer, Role::buyer);
        EXPECT_TRUE(r.d.update.counts_as_buyer_message);
        EXPECT_FALSE(r.d.update.unsolicited);
    }
    {
        Scenario s;
        s.writer = Role::buyer;
        s.auto_reply = true;
        Outcome r = run(s);
        EXPECT_EQ(r.d.decision, Decision::accept);
        EXPECT_TRUE(r.d.update.allowed);
        EXPECT_FALSE(r.d.update.counts_as_buyer_message);
    }
    {
        Scenario s;  // first unsolicited seller message
        Outcome r = run(s);
        EXPECT_EQ(r.d.update.writer, Role::seller);
        EXPECT_TRUE(r.d.update.unsolicited);
        EXPECT_FALSE(r.d.update.counts_as_buyer_message);
        EXPECT_FALSE(r.d.update.important_used);
        EXPECT_EQ(r.d.update.fingerprint, fingerprint(s.texts[0]));
        EXPECT_EQ(r.d.update.fingerprint.size(), 64u);
    }
    {
        Scenario s;
        s.state = buyer_thread();
        EXPECT_FALSE(run(s).d.update.unsolicited);
    }
    {
        Scenario s;  // misuse is counted even though refused
        s.subject = kTagged;
        s.texts = {kNotCriticalEn};
        Outcome r = run(s);
        EXPECT_EQ(r.d.decision, Decision::reject);
        EXPECT_TRUE(r.d.update.important_used);
        s.texts = {kCriticalEn};
        r = run(s);
        EXPECT_TRUE(r.d.update.important_used);
        EXPECT_EQ(r.d.contact_reasons, std::vector<std::string>{"shipping_address"});
    }
}

// A minimal store for sequences, following the contract in marketplace_rules.h.
void apply(ThreadState& s, const ThreadUpdate& u, std::int64_t now) {
    if (u.important_used) ++s.important_today;
    if (!u.allowed) return;
    if (!s.exists) {
        s.exists = true;
        s.started_by = u.writer;
        s.created = now;
    }
    if (u.writer == Role::buyer) {
        if (u.counts_as_buyer_message) {
            s.last_buyer_at = now;
            s.unsolicited_since_buyer = 0;
        }
    } else {
        s.last_seller_at = now;
        if (u.unsolicited) ++s.unsolicited_since_buyer;
    }
    if (!u.fingerprint.empty()) s.recent_fingerprints.emplace_back(u.fingerprint, now);
}

TEST(MarketplaceRules, AutoReplyDoesNotCountAsBuyerWriting) {
    Party buyer;
    buyer.id = "b";
    buyer.address = "b@x.example";
    Party seller;
    seller.id = "s";
    seller.role = Role::seller;
    seller.address = "s@y.example";
    buyer.attributes[alias::kAttrOptout] = "off";
    ThreadState state = no_thread();
    std::optional<Order> order = Order{kOrder, 7, "standard", "fbm", kNow - kDay};
    auto msg = [&](Role writer, std::string text, bool auto_reply, std::int64_t now) {
        bool s = writer == Role::seller;
        const std::vector<std::string> texts{std::move(text)};
        MarketplaceFacts f{.writer = writer,
                           .sender = s ? seller : buyer,
                           .recipient = s ? buyer : seller,
                           .order = order,
                           .order_id = kOrder,
                           .subject = "Order",
                           .texts = texts,
                           .contact_reason_header = "",
                           .trusted_tooling = false,
                           .is_reply = state.exists,
                           .auto_reply = auto_reply,
                           .now = now};
        MarketplaceDecision d = decide(f, state, committed_policy());
        apply(state, d.update, now);
        return d.decision;
    };
    EXPECT_EQ(msg(Role::seller, "Your order has been dispatched today.", false, kNow),
              Decision::accept);
    EXPECT_EQ(msg(Role::buyer, "I am out of the office until Monday.", true, kNow + 60),
              Decision::accept);
    EXPECT_EQ(state.last_buyer_at, 0);
    EXPECT_EQ(msg(Role::seller, "Did the parcel arrive safely?", false, kNow + 120),
              Decision::reject);
    EXPECT_EQ(msg(Role::buyer, "Yes it did, thanks!", false, kNow + 180), Decision::accept);
    EXPECT_EQ(state.unsolicited_since_buyer, 0);
    EXPECT_EQ(msg(Role::seller, "Glad to hear it arrived safely.", false, kNow + 240),
              Decision::accept);
    EXPECT_EQ(msg(Role::seller, "One more thing about the warranty card.", false, kNow + 300),
              Decision::accept);  // the first unsolicited one since the buyer wrote
    EXPECT_EQ(msg(Role::seller, "And another thing about the box.", false, kNow + 360),
              Decision::reject);
}

// ---- policy variants ---------------------------------------------------------

TEST(MarketplaceRules, ImportantActionVariants) {
    MarketplacePolicy p = committed_policy();
    Scenario s = seller("quarantine action");
    s.subject = kTagged;
    s.texts = {kNotCriticalEn};
    p.important_action = MarketplacePolicy::ImportantAction::quarantine;
    s.decision = Decision::quarantine;
    s.rule = "marketplace.important_misuse";
    expect_scenario(s, p);

    p.important_action = MarketplacePolicy::ImportantAction::flag;
    s.name = "flag action, buyer not opted out: delivered";
    s.decision = Decision::accept;
    expect_scenario(s, p);
    s.name = "flag action, opted-out buyer: the opt-out still refuses";
    s.optout = true;
    s.decision = Decision::reject;
    s.rule = "marketplace.optout";
    expect_scenario(s, p);

    p = committed_policy();
    p.important_tag = "[Urgent]";
    s = seller("configured tag");
    s.optout = true;
    s.subject = "[urgent] delivery";
    s.texts = {kCriticalEn};
    s.decision = Decision::accept;
    s.rule = "marketplace.critical";
    expect_scenario(s, p);
    s.name = "the default tag no longer counts";
    s.subject = kTagged;
    s.decision = Decision::reject;
    s.rule = "marketplace.optout";
    expect_scenario(s, p);

    p = committed_policy();
    p.unsolicited_per_order = 2;
    p.exempt_order_kinds = {"wine"};
    s = seller("two unsolicited allowed");
    s.state = seller_thread(1);
    s.decision = Decision::accept;
    s.rule = "marketplace.unsolicited_limit";
    expect_scenario(s, p);
    s.name = "handmade is no longer exempt";
    s.optout = true;
    s.state = no_thread();
    s.kind = "handmade";
    s.decision = Decision::reject;
    s.rule = "marketplace.optout";
    expect_scenario(s, p);

    p = committed_policy();
    p.buyer_window_days = 5;
    s = seller("shorter buyer window");
    s.optout = true;
    s.state = seller_thread(0, 10 * kDay);
    s.decision = Decision::reject;
    s.rule = "marketplace.optout";
    expect_scenario(s, p);

    MarketplacePolicy defaults;  // built in, no patterns: only the header says critical
    s = seller("built-in defaults: trusted header");
    s.optout = true;
    s.subject = kTagged;
    s.texts = {kCriticalEn};
    s.decision = Decision::reject;
    s.rule = "marketplace.important_misuse";
    expect_scenario(s, defaults);
    s.reason_header = "shipping_address";
    s.trusted = true;
    s.decision = Decision::accept;
    s.rule = "marketplace.critical";
    expect_scenario(s, defaults);
}

}  // namespace
}  // namespace mm::policy
