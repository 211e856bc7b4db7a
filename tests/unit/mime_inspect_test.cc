// inspect_content(): what changes, what keeps its bytes, what is malformed.
#include <gtest/gtest.h>

#include "policy/html/html_text.h"
#include "policy/mime/mime_inspect.h"
#include "tests/support/base64_samples.h"
#include "tests/support/mime_inspect_fixture.h"
#include "tests/support/synthetic_files.h"

namespace mm::policy {
namespace {

using inspect_testing::kDomain;

// A minimal PDF that libmagic recognises, base64-encoded on one line.
const std::string kPdfB64 =
    "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJh"
    "aWxlcgo8PC9Sb290IDEgMCBSPj4KJSVFT0YK";
// "MZ" + padding + "PE\0\0": enough for libmagic to call it an executable.
std::string exe_b64() {
    return base64_testing::base64(mm::bench::synthetic_exe(256), 0, "");
}

class MimeInspectTest : public inspect_testing::InspectTest {
protected:
    // With a preamble before the first part.
    static std::string mixed(const std::string& parts) {
        return InspectTest::mixed("preamble\r\n" + parts);
    }
    static std::string text_part(const std::string& body) {
        return "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body + "\r\n";
    }
    static std::string attachment(const std::string& name, const std::string& type,
                                  const std::string& b64) {
        return "--b1\r\nContent-Type: " + type + "; name=\"" + name +
               "\"\r\nContent-Disposition: attachment; filename=\"" + name +
               "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n";
    }
};

TEST_F(MimeInspectTest, CleanMessageIsNotReserialised) {
    auto f = inspect(mixed(text_part("Your parcel ships today.") +
                           attachment("invoice.pdf", "application/pdf", kPdfB64)));
    EXPECT_FALSE(f.new_body);
    EXPECT_TRUE(f.header_edits.empty());
    EXPECT_TRUE(f.malformed.empty());
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_TRUE(f.attachments[0].kept);
    EXPECT_EQ(f.attachments[0].detected_type, "application/pdf");
}

TEST_F(MimeInspectTest, ExecutableIsStrippedAndTheRestKeepsItsBytes) {
    const std::string pdf = attachment("invoice.pdf", "application/pdf", kPdfB64);
    auto f = inspect(mixed(text_part("See attached.") + pdf +
                           attachment("setup.exe", "application/octet-stream", exe_b64())));
    ASSERT_TRUE(f.new_body);
    EXPECT_TRUE(f.attachment_violation);
    EXPECT_NE(f.new_body->str().find(pdf), std::string::npos) << f.new_body->str();
    EXPECT_EQ(f.new_body->str().find(exe_b64()), std::string::npos);
    EXPECT_NE(f.new_body->str().find("setup.exe"), std::string::npos);  // named in the notice
    EXPECT_NE(f.new_body->str().find("was removed by the marketplace"), std::string::npos);
    EXPECT_NE(f.new_body->str().find("preamble"), std::string::npos);
    EXPECT_TRUE(f.header_edits.empty());  // same top-level multipart, same boundary
    ASSERT_EQ(f.attachments.size(), 2u);
    EXPECT_FALSE(f.attachments[1].kept);
}

TEST_F(MimeInspectTest, RejectActionLeavesTheBodyAlone) {
    policy_.attachments.action = AttachmentPolicy::Action::reject;
    auto f =
        inspect(mixed(text_part("x") + attachment("a.exe", "application/x-msdownload", exe_b64())));
    EXPECT_TRUE(f.attachment_violation);
    EXPECT_FALSE(f.new_body);
}

TEST_F(MimeInspectTest, ForwardedMessageIsWalked) {
    std::string inner =
        "From: x@y.example\r\nSubject: fwd inner\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n"
        "--b2\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
        "--b2\r\nContent-Type: application/octet-stream; name=\"tool.exe\"\r\n"
        "Content-Disposition: attachment; filename=\"tool.exe\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" +
        exe_b64() + "\r\n--b2--\r\n";
    auto f = inspect(mixed(text_part("forwarding") +
                           "--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n"));
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find(exe_b64()), std::string::npos);
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_EQ(f.attachments[0].filename, "tool.exe");
    EXPECT_EQ(f.attachments[0].path, "2.2");
}

TEST_F(MimeInspectTest, SizeAndCountLimitsUseDecodedBytes) {
    policy_.attachments.max_total_bytes = 50;
    auto f = inspect(mixed(text_part("x") + attachment("a.pdf", "application/pdf", kPdfB64)));
    EXPECT_TRUE(f.size_violation);
    policy_.attachments.max_total_bytes = 10 << 20;
    policy_.attachments.max_count = 1;
    f = inspect(mixed(text_part("x") + attachment("a.pdf", "application/pdf", kPdfB64) +
                      attachment("b.pdf", "application/pdf", kPdfB64)));
    ASSERT_EQ(f.attachments.size(), 2u);
    EXPECT_TRUE(f.attachments[0].kept);
    EXPECT_FALSE(f.attachments[1].kept);
    EXPECT_EQ(f.attachments[1].rule_id, "attachment.count");
}

TEST_F(MimeInspectTest, NestingBeyondTheLimitIsMalformed) {
    policy_.attachments.max_depth = 3;
    std::string body = "x\r\n";
    for (int i = 5; i >= 1; --i) {
        std::string b = "n" + std::to_string(i);
        body = "--" + b + "\r\nContent-Type: " +
               (i == 5 ? std::string("text/plain")
                       : "multipart/mixed; boundary=\"n" + std::to_string(i + 1) + "\"") +
               "\r\n\r\n" + body + "\r\n--" + b + "--\r\n";
    }
    std::string raw =
        "From: a@acme.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"n1\"\r\n\r\n" +
        body;
    auto f = inspect(raw);
    ASSERT_FALSE(f.malformed.empty());
    EXPECT_NE(f.malformed[0].find("nesting deeper than 3"), std::string::npos) << f.malformed[0];
}

TEST_F(MimeInspectTest, MultipartWithoutBoundaryIsMalformed) {
    auto f = inspect(
        "From: a@acme.example\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
        "hi\r\n--x--\r\n");
    EXPECT_FALSE(f.malformed.empty());
}

TEST_F(MimeInspectTest, HostileInputNeverCrashes) {
    for (const std::string& raw :
         {std::string("From: a\r\n\r\n"),
          std::string("Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--"),
          std::string("Content-Type: text/plain; charset=x-unknown-charset\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@\r\n"),
          std::string(
              "Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html\r\n\r\n"
              "=ZZ=\r\n<a href=3D\"http://x.example/\">" +
              std::string(100000, 'a'))}) {
        auto m = parse_message(raw);
        if (!m) continue;
        (void)inspect_content(*m, {policy_, *classifier_, kDomain, Direction::seller_to_buyer});
    }
    SUCCEED();
}

TEST_F(MimeInspectTest, SinglePartTextWithLinkChangesItsContentHeadersOnly) {
    auto f = inspect(
        "From: a@acme.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Track: https://www.ups.com/track?n=1Z  Shop: https://deals.example/x\r\n");
    ASSERT_TRUE(f.new_body);
    EXPECT_NE(f.new_body->str().find("https://www.ups.com/track?n=1Z"), std::string::npos);
    EXPECT_EQ(f.new_body->str().find("deals.example"), std::string::npos);
    ASSERT_FALSE(f.links.empty());
    bool content_type_added = false;
    for (const auto& e : f.header_edits)
        if (e.op == HeaderEdit::Op::add && e.name == "Content-Type") content_type_added = true;
    EXPECT_TRUE(content_type_added);
}

TEST_F(MimeInspectTest, RewrittenTextKeepsItsCharsetAndEncoding) {
    // "Café" in windows-1252 (E9), quoted-printable, with a link to strip.
    auto f =
        inspect(mixed("--b1\r\nContent-Type: text/plain; charset=windows-1252\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                      "Caf=E9 ouvert. Offre: https://deals.example/x\r\n"));
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find("deals.example"), std::string::npos);
    EXPECT_NE(f.new_body->str().find("charset=windows-1252"), std::string::npos)
        << f.new_body->str();
    EXPECT_NE(f.new_body->str().find("quoted-printable"), std::string::npos);
    EXPECT_NE(f.new_body->str().find("Caf=E9"), std::string::npos) << f.new_body->str();
}

// GMime's text ends at a NUL: what follows one must still be judged, and
// never delivered unjudged.  "hello\0 https://deals.example/x" in base64.
TEST_F(MimeInspectTest, TextAfterANulByteIsJudgedAndTheNulRemoved) {
    auto f =
        inspect(mixed("--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n"
                      "aGVsbG8AIGh0dHBzOi8vZGVhbHMuZXhhbXBsZS94\r\n"));
    ASSERT_FALSE(f.links.empty()) << "the link after the NUL was not seen";
    EXPECT_FALSE(f.malformed.empty());
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find("aGVsbG8AIGh0dHBzOi8vZGVhbHMuZXhhbXBsZS94"),
              std::string::npos);
}

// GMime ends base64 at the first '=' and some clients go on: the text after
// the padding ("hello" = " https://deals.example/x") was never judged, so it
// is not delivered, and the message is malformed.
TEST_F(MimeInspectTest, TextAfterBase64PaddingIsNotDelivered) {
    auto f =
        inspect(mixed("--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n"
                      "aGVsbG8=\r\nIGh0dHBzOi8vZGVhbHMuZXhhbXBsZS94\r\n"));
    ASSERT_EQ(f.malformed.size(), 1u);
    EXPECT_EQ(f.malformed[0], "part 1: base64 data after the padding ('=')");
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("IGh0dHBzOi8vZGVhbHMuZXhhbXBsZS94"), std::string::npos) << body;
    EXPECT_EQ(body.find("deals.example"), std::string::npos) << body;
    EXPECT_NE(body.find("aGVsbG8="), std::string::npos) << body;  // what was judged stays
}

