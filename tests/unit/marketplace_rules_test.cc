// Marketplace rules (policy/marketplace/marketplace_rules.h, fingerprints.h):
// table-driven cases for each rule and their combinations, the repeat
// fingerprint, order ids, trusted tooling, the `marketplace:` loader, and the
// contact-reason corpus tests/data/contact_reasons/<reason>/<lang>/{pos,neg}-N.txt
// run through the packs in etc/policy.yaml: a positive must hit its reason, a
// negative no reason at all.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "policy/marketplace/fingerprints.h"
#include "policy/marketplace/marketplace_rules.h"
#include "policy/policy.h"

namespace mm::policy {
namespace {

namespace fs = std::filesystem;
using alias::Order;
using alias::Party;
using alias::Role;
using alias::ThreadState;
using alias::ThreadUpdate;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::int64_t kDay = 86400;
constexpr const char* kOrder = "123-1234567-1234567";

}  // namespace

// Decisions by name in failure messages.
void PrintTo(Decision d, std::ostream* os) {
    *os << to_string(d);
}

namespace {

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Loads `marketplace:` from a YAML text; the error is "LINE:COL: message".
std::string load_marketplace(const std::string& text, MarketplacePolicy& out) {
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
const MarketplacePolicy& committed_policy() {
    static const std::shared_ptr<const Policy> policy = [] {
        auto p = load_policy((fs::path(MM_SOURCE_DIR) / "etc" / "policy.yaml").string());
        if (!p) throw std::runtime_error("etc/policy.yaml: " + p.error().message);
        return p.value();
    }();
    return policy->marketplace;
}

// ---- scenarios -------------------------------------------------------------

ThreadState no_thread() {
    ThreadState s;
    s.pair_id = 7;
    s.order_id = kOrder;
    return s;
}

// The buyer wrote first `ago` seconds ago; the seller has not answered yet.
ThreadState buyer_thread(std::int64_t ago = 3600) {
    ThreadState s = no_thread();
    s.exists = true;
    s.started_by = Role::buyer;
    s.created = kNow - ago;
    s.last_buyer_at = kNow - ago;
    return s;
}

// The seller wrote first; `unsolicited` seller messages since; the buyer
// wrote `buyer_ago` seconds ago (0: never), before the seller's last.
ThreadState seller_thread(int unsolicited, std::int64_t buyer_ago = 0) {
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

Outcome run(const Scenario& s, const MarketplacePolicy& policy = committed_policy()) {
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

bool has_rule(const MarketplaceDecision& d, const std::string& id) {
    return std::any_of(d.rules.begin(), d.rules.end(),
                       [&](const RuleHit& h) { return h.id == id; });
}

std::string rules_of(const MarketplaceDecision& d) {
    std::string out;
    for (const RuleHit& h : d.rules) out += h.id + " (" + h.detail + "); ";
    return out;
}

void expect_scenario(const Scenario& s, const MarketplacePolicy& policy = committed_policy()) {
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

const std::string kCriticalEn =
    "The courier returned your parcel: the shipping address is missing a house number.";
const std::string kNotCriticalEn = "We hope you enjoy your new lamp. Please leave us a review.";
const std::string kTagged = std::string("[Important] Order ") + kOrder;

Scenario seller(std::string name) {
    Scenario s;
    s.name = std::move(name);
    return s;
}

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

// ---- repeats -----------------------------------------------------------------

TEST(MarketplaceRules, FingerprintIgnoresFormatting) {
    const std::string base =
        "Hi Bob,\n\nYour replacement filter has been sent today.\nIt should arrive within two "
        "days.\n\nBest regards,\nAcme Support\n";
    const std::string fp = fingerprint(base);
    ASSERT_EQ(fp.size(), 64u);
    const std::vector<std::pair<std::string, std::string>> same = {
        {"whitespace",
         "Hi Bob,\r\n  Your replacement   filter has been sent today.  It should "
         "arrive\r\nwithin two days.\r\n\r\nBest regards,\r\nAcme Support"},
        {"case and punctuation",
         "hi bob! YOUR REPLACEMENT FILTER HAS BEEN SENT TODAY!!! it should arrive within two "
         "days..."},
        {"greeting",
         "Dear Mrs. Smith,\nYour replacement filter has been sent today. It should "
         "arrive within two days."},
        {"german greeting",
         "Hallo Bob!\nYour replacement filter has been sent today. It should "
         "arrive within two days."},
        {"no greeting",
         "Your replacement filter has been sent today. It should arrive within two days."},
        {"signature dash",
         "Hello,\nYour replacement filter has been sent today. It should "
         "arrive within two days.\n-- \nAcme Ltd\nwww.acme.example\n"},
        {"other closing",
         "Hi,\nYour replacement filter has been sent today. It should arrive "
         "within two days.\nKind regards\nJane from Acme\n"},
        {"french closing",
         "Bonjour,\nYour replacement filter has been sent today. It should "
         "arrive within two days.\nCordialement,\nAcme"},
        {"quoted",
         "Hi Bob,\nYour replacement filter has been sent today. It should arrive within two "
         "days.\n\nOn Mon, 2 Mar 2026, Bob wrote:\n> Where is my filter?\n> Thanks\n"},
    };
    for (const auto& [name, text] : same) EXPECT_EQ(fingerprint(text), fp) << name;
    EXPECT_NE(fingerprint("Hi Bob,\nYour replacement filter will be sent tomorrow.\nBest "
                          "regards,\nAcme Support"),
              fp);
    EXPECT_EQ(fingerprint(""), "");
    EXPECT_EQ(fingerprint("Hi Bob,\n-- \nAcme"), "");
    EXPECT_EQ(normalize_for_fingerprint("Hi Bob, your order shipped."), "your order shipped");
    EXPECT_EQ(normalize_for_fingerprint("Ciao! Il pacco \xC3\x88 partito."),
              "il pacco \xC3\xA8 partito");
}

TEST(MarketplaceRules, Repeat) {
    const std::string first =
        "Hello Bob,\nWe hope you enjoy your new kettle. Let us know if you need anything.\n"
        "Thanks,\nAcme";
    auto with_history = [&](std::int64_t ago) {
        ThreadState s = seller_thread(0, 2 * kDay);
        s.last_buyer_at = kNow - 3600;  // the seller answers the buyer
        s.last_seller_at = kNow - 7200;
        s.recent_fingerprints = {{fingerprint("something else entirely"), kNow - 60},
                                 {fingerprint(first), kNow - ago}};
        return s;
    };
    Scenario s = seller("repeat with greeting, whitespace, signature and quote changes");
    s.state = with_history(3600);
    s.texts = {
        "Dear Bob!\n\n  we hope you enjoy your new kettle.   Let us know if you need "
        "anything!\n-- \nAcme GmbH\n\n> earlier text\n"};
    s.decision = Decision::reject;
    s.rule = "marketplace.repeat";
    s.reply_contains = "72 hours";
    expect_scenario(s);

    s.name = "repeat in a second text part (HTML alternative)";
    s.texts = {"", "We hope you enjoy your new kettle. Let us know if you need anything."};
    expect_scenario(s);

    s.name = "same text outside the window";
    s.state = with_history(73 * 3600);
    s.decision = Decision::accept;
    s.rule = "marketplace.reply";
    s.reply_contains = "";
    expect_scenario(s);

    s.name = "a genuinely different text passes";
    s.state = with_history(3600);
    s.texts = {"Hello Bob,\nYour kettle comes with a two-year warranty.\nThanks,\nAcme"};
    expect_scenario(s);

    s.name = "a repeat to an opted-out buyer that is otherwise allowed is still a repeat";
    s.optout = true;
    s.texts = {first};
    s.decision = Decision::reject;
    s.rule = "marketplace.repeat";
    expect_scenario(s);

    s.name = "a window of 0 hours switches the rule off";
    s.optout = false;
    MarketplacePolicy off = committed_policy();
    off.repeat_window_hours = 0;
    s.decision = Decision::accept;
    s.rule = "marketplace.reply";
    expect_scenario(s, off);
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
