// Content-IDs that name the sender's host, rewritten to neutral ids with the
// HTML's cid: URLs to match (policy/mime/content_ids.h).
#include "policy/mime/content_ids.h"

#include <gtest/gtest.h>

#include "policy/mime/mime_inspect.h"

namespace mm::policy {
namespace {

constexpr const char* kDomain = "marketplace.example";
constexpr const char* kGif = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

TEST(ContentIdRenamer, SenderHostIdsGetNeutralOnes) {
    ContentIdRenamer r(kDomain);
    const auto a = r.add("part1.06090408.01060107@laptop.seller-home.example");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->ends_with("@marketplace.example"));
    EXPECT_EQ(a->find("seller-home"), std::string::npos);
    EXPECT_EQ(r.add("PART1.06090408.01060107@laptop.seller-home.example"), a);  // same id
    EXPECT_NE(r.add("part2@laptop.seller-home.example"), a);
    EXPECT_FALSE(r.add("logo@marketplace.example"));  // already neutral
    EXPECT_FALSE(r.add("ii_lq7x1k2m0"));              // names no host
    EXPECT_FALSE(r.add("image001.png@01DB3D9A.5E6F7A80"));
    EXPECT_FALSE(r.renamed("unknown@x.example"));
}

TEST(ContentIdRenamer, CidUrlsFollowInEveryForm) {
    ContentIdRenamer r(kDomain);
    const std::string id = *r.add("img 1@host.example");
    ASSERT_TRUE(r.add("other@elsewhere.example"));
    std::string html =
        "<img src=\"cid:img%201@host.example\"><img src='CID:img%201@HOST.example'>"
        "<div style=\"background:url(cid:img%201@host.example)\"></div>"
        "<img src=\"cid:other@host.example\"> acid:img%201@host.example";
    EXPECT_EQ(rewrite_cid_urls(html, r), 3u);
    EXPECT_EQ(html, "<img src=\"cid:" + id + "\"><img src='CID:" + id + "'>" +
                        "<div style=\"background:url(cid:" + id + ")\"></div>" +
                        "<img src=\"cid:other@host.example\"> acid:img%201@host.example");
}

class ContentIdsInspectTest : public ::testing::Test {
protected:
    static std::string related(const std::string& id) {
        return "From: a@acme.example\r\nSubject: photo\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/related; boundary=\"r1\"; type=\"text/html\"; "
               "start=\"<root." +
               id +
               ">\"\r\n\r\n"
               "--r1\r\nContent-Type: text/html; charset=utf-8\r\nContent-ID: <root." +
               id + ">\r\n\r\n<p>The box:</p><img src=\"cid:" + id +
               "\" alt=box>\r\n"
               "--r1\r\nContent-Type: image/gif; name=\"box.gif\"\r\n"
               "Content-Transfer-Encoding: base64\r\nContent-ID: <" +
               id + ">\r\nContent-Disposition: inline; filename=\"box.gif\"\r\n\r\n" + kGif +
               "\r\n--r1--\r\n";
    }
    ContentFindings inspect(const std::string& raw, const Policy& policy) {
        auto m = parse_message(raw);
        EXPECT_TRUE(m);
        return inspect_content(*m, {policy, *classifier_, kDomain, Direction::seller_to_buyer});
    }
    std::shared_ptr<const AttachmentClassifier> classifier_ =
        AttachmentClassifier::create().value();
};

TEST_F(ContentIdsInspectTest, InlineImageIdsNoLongerNameTheSenderHost) {
    auto f = inspect(related("part1.abc@sender-host.example"), default_policy());
    EXPECT_EQ(f.content_ids_rewritten, 2);
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_TRUE(f.attachments[0].kept) << f.attachments[0].reason;
    EXPECT_TRUE(f.attachments[0].inline_image);  // the HTML still shows it
    ASSERT_TRUE(f.new_body);
    const std::string body = f.new_body->str();
    EXPECT_EQ(body.find("sender-host"), std::string::npos) << body;
    // The image's new id is the one the HTML refers to.
    const std::size_t cid = body.find("Content-ID: <", body.find("image/gif"));
    ASSERT_NE(cid, std::string::npos) << body;
    const std::size_t b = cid + 13, e = body.find('>', b);
    const std::string id = body.substr(b, e - b);
    EXPECT_TRUE(id.ends_with("@marketplace.example")) << id;
    EXPECT_NE(body.find("cid:" + id), std::string::npos) << body;
    ASSERT_EQ(f.header_edits.empty(), false);  // the top Content-Type's start parameter
    bool start_rewritten = false;
    for (const auto& h : f.header_edits)
        if (h.value.find("start=") != std::string::npos)
            start_rewritten = h.value.find("sender-host") == std::string::npos;
    EXPECT_TRUE(start_rewritten);
}

TEST_F(ContentIdsInspectTest, NeutralIdsAreLeftAlone) {
    auto f = inspect(related("logo@marketplace.example"), default_policy());
    EXPECT_EQ(f.content_ids_rewritten, 0);
    EXPECT_FALSE(f.new_body);
}

TEST_F(ContentIdsInspectTest, KeptWhenThePolicySaysSo) {
    Policy policy = default_policy();
    policy.headers.neutral_content_ids = false;
    auto f = inspect(related("part1.abc@sender-host.example"), policy);
    EXPECT_EQ(f.content_ids_rewritten, 0);
    EXPECT_FALSE(f.new_body);
}

}  // namespace
}  // namespace mm::policy
