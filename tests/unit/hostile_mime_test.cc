// inspect_content() against parts built to slip past the policy: text that
// is an attachment, files encoded inside text, names that disagree.
#include <gtest/gtest.h>

#include <utility>

#include "policy/html/html_text.h"
#include "policy/mime/embedded_payloads.h"
#include "policy/mime/mime_inspect.h"
#include "tests/support/mime_inspect_fixture.h"
#include "tests/support/synthetic_files.h"

namespace mm::policy {
namespace {

std::string uuencode(const std::string& data, const std::string& name) {
    std::string out = "begin 644 " + name + "\r\n";
    auto enc = [](unsigned v) { return static_cast<char>(v == 0 ? '`' : ' ' + v); };
    for (std::size_t i = 0; i < data.size(); i += 45) {
        const std::size_t n = std::min<std::size_t>(45, data.size() - i);
        out += enc(static_cast<unsigned>(n));
        for (std::size_t j = 0; j < n; j += 3) {
            unsigned char b[3] = {0, 0, 0};
            for (std::size_t k = 0; k < 3 && j + k < n; ++k)
                b[k] = static_cast<unsigned char>(data[i + j + k]);
            out += enc(b[0] >> 2);
            out += enc(((b[0] << 4) | (b[1] >> 4)) & 63);
            out += enc(((b[1] << 2) | (b[2] >> 6)) & 63);
            out += enc(b[2] & 63);
        }
        out += "\r\n";
    }
    return out + "`\r\nend\r\n";
}

std::string yencode(const std::string& data, const std::string& name) {
    std::string out =
        "=ybegin line=128 size=" + std::to_string(data.size()) + " name=" + name + "\r\n";
    std::size_t col = 0;
    for (unsigned char c : data) {
        unsigned char e = static_cast<unsigned char>(c + 42);
        if (e == 0 || e == '\n' || e == '\r' || e == '=') {
            out += '=';
            e = static_cast<unsigned char>(e + 64);
        }
        out += static_cast<char>(e);
        if (++col == 128) {
            out += "\r\n";
            col = 0;
        }
    }
    return out + "\r\n=yend size=" + std::to_string(data.size()) + "\r\n";
}

class HostileMimeTest : public inspect_testing::InspectTest {
protected:
    static std::string part(const std::string& headers, const std::string& body) {
        return "--b1\r\n" + headers + "\r\n\r\n" + body + "\r\n";
    }
    static const AttachmentReport* refused(const ContentFindings& f) {
        for (const auto& a : f.attachments)
            if (!a.kept) return &a;
        return nullptr;
    }
};

// ---- text parts that are attachments --------------------------------------

TEST_F(HostileMimeTest, TextAttachmentGetsTheLinkRule) {
    for (const char* headers :
         {"Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: attachment",
          "Content-Type: text/plain; name=\"offer.txt\"",
          "Content-Type: text/plain\r\nContent-Disposition: inline; filename=\"offer.txt\""}) {
        auto f = inspect(mixed(part("Content-Type: text/plain", "Hello") +
                               part(headers, "Buy here: https://shop-elsewhere.example/deal")));
        EXPECT_EQ(f.links_removed, 1u) << headers;
        EXPECT_EQ(f.texts.size(), 2u) << headers;  // read by the content rules too
        ASSERT_TRUE(f.new_body) << headers;
        EXPECT_EQ(f.new_body->str().find("shop-elsewhere.example"), std::string::npos) << headers;
    }
}

// HTML attachments are not an allowed type (their name and declared type
// claim no allowed content); stripped whole, links and all.
TEST_F(HostileMimeTest, HtmlAttachmentIsStripped) {
    auto f = inspect(mixed(
        part("Content-Type: text/plain", "Hello") +
        part("Content-Type: text/html; name=\"flyer.html\"\r\nContent-Disposition: attachment",
             "<p>Visit <a href=\"https://shop-elsewhere.example/x\">our shop</a></p>")));
    ASSERT_NE(refused(f), nullptr);
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find("shop-elsewhere.example"), std::string::npos);
}

TEST_F(HostileMimeTest, OctetStreamThatIsTextGetsTheLinkRule) {
    // Declared binary, named .txt: libmagic says text, clients show text.
    auto f = inspect(mixed(part("Content-Type: text/plain", "Hello") +
                           part("Content-Type: application/octet-stream; name=\"a.txt\"\r\n"
                                "Content-Disposition: attachment; filename=\"a.txt\"",
                                "Our own shop: https://shop-elsewhere.example/deal\r\n"
                                "Plain words and nothing else, just text for the reader.")));
    EXPECT_EQ(f.links_removed, 1u);
}

// ---- files encoded inside text ---------------------------------------------

TEST_F(HostileMimeTest, UuencodedExecutableInTextIsStripped) {
    const std::string exe = mm::bench::synthetic_exe(600);
    auto f = inspect(mixed(part("Content-Type: text/plain",
                                "Please run the tool:\r\n" + uuencode(exe, "tool.exe") + "Bye")));
    const AttachmentReport* a = refused(f);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->filename, "tool.exe");
    EXPECT_EQ(a->size, exe.size());
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find("begin 644"), std::string::npos);
    EXPECT_NE(f.new_body->str().find("Please run the tool"), std::string::npos);
    EXPECT_NE(f.new_body->str().find("Bye"), std::string::npos);
}