// A PDF whose base64 goes on after its padding with an executable: sniffed
// as the PDF, it would be delivered with the executable inside.
TEST_F(MimeInspectTest, AttachmentWithBase64AfterPaddingIsStripped) {
    const std::string tail = exe_b64();
    auto f = inspect(mixed(text_part("See attached.") +
                           attachment("invoice.pdf", "application/pdf", kPdfB64 + "=\r\n" + tail)));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_FALSE(f.attachments[0].kept);
    EXPECT_EQ(f.attachments[0].rule_id, "attachment.encoding");
    EXPECT_TRUE(f.attachment_violation);
    ASSERT_EQ(f.malformed.size(), 1u);
    EXPECT_EQ(f.malformed[0], "part 2: base64 data after the padding ('=')");
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find(tail), std::string::npos);
    EXPECT_NE(f.new_body->str().find("was removed by the marketplace"), std::string::npos);
}

// Redaction judges what the reader sees: addresses and numbers written with
// character references, split over tags or spaced with &nbsp; are replaced
// in the delivered HTML, and the rest of the markup keeps its bytes.
class HtmlRedactionTest
    : public MimeInspectTest,
      public ::testing::WithParamInterface<std::pair<std::string, std::string>> {};

TEST_P(HtmlRedactionTest, DeliveredHtmlShowsNeitherAddressNorDigits) {
    policy_.redact.seller_to_buyer = true;
    const auto& [trick, shown] = GetParam();
    const std::string html =
        "<html><body><p>Hello,</p><p>write to " + trick + " today.</p><p>Thanks</p></body></html>";
    auto f =
        inspect(mixed(text_part("Plain part.") +
                      "--b1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" + html + "\r\n"));
    ASSERT_TRUE(f.new_body);
    ASSERT_EQ(f.redactions.size(), 1u);
    const std::string body = f.new_body->str();
    const std::size_t b = body.find("<html>"), e = body.find("</html>");
    ASSERT_TRUE(b != std::string::npos && e != std::string::npos) << body;
    const std::string delivered = html_to_text(body.substr(b, e + 7 - b));
    EXPECT_EQ(delivered.find(shown), std::string::npos) << delivered;
    EXPECT_NE(delivered.find("write to [redacted] today."), std::string::npos) << delivered;
    EXPECT_NE(body.find("<p>Hello,</p>"), std::string::npos) << body;
    EXPECT_NE(body.find("Plain part."), std::string::npos) << body;
}

