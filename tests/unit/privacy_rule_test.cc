// redact_text and the `privacy:` section.  The negative cases are the
// numbers a marketplace message is full of and that must survive: order ids,
// dates, prices, tracking numbers, ZIP codes.
#include "policy/rules/privacy_rule.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace mm::policy {
namespace {

const std::string kDomain = "marketplace.example";

struct RedactCase {
    const char* label;
    const char* text;
    const char* expected;
    std::vector<std::string> kinds;
};

std::ostream& operator<<(std::ostream& os, const RedactCase& c) {
    return os << c.label;
}

const RedactCase kCases[] = {
    // Emails.
    {"email", "write to john.doe@gmail.com please", "write to [redacted] please", {"email"}},
    {"email_upper", "JOHN@GMAIL.COM", "[redacted]", {"email"}},
    {"email_plus_sub", "x a.b+shop@mail.shop.co.uk.", "x [redacted].", {"email"}},
    {"email_unicode", "müller@bücher.de", "[redacted]", {"email"}},
    {"email_in_angle", "<seller@shop.example>", "<[redacted]>", {"email"}},
    {"alias_kept",
     "reply to b-7f3a9c@marketplace.example",
     "reply to b-7f3a9c@marketplace.example",
     {}},
    {"alias_case", "B-7F3A@MarketPlace.Example", "B-7F3A@MarketPlace.Example", {}},
    {"alias_with_digits_kept",
     "order-0301234567@marketplace.example",
     "order-0301234567@marketplace.example",
     {}},
    {"subdomain_not_alias", "x@mail.marketplace.example", "[redacted]", {"email"}},
    {"lookalike_not_alias", "x@marketplace.example.com", "[redacted]", {"email"}},
    // Phones.
    {"us_parens", "Call (555) 123-4567 today", "Call [redacted] today", {"phone"}},
    {"us_dashes", "Call 555-123-4567.", "Call [redacted].", {"phone"}},
    {"us_dots", "555.123.4567", "[redacted]", {"phone"}},
    {"us_spaces", "tel 555 123 4567", "tel [redacted]", {"phone"}},
    {"us_tollfree", "1-800-555-1234", "[redacted]", {"phone"}},
    {"intl_us", "+1 (555) 123-4567", "[redacted]", {"phone"}},
    {"intl_de", "Tel.: +49 30 1234 5678", "Tel.: [redacted]", {"phone"}},
    {"intl_de_trunk", "+49 (0)30 1234567", "[redacted]", {"phone"}},
    {"intl_compact", "+4915112345678", "[redacted]", {"phone"}},
    {"intl_00", "0049 30 1234567", "[redacted]", {"phone"}},
    {"intl_uk", "+44 20 7946 0958", "[redacted]", {"phone"}},
    {"intl_fr", "+33 6 12 34 56 78", "[redacted]", {"phone"}},
    {"de_national", "Ruf an: 030 1234567", "Ruf an: [redacted]", {"phone"}},
    {"de_slash", "030/1234567", "[redacted]", {"phone"}},
    {"de_parens", "(030) 1234567", "[redacted]", {"phone"}},
    {"de_mobile", "mobil 01711234567", "mobil [redacted]", {"phone"}},
    {"fr_national", "06 12 34 56 78", "[redacted]", {"phone"}},
    {"fr_dots", "06.12.34.56.78", "[redacted]", {"phone"}},
    {"uk_national", "020 7946 0958", "[redacted]", {"phone"}},
    {"after_zip", "10115 Berlin, 030 1234567", "10115 Berlin, [redacted]", {"phone"}},
    {"both",
     "Mail me at a@b.de or call 555-123-4567",
     "Mail me at [redacted] or call [redacted]",
     {"email", "phone"}},
    // Numbers that are not phone numbers.
    {"order_id", "Order 123-1234567-1234567 shipped", "Order 123-1234567-1234567 shipped", {}},
    {"order_id_zero", "Order 403-0123456-7891011", "Order 403-0123456-7891011", {}},
    {"iso_date", "on 2026-11-23 at 10:30", "on 2026-11-23 at 10:30", {}},
    {"eu_date", "am 05.11.2026 um 14:30", "am 05.11.2026 um 14:30", {}},
    {"eu_date_dash", "05-11-2026 14", "05-11-2026 14", {}},
    {"us_date", "11/23/2026", "11/23/2026", {}},
    {"price",
     "Total: $1,234,567.89 (EUR 1.299.000,00)",
     "Total: $1,234,567.89 (EUR 1.299.000,00)",
     {}},
    {"decimal", "ratio 0.1234567", "ratio 0.1234567", {}},
    {"ups", "Tracking: 1Z999AA10123456784", "Tracking: 1Z999AA10123456784", {}},
    {"usps", "9400 1000 0000 0000 0000 00", "9400 1000 0000 0000 0000 00", {}},
    {"usps_compact", "9400111899223857261234", "9400111899223857261234", {}},
    {"fedex", "FedEx 449044304137821", "FedEx 449044304137821", {}},
    {"zip", "Springfield, IL 62704", "Springfield, IL 62704", {}},
    {"zip4", "Boston, MA 02134-1234", "Boston, MA 02134-1234", {}},
    {"de_zip", "10115 Berlin", "10115 Berlin", {}},
    {"leading_zero_id", "Invoice 0001234567", "Invoice 0001234567", {}},
    {"sku", "SKU AB-0301234567-X", "SKU AB-0301234567-X", {}},
    {"url_path",
     "https://shop.example/item/0301234567",
     "https://shop.example/item/0301234567",
     {}},
    {"short", "call 12345 or 030 123", "call 12345 or 030 123", {}},
    {"quantity", "qty 3, size 42, 2 x 19.99", "qty 3, size 42, 2 x 19.99", {}},
    {"isbn", "ISBN 978-3-16-148410-0", "ISBN 978-3-16-148410-0", {}},
    // Invisible characters and compatibility forms (text_normalize.h).
    {"email_zero_width", "mail jo\u200Bhn@gm\u00ADail.com now", "mail [redacted] now", {"email"}},
    {"email_full_width_at", "john\uFF20gmail\uFF0Ecom", "[redacted]", {"email"}},
    {"phone_nbsp", "call +49\u00A0170\u00A01234567.", "call [redacted].", {"phone"}},
    {"phone_full_width",
     "call \uFF0B\uFF14\uFF19 \uFF11\uFF17\uFF10 \uFF11\uFF12\uFF13\uFF14\uFF15\uFF16\uFF17",
     "call [redacted]",
     {"phone"}},
    {"phone_zero_width", "555\u200B-123\u2060-4567", "[redacted]", {"phone"}},
    {"order_id_nbsp", "Order\u00A0123-1234567-1234567", "Order\u00A0123-1234567-1234567", {}},
    // Spread over blanks (spaced_contacts.h): replaced where they stand.
    {"email_letter_spaced",
     "write to j o h n @ g m a i l . c o m now",
     "write to [redacted] now",
     {"email"}},
    {"email_spaced_dots", "mail john . smith @ gmail . com", "mail [redacted]", {"email"}},
    {"email_blank_after_at", "mail john@ gmail.com now", "mail [redacted] now", {"email"}},
    {"email_blank_before_at", "john @gmail.com", "[redacted]", {"email"}},
    {"phone_digit_spaced", "call 0 1 7 6 1 2 3 4 5 6 7 now", "call [redacted] now", {"phone"}},
    {"phone_half_spaced", "call 0176 1 2 3 4 5 6 7", "call [redacted]", {"phone"}},
    {"phone_few_spaced", "call 0176 1 2 3 45678", "call [redacted]", {"phone"}},
    {"alias_spaced_kept",
     "reply to b-7f3a9c @ marketplace.example",
     "reply to b-7f3a9c @ marketplace.example",
     {}},
    {"at_home_not_an_address", "see me @ home . Thanks", "see me @ home . Thanks", {}},
    {"handle_not_an_address", "follow us @shopname today", "follow us @shopname today", {}},
    {"single_letters", "Sizes S M L and a b c d e", "Sizes S M L and a b c d e", {}},
    {"steps", "steps 1 2 3 4 5 6 7 8 9", "steps 1 2 3 4 5 6 7 8 9", {}},
    // Labels glued on, and the separators people type (review 14).
    {"label_colon", "Tel:0176 12345678", "Tel:[redacted]", {"phone"}},
    {"label_colon_intl", "WhatsApp:+49 176 12345678", "WhatsApp:[redacted]", {"phone"}},
    {"label_comma", "Number,0176 1234 5678", "Number,[redacted]", {"phone"}},
    {"underscores", "_0176 12345678_", "_[redacted]_", {"phone"}},
    {"sentence_glued", "0176 12345678.Thanks", "[redacted].Thanks", {"phone"}},
    {"double_spaces", "call 0176  1234  5678", "call [redacted]", {"phone"}},
    {"en_dashes", "call 0176\u20131234\u20135678", "call [redacted]", {"phone"}},
    {"spaced_slash", "call 0176 / 123 456 78", "call [redacted]", {"phone"}},
    {"group_in_parens", "call 0176 (1234) 5678", "call [redacted]", {"phone"}},
    {"domain_kept", "see 0301234567.example.com", "see 0301234567.example.com", {}},
    {"path_kept", "see shop/0301234567.html", "see shop/0301234567.html", {}},
    {"id_underscore_kept", "ref id_0301234567", "ref id_0301234567", {}},
    // Spelled out (spaced_contacts.h).
    {"spelled_parens", "mail john(at)gmail(dot)com now", "mail [redacted] now", {"email"}},
    {"spelled_brackets", "john [at] gmail [.] com", "[redacted]", {"email"}},
    {"spelled_words", "write john at gmail dot com", "write [redacted]", {"email"}},
    {"spelled_spanish", "juan arroba gmail punto com", "[redacted]", {"email"}},
    {"spelled_dot_only", "john@gmail[.]com", "[redacted]", {"email"}},
    {"at_a_shop_kept", "we are at amazon.de today", "we are at amazon.de today", {}},
    {"at_a_time_kept",
     "meet at 5 point 30 or at the point",
     "meet at 5 point 30 or at the point",
     {}},
    {"spelled_alias_kept",
     "reply to b-7f3a9c(at)marketplace(dot)example",
     "reply to b-7f3a9c(at)marketplace(dot)example",
     {}},
    {"empty", "", "", {}},
};

class Redact : public ::testing::TestWithParam<RedactCase> {};

TEST_P(Redact, Text) {
    const RedactCase& c = GetParam();
    RedactResult r = redact_text(c.text, RedactPolicy{}, kDomain);
    EXPECT_EQ(r.text, c.expected);
    std::vector<std::string> kinds;
    for (const auto& red : r.redactions) kinds.push_back(red.kind);
    EXPECT_EQ(kinds, c.kinds);
}

INSTANTIATE_TEST_SUITE_P(Cases, Redact, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(RedactText, FoundHoldsTheRemovedText) {
    RedactResult r = redact_text("a@b.de and +49 30 1234 5678 end", RedactPolicy{}, kDomain);
    ASSERT_EQ(r.redactions.size(), 2u);
    EXPECT_EQ(r.redactions[0].kind, "email");
    EXPECT_EQ(r.redactions[0].found, "a@b.de");
    EXPECT_EQ(r.redactions[1].kind, "phone");
    EXPECT_EQ(r.redactions[1].found, "+49 30 1234 5678");
}

TEST(RedactText, FoundIsTheTextAsNormalised) {
    RedactResult r = redact_text("x jo\u200Bhn@gmail.com y", RedactPolicy{}, kDomain);
    ASSERT_EQ(r.redactions.size(), 1u);
    EXPECT_EQ(r.redactions[0].found, "john@gmail.com");
    EXPECT_EQ(r.text, "x [redacted] y");
}

TEST(RedactText, CustomMarker) {
    RedactPolicy p;
    p.marker = "***";
    EXPECT_EQ(redact_text("x@y.com / 555-123-4567", p, kDomain).text, "*** / ***");
}

TEST(RedactText, EmailsOff) {
    RedactPolicy p;
    p.emails = false;
    RedactResult r = redact_text("x@y.com / 555-123-4567", p, kDomain);
    EXPECT_EQ(r.text, "x@y.com / [redacted]");
    ASSERT_EQ(r.redactions.size(), 1u);
    EXPECT_EQ(r.redactions[0].kind, "phone");
}

TEST(RedactText, EmailsOffStillNoPhoneInsideAnAddress) {
    RedactPolicy p;
    p.emails = false;
    EXPECT_EQ(redact_text("x0301234567@y.com", p, kDomain).text, "x0301234567@y.com");
    EXPECT_EQ(redact_text("0301234567@y.com", p, kDomain).text, "0301234567@y.com");
}

TEST(RedactText, PhonesOff) {
    RedactPolicy p;
    p.phones = false;
    EXPECT_EQ(redact_text("x@y.com / 555-123-4567", p, kDomain).text, "[redacted] / 555-123-4567");
}

TEST(RedactText, BothOffChangesNothing) {
    RedactPolicy p;
    p.emails = p.phones = false;
    RedactResult r = redact_text("x@y.com / 555-123-4567", p, kDomain);
    EXPECT_EQ(r.text, "x@y.com / 555-123-4567");
    EXPECT_TRUE(r.redactions.empty());
}

TEST(RedactText, NoMarketplaceDomainRedactsEveryAddress) {
    EXPECT_EQ(redact_text("b-1@marketplace.example", RedactPolicy{}, "").text, "[redacted]");
}

TEST(RedactText, InvalidUtf8IsHarmless) {
    std::string text = "caf\xe9 555-123-4567 \xff\xfe a@b.de";
    EXPECT_EQ(redact_text(text, RedactPolicy{}, kDomain).text,
              "caf\xe9 [redacted] \xff\xfe [redacted]");
}

// ---- policy.yaml `privacy:` -------------------------------------------------

std::string load(const std::string& text, RedactPolicy& p) {
    YAML::Node root = YAML::Load(text);
    auto it = root.begin();
    yaml::Entry e{it->first.Scalar(), it->first, it->second};
    try {
        load_privacy_section(e, p);
    } catch (const yaml::SchemaError& err) {
        return yaml::where("", err.mark).substr(1) + err.what();
    }
    return "";
}

TEST(PrivacySection, ValidSection) {
    RedactPolicy p;
    ASSERT_EQ(load("privacy:\n"
                   "  redact:\n"
                   "    seller_to_buyer: false\n"
                   "    buyer_to_seller: true\n"
                   "    emails: false\n"
                   "    phones: true\n"
                   "    action: reject\n"
                   "    marker: \"[removed]\"\n",
                   p),
              "");
    EXPECT_FALSE(p.seller_to_buyer);
    EXPECT_TRUE(p.buyer_to_seller);
    EXPECT_FALSE(p.emails);
    EXPECT_TRUE(p.phones);
    EXPECT_EQ(p.action, RedactPolicy::Action::reject);
    EXPECT_EQ(p.marker, "[removed]");
}

TEST(PrivacySection, LeftOutKeysKeepTheDefaults) {
    RedactPolicy p;
    ASSERT_EQ(load("privacy:\n  redact:\n    emails: true\n", p), "");
    // Sellers may not give buyers an address or a number; buyers may.
    EXPECT_TRUE(p.seller_to_buyer);
    EXPECT_FALSE(p.buyer_to_seller);
    EXPECT_TRUE(p.emails);
    EXPECT_TRUE(p.phones);
    EXPECT_EQ(p.action, RedactPolicy::Action::redact);
    EXPECT_EQ(p.marker, "[redacted]");
}

struct SectionError {
    const char* yaml;
    const char* error;
};

class PrivacySectionError : public ::testing::TestWithParam<SectionError> {};

TEST_P(PrivacySectionError, AtTheOffendingNode) {
    RedactPolicy p;
    EXPECT_EQ(load(GetParam().yaml, p), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, PrivacySectionError,
    ::testing::Values(
        SectionError{"privacy:\n  redact:\n    action: redakt\n",
                     "3:13: unknown action 'redakt' (expected redact or reject)"},
        SectionError{"privacy:\n  redact:\n    email: true\n",
                     "3:5: unknown key 'email' in 'privacy.redact'"},
        SectionError{"privacy:\n  redakt: {}\n", "2:3: unknown key 'redakt' in 'privacy'"},
        SectionError{"privacy:\n  redact:\n    phones: yes\n",
                     "3:13: privacy.redact.phones: expected true or false, got 'yes'"},
        SectionError{"privacy:\n  redact:\n    marker: \"\"\n",
                     "3:13: privacy.redact.marker: must not be empty"},
        SectionError{"privacy:\n  redact:\n    marker: \"a\\nb\"\n",
                     "3:13: privacy.redact.marker: must not contain control characters"},
        SectionError{"privacy:\n  redact:\n    emails: true\n    emails: false\n",
                     "4:5: duplicate key 'emails' in 'privacy.redact'"},
        SectionError{"privacy:\n  redact: true\n",
                     "2:11: privacy.redact: expected a mapping, got a scalar"},
        SectionError{"privacy: [redact]\n", "1:10: privacy: expected a mapping, got a list"}));

}  // namespace
}  // namespace mm::policy
