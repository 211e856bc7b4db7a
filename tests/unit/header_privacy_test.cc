// header_removals() (allow and block mode) and recipient_header_edits()
// (To/Cc reduced to this pair's aliases).  Every edit list is applied with
// apply_edits() to check that the edits are consistent, not only listed.
#include "policy/rewrite/header_privacy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/evaluate.h"
#include "policy/mime/gmime_ptr.h"

namespace mm::policy {
namespace {

const std::string kDomain = "marketplace.example";
const AliasMailbox kBuyer{"b0b0b0b0b0b0b0b0@marketplace.example", "Bob Buyer"};
const AliasMailbox kSeller{"5e11e75e11e75e11@marketplace.example", "Acme Store"};
const std::string kOtherPair = "0123456789abcdef@marketplace.example";

Message parse(const std::string& headers) {
    auto m = parse_message(headers + "\r\nbody\r\n");
    EXPECT_TRUE(m) << headers;
    return m ? std::move(m.value()) : Message{};
}

Message applied(const Message& in, const std::vector<HeaderEdit>& edits) {
    Message out = in.clone();
    Envelope env;
    Edits e;
    e.headers = edits;
    apply_edits(e, out, env);
    return out;
}

std::vector<std::string> names(const Message& m) {
    std::vector<std::string> out;
    for (const auto& h : m.headers) out.push_back(h.name);
    return out;
}

// ---- header_removals ------------------------------------------------------

// A message with every kind of header a relay's tracker has seen leak.
const char* kLeaky =
    "Return-Path: <support@acme.example>\r\n"
    "Received: from mail.acme.example (mail.acme.example [192.0.2.7])\r\n\tby mx.example\r\n"
    "Received: from [10.0.0.3] by mail.acme.example\r\n"
    "Received-SPF: pass (acme.example: 192.0.2.7 is permitted)\r\n"
    "Authentication-Results: mx.example; dkim=pass header.d=acme.example\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=acme.example; s=sel; b=abc\r\n"
    "ARC-Seal: i=1; a=rsa-sha256; d=acme.example; b=abc\r\n"
    "ARC-Message-Signature: i=1; d=acme.example; b=abc\r\n"
    "From: Acme Support <support@acme.example>\r\n"
    "To: b0b0b0b0b0b0b0b0@marketplace.example\r\n"
    "Subject: Your order\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@mail.acme.example>\r\n"
    "List-Unsubscribe: <mailto:unsub@acme.example>\r\n"
    "X-Mailer: Acme Mailer 2.1\r\n"
    "User-Agent: Thunderbird/115\r\n"
    "Reply-To: support@acme.example\r\n"
    "Thread-Index: AdnVx0Q3zQ==\r\n"
    "Thread-Topic: Your order\r\n"
    "X-Marketplace-Audit: forged\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "Content-Language: en\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "X-Priority: 1\r\n";

struct RemovalCase {
    const char* label;
    HeaderPolicy policy;
    std::vector<std::string> kept;  // header names left, in order
    bool keeps_all = false;         // instead: every header of the message
};
std::ostream& operator<<(std::ostream& os, const RemovalCase& c) {
    return os << c.label;
}

HeaderPolicy block(std::vector<std::string> remove) {
    HeaderPolicy p;
    p.mode = HeaderPolicy::Mode::block;
    p.remove = std::move(remove);
    return p;
}
HeaderPolicy allow_minus(std::vector<std::string> remove) {
    HeaderPolicy p;
    p.remove = std::move(remove);
    return p;
}

class RemovalTest : public ::testing::TestWithParam<RemovalCase> {};

TEST_P(RemovalTest, LeavesExactlyTheseHeaders) {
    const Message in = parse(kLeaky);
    auto edits = header_removals(in, GetParam().policy);
    for (const auto& e : edits) EXPECT_EQ(e.op, HeaderEdit::Op::remove);
    EXPECT_EQ(names(applied(in, edits)), GetParam().keeps_all ? names(in) : GetParam().kept);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, RemovalTest,
    ::testing::Values(
        RemovalCase{"allow_default",
                    HeaderPolicy{},
                    // X-Marketplace-* is left to evaluate (always removed there).
                    {"From", "To", "Subject", "Date", "Message-ID", "X-Marketplace-Audit",
                     "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
                     "Content-Language", "Auto-Submitted", "X-Priority"}},
        RemovalCase{
            "allow_minus_content_language",
            allow_minus({"content-language", "x-priority"}),
            {"From", "To", "Subject", "Date", "Message-ID", "X-Marketplace-Audit", "MIME-Version",
             "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted"}},
        RemovalCase{"allow_cannot_remove_what_is_rewritten",
                    [] {
                        HeaderPolicy p;
                        p.keep = {"subject"};
                        return p;
                    }(),
                    {"From", "To", "Subject", "Message-ID", "X-Marketplace-Audit"}},
        RemovalCase{"block_list",
                    block({"received", "arc-*", "dkim-signature", "x-mailer", "message-id"}),
                    {"Return-Path",
                     "Received-SPF",
                     "Authentication-Results",
                     "From",
                     "To",
                     "Subject",
                     "Date",
                     "Message-ID",
                     "List-Unsubscribe",
                     "User-Agent",
                     "Reply-To",
                     "Thread-Index",
                     "Thread-Topic",
                     "X-Marketplace-Audit",
                     "MIME-Version",
                     "Content-Type",
                     "Content-Transfer-Encoding",
                     "Content-Language",
                     "Auto-Submitted",
                     "X-Priority"}},
        RemovalCase{"block_empty_removes_nothing", block({}), {}, true}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(HeaderRemovals, RepeatedNamesGoHighestIndexFirstWithTheCaseSeenFirst) {
    const Message in = parse("received: a\r\nSubject: s\r\nRECEIVED: b\r\nReceived: c\r\n");
    auto edits = header_removals(in, HeaderPolicy{});
    ASSERT_EQ(edits.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(edits[i].name, "received");
        EXPECT_EQ(edits[i].index, 3 - i);
    }
}

TEST(HeaderRemovals, PatternsAndPassing) {
    const struct {
        const char* pattern;
        const char* name;
        bool matches;
    } patterns[] = {
        {"content-*", "Content-Type", true}, {"content-*", "content-", true},
        {"content-*", "Content", false},     {"subject", "SUBJECT", true},
        {"subject", "Subject2", false},
    };
    for (const auto& p : patterns)
        EXPECT_EQ(header_pattern_matches(p.pattern, p.name), p.matches)
            << p.pattern << " " << p.name;
    // By the default policy; Bcc is owned by recipient_header_edits.
    for (const char* name : {"Bcc", "In-Reply-To"})
        EXPECT_TRUE(header_passes(HeaderPolicy{}, name)) << name;
    for (const char* name : {"Thread-Topic", "Resent-From"})
        EXPECT_FALSE(header_passes(HeaderPolicy{}, name)) << name;
}

// ---- recipient_header_edits -------------------------------------------------

struct RcptCase {
    const char* label;
    std::string headers;  // To/Cc/Bcc lines of the message sent to kBuyer
    // Expected To / Cc after the edits ("" = no such header); decoded names.
    std::string to;
    std::string cc;
    int removed;  // addresses dropped
    int other_aliases;
    bool edited;
};
std::ostream& operator<<(std::ostream& os, const RcptCase& c) {
    return os << c.label;
}

class RecipientTest : public ::testing::TestWithParam<RcptCase> {};

// The header's addresses as "name <addr>, ..." decoded by GMime, to compare
// meaning rather than encoding.
std::string decoded(const std::string* value) {
    if (value == nullptr) return "";
    ensure_gmime();
    GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, value->c_str()));
    if (!list) return "<unparsable>";
    std::string out;
    for (int i = 0; i < internet_address_list_length(list.get()); ++i) {
        InternetAddress* a = internet_address_list_get_address(list.get(), i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(a)) return "<group>";
        const char* name = internet_address_get_name(a);
        if (!out.empty()) out += ", ";
        if (name && *name) out += std::string(name) + " ";
        out +=
            "<" + std::string(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))) + ">";
    }
    return out;
}