INSTANTIATE_TEST_SUITE_P(
    Tricks, HtmlRedactionTest,
    ::testing::Values(std::pair<std::string, std::string>{"name&#64;host.example", "host"},
                      std::pair<std::string, std::string>{"name&#x40;host.example", "host"},
                      std::pair<std::string, std::string>{"name<span>@</span>host.example", "host"},
                      std::pair<std::string, std::string>{"+49&nbsp;170&nbsp;1234567", "1234567"},
                      std::pair<std::string, std::string>{"<b>+49</b> <i>170</i> 1234567",
                                                          "1234567"},
                      std::pair<std::string, std::string>{"+&#52;&#57; 170 1234567", "1234567"}));

TEST_F(MimeInspectTest, HtmlWithNothingToRedactKeepsItsBytes) {
    policy_.redact.seller_to_buyer = true;
    auto f = inspect(
        mixed("--b1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
              "<p>Order 123-1234567-1234567 ships on 2026-11-23 &amp; arrives Friday.</p>\r\n"));
    EXPECT_FALSE(f.new_body);
    EXPECT_TRUE(f.redactions.empty());
}

// An HTML part nested past links.max_html_nesting is not cut (that would
// read it all): it is malformed, and what is delivered, if anything, is the
// marker in its place, never the part as it was.
TEST_F(MimeInspectTest, HtmlNestedTooDeepIsMalformedAndReplaced) {
    std::string html = "<p><a href=\"https://deals.example/x\">deal</a></p>";
    for (int i = 0; i < 5000; ++i) html += "<div>";
    html += "hidden";
    auto f =
        inspect(mixed("--b1\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" + html + "\r\n"));
    ASSERT_EQ(f.malformed.size(), 1u);
    EXPECT_EQ(f.malformed[0],
              "part 1: HTML nested deeper than 1000 elements (links.max_html_nesting)");
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("deals.example"), std::string::npos) << body;
    EXPECT_EQ(body.find("<div><div>"), std::string::npos);
    EXPECT_NE(body.find("[link removed]"), std::string::npos) << body;
}

}  // namespace
}  // namespace mm::policy
