// rewrite_dsn() and is_auto_reply(): bounces as real MTAs write them
// (Postfix, Exchange, qmail) lose every trace of the other side's address and
// mail hosts, keep their status codes, and non-bounces are left alone.
#include "policy/rewrite/dsn_rewrite.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "policy/evaluate.h"
#include "policy/mime/gmime_ptr.h"
#include "util/address.h"

namespace mm::policy {
namespace {

constexpr const char* kDomain = "marketplace.example";
const std::string kBuyerAlias = "b1b2b3b4b5b6b7b8";
const std::string kSellerAlias = "5e5e5e5e5e5e5e5e";
const std::string kBuyerAliasAddr = kBuyerAlias + "@marketplace.example";
const std::string kSellerAliasAddr = kSellerAlias + "@marketplace.example";
const std::string kReturnedId = "0123456789abcdef01234567@marketplace.example";

// The bounce comes back to the seller's alias: the owner is the seller, the
// counterpart (whose traces must vanish) the buyer.
alias::ResolvedAlias seller_side() {
    alias::ResolvedAlias r;
    r.pair = {7, "bob", "acme", kBuyerAlias, kSellerAlias, 0};
    r.owner = {"acme", alias::Role::seller, "support@acme.example", "Acme Store", {}, {}};
    r.counterpart = {"bob",       alias::Role::buyer,      "bob@gmail.example",
                     "Bob Buyer", {"bob.b@yahoo.example"}, {}};
    return r;
}

std::string crlf(std::string s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
        out += s[i];
    }
    return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
        s.replace(p, from.size(), to);
    return s;
}

std::string with_aliases(std::string s) {
    s = replace_all(s, "SELLER_ALIAS", kSellerAliasAddr);
    s = replace_all(s, "BUYER_ALIAS", kBuyerAliasAddr);
    return crlf(s);
}

Message parse(const std::string& raw) {
    auto m = parse_message(raw);
    EXPECT_TRUE(m) << (m ? "" : m.error().message);
    return m ? std::move(m.value()) : Message{};
}

// The message after the rewrite, as the owner receives it.
Message applied(const Message& in, const DsnRewrite& r) {
    Message out;
    out.headers = in.headers;
    out.body = in.body.str();
    Envelope env;
    Edits edits;
    edits.headers = r.header_edits;
    if (r.new_body) edits.body = MessageBody(r.new_body->str());
    apply_edits(edits, out, env);
    return out;
}

void collect_decoded(GMimeObject* obj, std::string& out) {
    if (obj == nullptr) return;
    GMimeHeaderList* list = g_mime_object_get_header_list(obj);
    for (int i = 0, n = g_mime_header_list_get_count(list); i < n; ++i) {
        GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
        out += std::string(g_mime_header_get_name(h)) + ": " + g_mime_header_get_value(h) + "\n";
    }
    if (GMIME_IS_MULTIPART(obj)) {
        auto* mp = GMIME_MULTIPART(obj);
        for (int i = 0, n = g_mime_multipart_get_count(mp); i < n; ++i)
            collect_decoded(g_mime_multipart_get_part(mp, i), out);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner) {
            collect_decoded(GMIME_OBJECT(inner), out);
            collect_decoded(g_mime_message_get_mime_part(inner), out);
        }
    } else if (GMIME_IS_PART(obj)) {
        GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
        if (content == nullptr) return;
        GPtr<GMimeStream> mem(g_mime_stream_mem_new());
        g_mime_data_wrapper_write_to_stream(content, mem.get());
        GByteArray* b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
        if (b) out.append(reinterpret_cast<const char*>(b->data), b->len);
    }
}

// Raw bytes plus every header and decoded part (base64 / QP hide addresses).
std::string everything(const Message& m) {
    const std::string raw = serialize(m);
    std::string out = raw + "\n";
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
    EXPECT_TRUE(msg);
    if (msg) {
        collect_decoded(GMIME_OBJECT(msg.get()), out);
        collect_decoded(g_mime_message_get_mime_part(msg.get()), out);
    }
    return to_lower(out);
}