TEST_P(RecipientTest, OnlyThisPairsAliasesRemain) {
    const RcptCase& tc = GetParam();
    const Message in = parse("From: x@acme.example\r\n" + tc.headers + "Subject: s\r\n");
    RecipientEdits r = recipient_header_edits(in, kDomain, kBuyer, kSeller);
    EXPECT_EQ(r.changed(), tc.edited);
    EXPECT_EQ(r.removed_addresses, tc.removed);
    EXPECT_EQ(r.removed_other_aliases, tc.other_aliases);
    for (const auto& e : r.edits) {
        EXPECT_TRUE(e.name == "To" || e.name == "Cc" || e.name == "Bcc") << e.name;
        EXPECT_EQ(e.value.find('\n'), std::string::npos) << e.value;
    }
    const Message out = applied(in, r.edits);
    EXPECT_LE(out.count("To"), 1);
    EXPECT_LE(out.count("Cc"), 1);
    EXPECT_EQ(out.count("Bcc"), 0);
    EXPECT_EQ(decoded(out.find("To")), tc.to);
    EXPECT_EQ(decoded(out.find("Cc")), tc.cc);
    std::string wire = serialize(out);
    for (const std::string& leak :
         std::vector<std::string>{"gmail", "carol", "boss", kOtherPair, "Team", "555"})
        EXPECT_EQ(wire.find(leak), std::string::npos) << wire;
}

