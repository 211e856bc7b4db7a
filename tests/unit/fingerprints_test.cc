// The repeat fingerprint (policy/marketplace/fingerprints.h) and the repeat
// rule of the marketplace that uses it.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/support/marketplace_scenarios.h"

namespace mm::policy {
namespace {

using namespace marketplace_testing;

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

}  // namespace
}  // namespace mm::policy