void expect_no_trace_of_buyer(const std::string& all) {
    for (const char* leak : {"bob@gmail.example", "bob.b@yahoo.example", "gmail.example",
                             "yahoo.example", "192.0.2.", "10.1.2.", "mailer-daemon@mx"})
        EXPECT_EQ(all.find(leak), std::string::npos) << "leaked " << leak << " in:\n" << all;
}

const std::string kPostfixDsn = R"(Received: by mx.gmail.example (Postfix)
	id 3F2A1C0123; Mon, 23 Nov 2026 12:00:05 +0000 (UTC)
Date: Mon, 23 Nov 2026 12:00:05 +0000 (UTC)
From: MAILER-DAEMON@mx.gmail.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: SELLER_ALIAS
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="3F2A1C0123.1795521605/mx.gmail.example"
Content-Transfer-Encoding: 8bit
Message-Id: <20261123120005.3F2A1C0123@mx.gmail.example>

This is a MIME-encapsulated message.

--3F2A1C0123.1795521605/mx.gmail.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.gmail.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<bob@gmail.example>: host mailstore1.gmail.example[192.0.2.31] said: 550
    5.1.1 <bob@gmail.example>... User unknown (in reply to RCPT TO command)

--3F2A1C0123.1795521605/mx.gmail.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.gmail.example
X-Postfix-Queue-ID: 3F2A1C0123
X-Postfix-Sender: rfc822; SELLER_ALIAS
Arrival-Date: Mon, 23 Nov 2026 12:00:04 +0000 (UTC)

Final-Recipient: rfc822; bob@gmail.example
Original-Recipient: rfc822;BUYER_ALIAS
Action: failed
Status: 5.1.1
Remote-MTA: dns; mailstore1.gmail.example
Diagnostic-Code: smtp; 550 5.1.1 <bob@gmail.example>... User unknown

--3F2A1C0123.1795521605/mx.gmail.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <SELLER_ALIAS>
Received: from mta.marketplace.example (mta.marketplace.example [198.51.100.7])
	by mx.gmail.example (Postfix) with ESMTPS id 3F2A1C0123
	for <bob@gmail.example>; Mon, 23 Nov 2026 12:00:04 +0000 (UTC)
DKIM-Signature: v=1; a=rsa-sha256; d=marketplace.example; s=mm; b=abc
Authentication-Results: mx.gmail.example; spf=pass smtp.mailfrom=marketplace.example
X-Original-To: bob@gmail.example
Delivered-To: bob@gmail.example
From: Acme Store <SELLER_ALIAS>
To: <BUYER_ALIAS>
Subject: Your order 123-4567
Date: Mon, 23 Nov 2026 11:59:58 +0000
Message-ID: <0123456789abcdef01234567@marketplace.example>
X-Marketplace-Audit: id=381f0167bebb9d61; decision=modify
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

--3F2A1C0123.1795521605/mx.gmail.example--
)";

// Exchange: a multipart/alternative explanation (the HTML in base64), the
// report, and the whole returned message.
std::string exchange_dsn() {
    const std::string html =
        "<html><body><p>Delivery has failed to these recipients or groups:</p>"
        "<p><a href=\"mailto:bob@gmail.example\">bob@gmail.example</a></p>"
        "<p>Generating server: EX01.corp.gmail.example</p>"
        "<p>Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
        "found by SMTP address lookup'</p></body></html>\n";
    gsize len = html.size();
    GCharPtr b64(g_base64_encode(reinterpret_cast<const guchar*>(html.data()), len));
    std::string encoded;
    for (std::string_view s(b64.get()); !s.empty(); s.remove_prefix(std::min<size_t>(76, s.size())))
        encoded += std::string(s.substr(0, 76)) + "\n";
    return R"(Received: from EX01.corp.gmail.example (10.1.2.3) by EX02.corp.gmail.example
 (10.1.2.4) with Microsoft SMTP Server id 15.1.2507.6; Mon, 23 Nov 2026 12:00:06 +0000
From: Microsoft Outlook <postmaster@gmail.example>
To: SELLER_ALIAS
Date: Mon, 23 Nov 2026 12:00:06 +0000
Content-Type: multipart/report; report-type=delivery-status;
	boundary="_000_ab12cd34_"
Content-Language: en-US
Message-ID: <ab12cd34-ef56-7890@EX01.corp.gmail.example>
Subject: Undeliverable: Your order 123-4567
Auto-Submitted: auto-replied
X-MS-Exchange-Message-Is-Ndr:
X-Failed-Recipients: bob@gmail.example
MIME-Version: 1.0

--_000_ab12cd34_
Content-Type: multipart/alternative; boundary="_001_ab12cd34_"

--_001_ab12cd34_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Delivery has failed to these recipients or groups:

bob@gmail.example<mailto:bob@gmail.example>
The email address you entered couldn't be found. Please check the recipient=
's email address and try to resend the message.

Diagnostic information for administrators:

Generating server: EX01.corp.gmail.example

bob@gmail.example
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient =
not found by SMTP address lookup'

--_001_ab12cd34_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: base64

)" + encoded +
           R"(