TEST_F(HostileMimeTest, YencExecutableInTextIsStripped) {
    const std::string exe = mm::bench::synthetic_exe(600);
    auto f = inspect(mixed(part("Content-Type: text/plain", yencode(exe, "tool.exe"))));
    const AttachmentReport* a = refused(f);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->filename, "tool.exe");
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find("=ybegin"), std::string::npos);
}

// In HTML as in plain text (there in a <pre>, as a reader sees it).
TEST_F(HostileMimeTest, BinHexInTextOrHtmlIsRefused) {
    const std::string binhex =
        "(This file must be converted with BinHex 4.0)\r\n"
        ":$f*TEQKPH#jdCA0-B@jQ9%9B9!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!:\r\n";
    for (const auto& [type, body] : {std::pair<std::string, std::string>{"text/plain", binhex},
                                     {"text/html", "<pre>" + binhex + "</pre>"}}) {
        SCOPED_TRACE(type);
        auto f = inspect(mixed(part("Content-Type: " + type, body)));
        const AttachmentReport* a = refused(f);
        ASSERT_NE(a, nullptr);
        EXPECT_EQ(a->rule_id, "attachment.encoded");
    }
}

TEST_F(HostileMimeTest, UuencodedAllowedTypeIsKept) {
    auto f = inspect(mixed(part("Content-Type: text/plain",
                                uuencode("Just some plain words in a file.\n", "notes.txt"))));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_TRUE(f.attachments[0].kept) << f.attachments[0].reason;
    EXPECT_FALSE(f.new_body);
}

TEST_F(HostileMimeTest, ProseStartingWithBeginIsNotAFile) {
    auto f = inspect(mixed(part("Content-Type: text/plain",
                                "begin 100 meters from the depot, then turn left.\r\nThanks")));
    EXPECT_TRUE(f.attachments.empty());
    EXPECT_FALSE(f.new_body);
}

// In HTML the files are looked for in what the reader sees: a <pre>, or
// lines ended by <br>, whatever the character references.
TEST_F(HostileMimeTest, UuencodedExecutableInHtmlIsStripped) {
    const std::string exe = mm::bench::synthetic_exe(600);
    auto f = inspect(
        mixed(part("Content-Type: text/html", "<html><body><p>Please run the tool:</p><pre>" +
                                                  html_escape(uuencode(exe, "tool.exe")) +
                                                  "</pre><p>Bye</p></body></html>")));
    const AttachmentReport* a = refused(f);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->filename, "tool.exe");
    EXPECT_EQ(a->size, exe.size());
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("begin 644"), std::string::npos);
    EXPECT_NE(body.find("was removed by the marketplace"), std::string::npos);
    EXPECT_NE(body.find("Please run the tool"), std::string::npos);
    EXPECT_NE(body.find("Bye"), std::string::npos);
}