const std::string B = kBuyer.address;
const std::string S = kSeller.address;

INSTANTIATE_TEST_SUITE_P(
    Cases, RecipientTest,
    ::testing::Values(
        RcptCase{"clean_alias_only", "To: " + B + "\r\n", "<" + B + ">", "", 0, 0, false},
        RcptCase{"clean_with_directory_name",
                 "To: Bob Buyer <" + B + ">\r\nCc: Acme Store <" + S + ">\r\n",
                 "Bob Buyer <" + B + ">", "Acme Store <" + S + ">", 0, 0, false},
        RcptCase{"clean_upper_case_alias", "To: <B0B0B0B0B0B0B0B0@MARKETPLACE.EXAMPLE>\r\n",
                 "<B0B0B0B0B0B0B0B0@MARKETPLACE.EXAMPLE>", "", 0, 0, false},
        RcptCase{"real_address_beside_alias_in_to", "To: " + B + ", Bob <bob@gmail.example>\r\n",
                 "<" + B + ">", "", 1, 0, true},
        RcptCase{"real_addresses_in_cc_removed_whole",
                 "To: " + B + "\r\nCc: bob@gmail.example,\r\n\tboss@acme.example\r\n",
                 "<" + B + ">", "", 2, 0, true},
        RcptCase{"other_pairs_alias_dropped",
                 "To: " + B + "\r\nCc: " + kOtherPair + ", " + S + "\r\n", "<" + B + ">",
                 "<" + S + ">", 1, 1, true},
        RcptCase{"only_real_address_in_to_becomes_alias", "To: Bob <bob@gmail.example>\r\n",
                 "Bob Buyer <" + B + ">", "", 1, 0, true},
        RcptCase{"no_to_at_all_gets_one", "Bcc: " + B + "\r\n", "Bob Buyer <" + B + ">", "", 0, 0,
                 true},
        RcptCase{"alias_only_in_cc_moves_to_to", "To: " + S + "\r\nCc: " + B + "\r\n",
                 "<" + B + ">, <" + S + ">", "", 0, 0, true},
        RcptCase{"group_flattened_to_its_aliases", "To: Team: " + B + ", carol@acme.example;\r\n",
                 "<" + B + ">", "", 1, 0, true},
        RcptCase{"empty_group_replaced", "To: undisclosed-recipients:;\r\n",
                 "Bob Buyer <" + B + ">", "", 0, 0, true},
        RcptCase{"sender_typed_name_replaced", "To: \"bob@gmail.example\" <" + B + ">\r\n",
                 "Bob Buyer <" + B + ">", "", 0, 0, true},
        RcptCase{"encoded_name_phone_replaced",
                 "To: =?utf-8?q?call_me_555=2D1234?= <" + B + ">\r\n", "Bob Buyer <" + B + ">", "",
                 0, 0, true},
        RcptCase{"encoded_real_address_dropped",
                 "To: " + B + ", =?utf-8?b?Qm9i?= <bob@gmail.example>\r\n", "<" + B + ">", "", 1, 0,
                 true},
        RcptCase{"two_to_fields_merged", "To: " + B + "\r\nTo: bob@gmail.example, " + S + "\r\n",
                 "<" + B + ">, <" + S + ">", "", 1, 0, true},
        RcptCase{"duplicate_in_cc_dropped", "To: " + B + "\r\nCc: " + B + "\r\n", "<" + B + ">", "",
                 0, 0, true},
        RcptCase{"stray_text_rewritten", "To: " + B + ", bob at gmail@\r\n", "<" + B + ">", "", 0,
                 0, true},
        RcptCase{"bcc_removed", "To: " + B + "\r\nBcc: bob@gmail.example\r\nBcc: x@y.example\r\n",
                 "<" + B + ">", "", 0, 0, true}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(RecipientHeaders, NonAsciiDirectoryNameIsRfc2047Encoded) {
    const AliasMailbox cafe{B, "Café Müller"};
    const Message in = parse("To: bob@gmail.example\r\n");
    RecipientEdits r = recipient_header_edits(in, kDomain, cafe, kSeller);
    ASSERT_EQ(r.edits.size(), 1u);
    EXPECT_EQ(r.edits[0].op, HeaderEdit::Op::change);
    EXPECT_TRUE(r.edits[0].value.starts_with("=?")) << r.edits[0].value;
    for (unsigned char c : r.edits[0].value) EXPECT_LT(c, 0x80) << r.edits[0].value;
    const Message out = applied(in, r.edits);
    EXPECT_EQ(decoded(out.find("To")), "Café Müller <" + B + ">");
}

TEST(RecipientHeaders, EditsForOneNameNeverConflict) {
    const Message in = parse("To: a@x.example\r\nCc: " + B + "\r\nTo: " + S +
                             "\r\nCc: c@x.example\r\nCc: d@x.example\r\n");
    RecipientEdits r = recipient_header_edits(in, kDomain, kBuyer, kSeller);
    // Per name: removals strictly descending, and a change only of index 1
    // after the removals of the higher ones.
    for (const char* name : {"To", "Cc"}) {
        int last = 1 << 30;
        bool changed = false;
        for (const auto& e : r.edits) {
            if (e.name != name) continue;
            EXPECT_FALSE(changed) << name << ": an edit after the change";
            if (e.op == HeaderEdit::Op::remove) {
                EXPECT_LT(e.index, last);
                last = e.index;
            } else {
                EXPECT_EQ(e.op, HeaderEdit::Op::change);
                EXPECT_EQ(e.index, 1);
                changed = true;
            }
        }
    }
    const Message out = applied(in, r.edits);
    // The alias was in Cc without a name: moved to To as it was written.
    EXPECT_EQ(decoded(out.find("To")), "<" + B + ">, <" + S + ">");
    EXPECT_EQ(out.count("Cc"), 0);
}

}  // namespace
}  // namespace mm::policy