--_001_ab12cd34_--

--_000_ab12cd34_
Content-Type: message/delivery-status

Reporting-MTA: dns;EX01.corp.gmail.example
Received-From-MTA: dns;mta.marketplace.example
Arrival-Date: Mon, 23 Nov 2026 12:00:05 +0000

Original-Recipient: rfc822;bob.b@yahoo.example
Final-Recipient: rfc822;bob@gmail.example
X-Actual-Recipient: rfc822;bob@gmail.example
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
 found by SMTP address lookup (bob@gmail.example)
Remote-MTA: dns;mx.yahoo.example

--_000_ab12cd34_
Content-Type: message/rfc822

Received: from mta.marketplace.example (198.51.100.7) by EX01.corp.gmail.example
 (10.1.2.3) with Microsoft SMTP Server; Mon, 23 Nov 2026 12:00:05 +0000
Return-Path: SELLER_ALIAS
From: Acme Store <SELLER_ALIAS>
To: <BUYER_ALIAS>
Subject: Your order 123-4567
Date: Mon, 23 Nov 2026 11:59:58 +0000
Message-ID: <0123456789abcdef01234567@marketplace.example>
X-MS-Exchange-Organization-AuthSource: EX01.corp.gmail.example
X-MS-Exchange-Organization-OriginalEnvelopeRecipients: bob@gmail.example
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello Bob,

which colour would you like for the engraving? (Sent to bob@gmail.example=
 via the marketplace.)

--_000_ab12cd34_--
)";
}

const std::string kQmailDsn =
    R"(Received: (qmail 12345 invoked for bounce); 23 Nov 2026 12:00:05 -0000
Date: 23 Nov 2026 12:00:05 -0000
From: MAILER-DAEMON@mail.gmail.example
To: SELLER_ALIAS
Subject: failure notice

Hi. This is the qmail-send program at mail.gmail.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<bob@gmail.example>:
192.0.2.31 does not like recipient.
Remote host said: 550 5.1.1 <bob@gmail.example>: Recipient address rejected: User unknown
Giving up on 192.0.2.31.

--- Below this line is a copy of the message.

Return-Path: <SELLER_ALIAS>
Received: (qmail 12340 invoked from network); 23 Nov 2026 12:00:04 -0000
Received: from mta.marketplace.example (198.51.100.7)
  by mail.gmail.example with SMTP; 23 Nov 2026 12:00:04 -0000
From: Acme Store <SELLER_ALIAS>
To: <BUYER_ALIAS>
Subject: Your order 123-4567
Message-ID: <0123456789abcdef01234567@marketplace.example>

Hello, which colour would you like for the engraving?
)";

// A report rewritten with a new body, returning the message the
// marketplace delivered (kReturnedId).
void expect_rewritten_report_of_ours(const DsnRewrite& r) {
    EXPECT_TRUE(r.is_dsn);
    ASSERT_TRUE(r.new_body);
    ASSERT_TRUE(r.returned_message_id);
    EXPECT_EQ(*r.returned_message_id, kReturnedId);
}