TEST_F(HostileMimeTest, YencExecutableInHtmlLinesIsStripped) {
    const std::string exe = mm::bench::synthetic_exe(600);
    std::string lines = html_escape(yencode(exe, "tool.exe"));
    std::string html = "<div>";
    for (std::size_t at = 0; at < lines.size();) {
        const std::size_t nl = lines.find("\r\n", at);
        html += lines.substr(at, nl - at) + "<br>\r\n";
        at = nl + 2;
    }
    auto f = inspect(mixed(part("Content-Type: text/html", html + "</div>")));
    const AttachmentReport* a = refused(f);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->filename, "tool.exe");
    ASSERT_TRUE(f.new_body);
    EXPECT_EQ(f.new_body->str().find("=ybegin"), std::string::npos);
}

// Markup is not text: a tag that happens to read "begin 644" in its source
// is nothing a reader sees.
TEST_F(HostileMimeTest, HtmlWithoutEncodedFilesIsNotChanged) {
    auto f = inspect(mixed(
        part("Content-Type: text/html", "<p title=\"begin 644 x.exe\">Thanks for the order.</p>")));
    EXPECT_TRUE(f.attachments.empty());
    EXPECT_FALSE(f.new_body);
}

TEST(EmbeddedPayloads, TooManyBlocksAreRefusedTogether) {
    std::string text;
    for (std::size_t i = 0; i < kMaxEmbeddedPayloads + 10; ++i)
        text += "(This file must be converted with BinHex 4.0)\r\n:abc:\r\n";
    auto blocks = find_embedded_payloads(text, 100);
    ASSERT_EQ(blocks.size(), kMaxEmbeddedPayloads + 1);
    EXPECT_EQ(blocks.back().kind, EmbeddedPayload::Kind::overflow);
    EXPECT_EQ(blocks.back().end, text.size());
}

// ---- names that disagree ---------------------------------------------------

TEST_F(HostileMimeTest, ExecutableNameInEitherHeaderIsJudged) {
    const std::string body = "Just a harmless line of plain text.";
    for (const auto& [ct_name, cd_name] :
         {std::pair{"readme.txt", "readme.exe"}, std::pair{"readme.exe", "readme.txt"}}) {
        auto f = inspect(
            mixed(part("Content-Type: text/plain", "Hello") +
                  part(std::string("Content-Type: text/plain; name=\"") + ct_name +
                           "\"\r\nContent-Disposition: attachment; filename=\"" + cd_name + "\"",
                       body)));
        const AttachmentReport* a = refused(f);
        ASSERT_NE(a, nullptr) << ct_name << " / " << cd_name;
    }
}

// ---- forwarded messages -----------------------------------------------------

TEST_F(HostileMimeTest, ForwardedMessageLosesItsTraceHeaders) {
    auto f = inspect(
        mixed(part("Content-Type: text/plain", "See the forwarded mail.") +
              part("Content-Type: message/rfc822",
                   "Received: from mail.seller-home.example (host [192.0.2.9]) by mx for "
                   "<owner@seller-home.example>\r\nDelivered-To: owner@seller-home.example\r\n"
                   "X-Original-To: owner@seller-home.example\r\nFrom: Shop <shop@acme.example>\r\n"
                   "Subject: earlier mail\r\nContent-Type: text/plain\r\n\r\nHello again")));
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("seller-home.example"), std::string::npos) << body;
    EXPECT_NE(body.find("Subject: earlier mail"), std::string::npos) << body;
    EXPECT_NE(body.find("Hello again"), std::string::npos);
    EXPECT_EQ(f.forwarded_headers_removed, 3);
}

}  // namespace
}  // namespace mm::policy
