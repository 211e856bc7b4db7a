// The stored outcome of a committed message (policy/marketplace/retry.h):
// encode_outcome writes what nlohmann::json's dump() writes for it, byte for
// byte (encode_outcome_by_library), and decode_outcome reads it back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "policy/marketplace/retry.h"

namespace mm::policy {
namespace {

using nlohmann::json;

std::string random_text(std::mt19937& rng, bool ascii_only) {
    std::string s(rng() % 12, ' ');
    for (char& c : s) {
        const unsigned pick = rng() % 10;
        if (pick < 6)
            c = static_cast<char>(0x20 + rng() % 0x60);  // printable and DEL
        else if (pick < 8)
            c = static_cast<char>(rng() % 0x20);  // control characters
        else if (pick < 9)
            c = "\"\\/"[rng() % 3];
        else
            c = static_cast<char>(ascii_only ? 'x' : 0x80 + rng() % 0x80);
    }
    return s;
}

MarketplaceDecision random_decision(std::mt19937& rng, bool ascii_only) {
    MarketplaceDecision d;
    d.update.allowed = rng() % 2;
    d.update.writer = rng() % 2 ? alias::Role::buyer : alias::Role::seller;
    d.update.counts_as_buyer_message = rng() % 2;
    d.update.unsolicited = rng() % 2;
    d.update.fingerprint = random_text(rng, ascii_only);
    d.update.important_used = rng() % 2;
    d.update.counts_as_reply = rng() % 2;
    d.decision = static_cast<Decision>(rng() % 5);
    d.smtp_code = random_text(rng, ascii_only);
    d.enhanced_code = random_text(rng, ascii_only);
    d.reply_text = random_text(rng, ascii_only);
    for (unsigned n = rng() % 4; n > 0; --n)
        d.rules.push_back({random_text(rng, ascii_only), random_text(rng, ascii_only)});
    for (unsigned n = rng() % 3; n > 0; --n)
        d.contact_reasons.push_back(random_text(rng, ascii_only));
    return d;
}

TEST(EncodeOutcome, WritesWhatTheLibraryWrites) {
    std::mt19937 rng(18);
    for (int i = 0; i < 20000; ++i) {
        const MarketplaceDecision d = random_decision(rng, true);
        const std::string encoded = encode_outcome(d);
        ASSERT_EQ(encoded, encode_outcome_by_library(d)) << "case " << i;
        const auto back = decode_outcome(encoded);
        ASSERT_TRUE(back) << encoded;
        EXPECT_EQ(encode_outcome(*back), encoded);
    }
}

// Text that is not ASCII is the library's: the same bytes when it is UTF-8,
// the same exception when it is not.
TEST(EncodeOutcome, TextBeyondAsciiIsTheLibrarysToJudge) {
    std::mt19937 rng(15);
    for (int i = 0; i < 5000; ++i) {
        const MarketplaceDecision d = random_decision(rng, false);
        std::string want, got, want_error, got_error;
        try {
            want = encode_outcome_by_library(d);
        } catch (const json::exception& e) {
            want_error = e.what();
        }
        try {
            got = encode_outcome(d);
        } catch (const json::exception& e) {
            got_error = e.what();
        }
        ASSERT_EQ(got, want) << "case " << i;
        ASSERT_EQ(got_error, want_error) << "case " << i;
    }
    MarketplaceDecision d;
    d.reply_text = "caf\xc3\xa9";
    EXPECT_EQ(encode_outcome(d), encode_outcome_by_library(d));
    d.reply_text = "caf\xc3";
    EXPECT_THROW(encode_outcome(d), json::exception);
}

}  // namespace
}  // namespace mm::policy