TEST(DsnRewrite, PostfixReportLosesTheBuyersAddressAndHostsAndKeepsTheStatus) {
    ensure_gmime();
    Message in = parse(with_aliases(kPostfixDsn));
    DsnRewrite r = rewrite_dsn(in, seller_side(), kDomain);
    ASSERT_NO_FATAL_FAILURE(expect_rewritten_report_of_ours(r));
    EXPECT_FALSE(r.backscatter);

    Message out = applied(in, r);
    const std::string all = everything(out);
    expect_no_trace_of_buyer(all);
    const std::string body = out.body.str();
    EXPECT_NE(body.find("Final-Recipient: rfc822; " + kBuyerAliasAddr), std::string::npos) << body;
    EXPECT_NE(body.find("Original-Recipient: rfc822; " + kBuyerAliasAddr), std::string::npos);
    EXPECT_NE(body.find("Reporting-MTA: dns; marketplace.example"), std::string::npos);
    EXPECT_NE(body.find("Remote-MTA: dns; marketplace.example"), std::string::npos);
    EXPECT_NE(body.find("Action: failed"), std::string::npos);
    EXPECT_NE(body.find("Status: 5.1.1"), std::string::npos);
    EXPECT_NE(body.find("Diagnostic-Code: smtp; 550 5.1.1 <" + kBuyerAliasAddr + ">"),
              std::string::npos)
        << body;
    EXPECT_NE(body.find("<" + kBuyerAliasAddr + ">: host marketplace.example said"),
              std::string::npos)
        << body;
    // The returned headers keep only what identifies the message.
    for (const char* gone :
         {"received:", "return-path:", "dkim-signature:", "authentication-results:",
          "x-original-to:", "delivered-to:", "x-marketplace-audit:"})
        EXPECT_EQ(all.find(gone), std::string::npos) << gone;
    EXPECT_NE(body.find("Subject: Your order 123-4567"), std::string::npos);
    EXPECT_NE(body.find("To: <" + kBuyerAliasAddr + ">"), std::string::npos);
    EXPECT_NE(body.find("Message-ID: <" + kReturnedId + ">"), std::string::npos);

    ASSERT_NE(out.find("From"), nullptr);
    EXPECT_EQ(*out.find("From"), "Mail Delivery System <MAILER-DAEMON@marketplace.example>");
    EXPECT_EQ(out.count("From"), 1);
    EXPECT_EQ(out.count("Received"), 0);
    // The report's structure is intact.
    ASSERT_NE(out.find("Content-Type"), nullptr);
    EXPECT_NE(out.find("Content-Type")->find("multipart/report"), std::string::npos);
    EXPECT_NE(body.find("Content-Type: message/delivery-status"), std::string::npos);
    EXPECT_NE(body.find("Content-Type: text/rfc822-headers"), std::string::npos);
    EXPECT_FALSE(r.notes.empty());
}

// RFC 6533, sent for SMTPUTF8 mail: message/global-delivery-status,
// message/global-headers and a returned message/global, with bare IPv6
// addresses in the explanation.
TEST(DsnRewrite, GlobalFormsAndBareIpv6AreScrubbed) {
    ensure_gmime();
    std::string global = kPostfixDsn;
    global = replace_all(global, "Content-Type: message/delivery-status",
                         "Content-Type: message/global-delivery-status");
    global = replace_all(global, "Content-Type: text/rfc822-headers",
                         "Content-Type: message/global-headers");
    global = replace_all(global, "[192.0.2.31] said",
                         "[2001:db8:5::31] said (via fe80::1%eth0 and "
                         "2001:0db8:0000:0000:0000:ff00:0042:8329)");
    Message in = parse(with_aliases(global));
    DsnRewrite r = rewrite_dsn(in, seller_side(), kDomain);
    ASSERT_TRUE(r.is_dsn);
    ASSERT_TRUE(r.returned_message_id);
    const std::string all = everything(applied(in, r));
    expect_no_trace_of_buyer(all);
    for (const char* leak : {"2001:db8", "fe80::1", "ff00:0042", "x-original-to", "delivered-to"})
        EXPECT_EQ(all.find(leak), std::string::npos) << "leaked " << leak << " in:\n" << all;
    // Times of day are not addresses.
    EXPECT_NE(all.find("12:00:05"), std::string::npos);
}

TEST(DsnRewrite, ReturnedMessageGlobalIsScrubbed) {
    ensure_gmime();
    const std::string raw = with_aliases(R"(From: MAILER-DAEMON@mx.gmail.example
To: SELLER_ALIAS
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=global-delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=utf-8

Your message to bob@gmail.example could not be delivered.

--B
Content-Type: message/global-delivery-status

Reporting-MTA: dns; mx.gmail.example

Final-Recipient: rfc822; bob@gmail.example
Action: failed
Status: 5.1.1

--B
Content-Type: message/global

Received: from mta.marketplace.example by mx.gmail.example for <bob@gmail.example>
Delivered-To: bob@gmail.example
X-Original-To: bob@gmail.example
From: Acme Store <SELLER_ALIAS>
To: <BUYER_ALIAS>
Message-ID: <0123456789abcdef01234567@marketplace.example>

Dear Bob, write to bob.b@yahoo.example from mailstore1.gmail.example [10.1.2.3].
--B--
)");
    Message in = parse(raw);
    DsnRewrite r = rewrite_dsn(in, seller_side(), kDomain);
    ASSERT_TRUE(r.is_dsn);
    ASSERT_TRUE(r.returned_message_id);  // backscatter is judged on it
    EXPECT_EQ(*r.returned_message_id, kReturnedId);
    const std::string all = everything(applied(in, r));
    expect_no_trace_of_buyer(all);
    EXPECT_EQ(all.find("delivered-to"), std::string::npos) << all;
    EXPECT_EQ(all.find("x-original-to"), std::string::npos) << all;
    EXPECT_NE(all.find("dear bob"), std::string::npos);
}

TEST(DsnRewrite, ExchangeReportWithReturnedMessageIsClean) {
    ensure_gmime();
    Message in = parse(with_aliases(exchange_dsn()));
    DsnRewrite r = rewrite_dsn(in, seller_side(), kDomain);
    ASSERT_NO_FATAL_FAILURE(expect_rewritten_report_of_ours(r));

    Message out = applied(in, r);
    const std::string all = everything(out);
    expect_no_trace_of_buyer(all);
    EXPECT_NE(all.find("status: 5.1.10"), std::string::npos);
    EXPECT_NE(all.find("550 5.1.10 resolver.adr.recipientnotfound"), std::string::npos);
    EXPECT_NE(all.find("final-recipient: rfc822; " + kBuyerAliasAddr), std::string::npos);
    EXPECT_NE(all.find("x-actual-recipient: rfc822; " + kBuyerAliasAddr), std::string::npos);
    EXPECT_EQ(all.find("x-ms-exchange-organization"), std::string::npos);
    EXPECT_EQ(all.find("received:"), std::string::npos);
    // The returned message is still a message, with its body.
    EXPECT_NE(all.find("which colour would you like for the engraving?"), std::string::npos);
    EXPECT_NE(all.find("subject: your order 123-4567"), std::string::npos);
    ASSERT_NE(out.find("X-Failed-Recipients"), nullptr);
    EXPECT_EQ(*out.find("X-Failed-Recipients"), kBuyerAliasAddr);
}

TEST(DsnRewrite, PlainTextQmailBounceIsRewrittenAsAWhole) {
    ensure_gmime();
    Message in = parse(with_aliases(kQmailDsn));
    DsnRewrite r = rewrite_dsn(in, seller_side(), kDomain);
    EXPECT_TRUE(r.is_dsn);
    ASSERT_TRUE(r.new_body);
    EXPECT_FALSE(r.returned_message_id);  // no structured returned headers
    Message out = applied(in, r);
    const std::string all = everything(out);
    expect_no_trace_of_buyer(all);
    EXPECT_NE(out.body.str().find("Remote host said: 550 5.1.1 <" + kBuyerAliasAddr + ">"),
              std::string::npos)
        << out.body.str();
    EXPECT_NE(out.body.str().find("qmail-send program at marketplace.example"), std::string::npos);
    EXPECT_EQ(*out.find("From"), "Mail Delivery System <MAILER-DAEMON@marketplace.example>");
}

TEST(DsnRewrite, OtherAddressesInTheReportAreRedacted) {
    ensure_gmime();
    std::string raw = with_aliases(kPostfixDsn);
    raw = replace_all(raw, "For further assistance, please send mail to postmaster.",
                      "For further assistance, write to helpdesk@isp.example.");
    Message in = parse(raw);
    Message out = applied(in, rewrite_dsn(in, seller_side(), kDomain));
    EXPECT_EQ(out.body.str().find("helpdesk@isp.example"), std::string::npos);
    EXPECT_NE(out.body.str().find("[redacted]"), std::string::npos);
}

TEST(DsnRewrite, NonDsnMessageIsUntouched) {
    ensure_gmime();
    Message in = parse(with_aliases(R"(From: Someone <someone@elsewhere.example>
To: SELLER_ALIAS
Subject: Hello
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Just a note, no report here.
)"));
    DsnRewrite r = rewrite_dsn(in, seller_side(), kDomain);
    EXPECT_FALSE(r.is_dsn);
    EXPECT_FALSE(r.backscatter);
    EXPECT_FALSE(r.new_body);
    EXPECT_TRUE(r.header_edits.empty());
}

TEST(DsnRewrite, BackscatterIsReportedOnlyForAnUnknownReturnedMessageId) {
    ensure_gmime();
    Message in = parse(with_aliases(kPostfixDsn));
    std::string asked;
    std::function<bool(const std::string&)> unknown = [&](const std::string& id) {
        asked = id;
        return false;
    };
    std::function<bool(const std::string&)> known = [](const std::string&) { return true; };
    EXPECT_TRUE(rewrite_dsn(in, seller_side(), kDomain, &unknown).backscatter);
    EXPECT_EQ(asked, kReturnedId);
    EXPECT_FALSE(rewrite_dsn(in, seller_side(), kDomain, &known).backscatter);
    EXPECT_FALSE(rewrite_dsn(in, seller_side(), kDomain, nullptr).backscatter);
    // Without returned headers there is nothing to look up: the caller decides.
    Message qmail = parse(with_aliases(kQmailDsn));
    DsnRewrite q = rewrite_dsn(qmail, seller_side(), kDomain, &unknown);
    EXPECT_FALSE(q.backscatter);
    EXPECT_FALSE(q.returned_message_id);
}

struct AutoCase {
    const char* headers;
    bool expected;
};
class AutoReplyTest : public ::testing::TestWithParam<AutoCase> {};

TEST_P(AutoReplyTest, IsRecognised) {
    Message m = parse(crlf(std::string("From: x@y.example\n") + GetParam().headers + "\nbody\n"));
    EXPECT_EQ(is_auto_reply(m), GetParam().expected) << GetParam().headers;
}

INSTANTIATE_TEST_SUITE_P(
    Headers, AutoReplyTest,
    ::testing::Values(AutoCase{"Auto-Submitted: auto-replied\n", true},
                      AutoCase{"Auto-Submitted: auto-generated; owner-email=a@b.example\n", true},
                      AutoCase{"Auto-Submitted: No\n", false}, AutoCase{"X-Autoreply: yes\n", true},
                      AutoCase{"X-Autorespond: 1\n", true},
                      AutoCase{"Precedence: auto_reply\n", true},
                      AutoCase{"Precedence: bulk\nSubject: Auto: I am away\n", true},
                      AutoCase{"Precedence: junk\nSubject: Out of Office: back Monday\n", true},
                      AutoCase{"Precedence: bulk\nSubject: Weekly newsletter\n", false},
                      AutoCase{"X-Auto-Response-Suppress: All\n", false},
                      AutoCase{"Subject: Auto: no precedence\n", false}));

}  // namespace
}  // namespace mm::policy
