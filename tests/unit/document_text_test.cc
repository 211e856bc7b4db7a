// read_document_text(): the text of PDF, .docx and .odt attachments, and its
// bounds (characters, PDF pages, time); inspect_content() reading it for the
// content rules, only from attachments it keeps.
#include <glib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "policy/limits.h"
#include "policy/mime/mime_inspect.h"
#include "policy/rules/document_text.h"
#include "tests/support/document_samples.h"
#include "tests/support/synthetic_files.h"

namespace mm::policy {
namespace {

using mm::testing::docx_with;
using mm::testing::odt_with;
using mm::testing::password_protected_pdf;
using mm::testing::text_pdf;

constexpr const char* kDomain = "marketplace.example";
constexpr const char* kFlyer = "Spring sale on all lamps!\nUse code ABC123 at checkout.";
constexpr std::string_view kOdt = "application/vnd.oasis.opendocument.text";

DocumentText read(DocumentKind kind, const std::string& bytes, TextBounds bounds = {}) {
    return read_document_text(kind, MessageBody(bytes), bounds);
}

std::vector<std::string> numbered_pages(int n) {
    std::vector<std::string> pages;
    for (int i = 1; i <= n; ++i) pages.push_back("This is page " + std::to_string(i) + " .");
    return pages;
}

TEST(DocumentTextTest, PdfPagesAreReadInOrder) {
    const DocumentText t = read(DocumentKind::pdf, text_pdf({kFlyer, "Second page"}));
    EXPECT_TRUE(t.complete) << t.note;
    EXPECT_NE(t.text.find("Use code ABC123 at checkout."), std::string::npos) << t.text;
    EXPECT_LT(t.text.find("ABC123"), t.text.find("Second page")) << t.text;
    EXPECT_EQ(static_cast<glong>(t.chars),
              g_utf8_strlen(t.text.data(), static_cast<gssize>(t.text.size())));
}

// The document that keeps poppler's tables built opens, and PDFs read
// after it read as before, whichever thread reads them.
TEST(DocumentTextTest, PopplerTablesStayBuiltBetweenPdfs) {
    EXPECT_TRUE(document_text_detail::poppler_tables_kept());
    std::vector<std::thread> readers;
    std::vector<std::string> texts(4);
    for (std::size_t i = 0; i < texts.size(); ++i)
        readers.emplace_back([&texts, i] {
            texts[i] = read(DocumentKind::pdf, text_pdf({"Reader " + std::to_string(i)})).text;
        });
    for (auto& t : readers) t.join();
    for (std::size_t i = 0; i < texts.size(); ++i)
        EXPECT_NE(texts[i].find("Reader " + std::to_string(i)), std::string::npos) << texts[i];
}

TEST(DocumentTextTest, DocxShowsTheTextOfItsRunsOnly) {
    const DocumentText t =
        read(DocumentKind::docx,
             docx_with("<w:p><w:r><w:t>Use co</w:t></w:r><w:r><w:t xml:space=\"preserve\">de "
                       "ABC123</w:t></w:r></w:p><w:p><w:r><w:instrText>HYPERLINK x</w:instrText>"
                       "<w:tab/><w:t>next</w:t></w:r></w:p>"));
    EXPECT_TRUE(t.complete) << t.note;
    EXPECT_EQ(t.text, "Use code ABC123\n\tnext\n");
}

TEST(DocumentTextTest, OdtShowsItsParagraphsAndSpaces) {
    const DocumentText t =
        read(DocumentKind::odt, odt_with("<text:h>Sale</text:h><text:p>Use<text:s/>code "
                                         "<text:span>ABC123</text:span></text:p>"));
    EXPECT_TRUE(t.complete) << t.note;
    EXPECT_EQ(t.text, "Sale\nUse code ABC123\n");
}

TEST(DocumentTextTest, BrokenPdfGivesNoTextAndSaysSo) {
    for (const std::string& broken :
         {mm::bench::synthetic_pdf(4096), std::string("%PDF-1.4\n"), std::string()}) {
        const DocumentText t = read(DocumentKind::pdf, broken);
        EXPECT_TRUE(t.text.empty());
        EXPECT_FALSE(t.complete);
        EXPECT_NE(t.note.find("not read"), std::string::npos) << t.note;
    }
}

TEST(DocumentTextTest, PasswordProtectedPdfIsNotRead) {
    const DocumentText t = read(DocumentKind::pdf, password_protected_pdf({kFlyer}));
    EXPECT_TRUE(t.text.empty());
    EXPECT_EQ(t.note, "text not read: the PDF is password-protected");
}

// Within a real evaluation's budget (no BudgetExceeded): the page cap, not
// the clock, ends the reading.
TEST(DocumentTextTest, ThousandPagesStopAtThePageCapWithinTheBudget) {
    const std::string pdf = text_pdf(numbered_pages(1000));
    MessageLimits limits;
    limits.cpu_budget = std::chrono::milliseconds(2000);
    LimitScope scope(limits);
    TextBounds bounds;
    bounds.max_pdf_pages = 50;
    DocumentText t;
    ASSERT_NO_THROW(t = read(DocumentKind::pdf, pdf, bounds));
    EXPECT_FALSE(t.complete);
    EXPECT_EQ(t.note, "text read only from the first 50 of 1000 pages");
    EXPECT_NE(t.text.find("page 50 ."), std::string::npos);
    EXPECT_EQ(t.text.find("page 51 ."), std::string::npos);
}

// An extractor cannot be stopped inside a page, and its time grows with the
// content it interprets: a PDF whose streams inflate past the bound is not
// given to it.
TEST(DocumentTextTest, PdfWhoseStreamsInflatePastTheBoundIsNotRead) {
    std::string page;
    while (page.size() < (9u << 20)) page += "Use code ABC123 at checkout, says line after line.\n";
    const DocumentText t = read(DocumentKind::pdf, text_pdf({page}));
    EXPECT_TRUE(t.text.empty());
    EXPECT_EQ(t.note, "text not read: its streams inflate to more than 8 MiB");
}

// The attachment check's single parse answers both questions as the two
// calls of their own do, or leaves the text's answer unknown.
TEST(DocumentTextTest, OneParseAnswersAsTheTwoChecksDo) {
    const std::string page(3000, 'x');
    const std::vector<std::string> samples = {
        text_pdf({kFlyer, "Second page"}),
        text_pdf({page, page}),  // over the small bound below
        text_pdf({kFlyer}, "/OpenAction << /S /JavaScript /JS (app.alert(1)) >>"),
        text_pdf({kFlyer}, {}, "<< /Type /EmbeddedFile /Length 0 >>\nstream\n\nendstream"),
        password_protected_pdf({kFlyer}),
        mm::bench::synthetic_pdf(4096),
        std::string("%PDF-1.4\n"),
        std::string(),
    };
    int known = 0;
    for (std::size_t bound : {std::size_t{4096}, kMaxPdfTextInflated}) {
        for (std::size_t i = 0; i < samples.size(); ++i) {
            PdfTextCheck text;
            EXPECT_EQ(pdf_active_content(samples[i], bound, text), pdf_active_content(samples[i]))
                << "sample " << i;
            if (!text.known) continue;
            ++known;
            EXPECT_EQ(text.hazard, pdf_text_hazard(samples[i], bound)) << "sample " << i;
        }
    }
    EXPECT_GE(known, 4);  // the clean PDFs at both bounds
}

// A kept PDF is read with the text check of its attachment check: the
// bound still stops one whose streams inflate too far.
TEST(DocumentTextTest, TextCheckOfTheAttachmentCheckIsUsed) {
    PdfTextCheck refused{true, "its streams inflate to more than 8 MiB"};
    TextBounds bounds;
    bounds.pdf_checked = &refused;
    const DocumentText t = read(DocumentKind::pdf, text_pdf({kFlyer}), bounds);
    EXPECT_TRUE(t.text.empty());
    EXPECT_EQ(t.note, "text not read: its streams inflate to more than 8 MiB");
    PdfTextCheck clean{true, std::nullopt};
    bounds.pdf_checked = &clean;
    EXPECT_NE(read(DocumentKind::pdf, text_pdf({kFlyer}), bounds).text.find("ABC123"),
              std::string::npos);
}

TEST(DocumentTextTest, TimeAllowanceStopsBetweenPages) {
    int asked = 0;
    TextBounds bounds;
    bounds.out_of_time = [&] { return ++asked > 2; };
    const DocumentText t = read(DocumentKind::pdf, text_pdf(numbered_pages(5)), bounds);
    EXPECT_NE(t.text.find("page 2 ."), std::string::npos);
    EXPECT_EQ(t.text.find("page 3 ."), std::string::npos);
    EXPECT_EQ(t.note, "text read only from the first 2 of 5 pages: its time allowance was used");
}

TEST(DocumentTextTest, CharacterCapCutsOnACharacterBoundary) {
    TextBounds bounds;
    bounds.max_chars = 7;
    const DocumentText t =
        read(DocumentKind::odt,
             odt_with("<text:p>\xc3\xa9t\xc3\xa9 d\xc3\xa9j\xc3\xa0 vu</text:p>"), bounds);
    EXPECT_EQ(t.text, "\xc3\xa9t\xc3\xa9 d\xc3\xa9j");
    EXPECT_EQ(t.chars, 7u);
    EXPECT_FALSE(t.complete);
    EXPECT_EQ(t.note, "text read only in part: it has more than 7 characters");
}

TEST(DocumentTextTest, MalformedXmlKeepsWhatWasReadAndSaysSo) {
    // The reader parses ahead of what it hands out: the error must lie
    // further on than that for the text before it to be read.
    std::string body = "<w:p><w:r><w:t>Use code ABC123</w:t></w:r></w:p>";
    for (int i = 0; i < 2000; ++i) body += "<w:p><w:r><w:t>more</w:t></w:r></w:p>";
    const DocumentText t = read(DocumentKind::docx, docx_with(body + "<w:p <"));
    EXPECT_FALSE(t.complete);
    EXPECT_NE(t.text.find("Use code ABC123"), std::string::npos);
    EXPECT_NE(t.note.find("well-formed"), std::string::npos) << t.note;
    const DocumentText none = read(DocumentKind::docx, "PK\x03\x04 not a zip");
    EXPECT_TRUE(none.text.empty());
    EXPECT_EQ(none.note, "text not read: not a readable zip archive");
}

// Entities are neither expanded nor loaded: a billion laughs costs nothing
// and an external entity reads no file.
TEST(DocumentTextTest, EntitiesAreNotExpanded) {
    std::string doctype = "<!DOCTYPE w:document [<!ENTITY a \"aaaaaaaaaa\">";
    std::string prev = "a";
    for (char c = 'b'; c <= 'k'; ++c) {
        doctype += std::string("<!ENTITY ") + c + " \"";
        for (int i = 0; i < 10; ++i) doctype += "&" + prev + ";";
        doctype += "\">";
        prev = std::string(1, c);
    }
    doctype += "<!ENTITY x SYSTEM \"file:///etc/passwd\">]>";
    const std::string xml =
        "<?xml version=\"1.0\"?>" + doctype +
        "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">"
        "<w:body><w:p><w:r><w:t>&k;&x;ok</w:t></w:r></w:p></w:body></w:document>";
    const DocumentText t =
        read(DocumentKind::docx, mm::testing::zip_package({{"word/document.xml", xml}}));
    EXPECT_LT(t.text.size(), 100u) << t.note;
    EXPECT_EQ(t.text.find("root:"), std::string::npos);
}

// ---- inspect_content: the text reaches the content rules ------------------

std::string b64(const std::string& bytes) {
    gchar* out = g_base64_encode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size());
    std::string s(out);
    g_free(out);
    return s;
}

class DocumentInspectTest : public ::testing::Test {
protected:
    ContentFindings inspect(const std::string& attachments) {
        auto m = parse_message(
            "From: a@acme.example\r\nSubject: Your order\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "Thank you for your order, please see the attached file.\r\n" +
            attachments + "--b1--\r\n");
        EXPECT_TRUE(m);
        return inspect_content(*m, {policy_, *classifier_, kDomain, Direction::seller_to_buyer});
    }
    static std::string attachment(const std::string& name, const std::string& type,
                                  const std::string& bytes) {
        return "--b1\r\nContent-Type: " + type + "; name=\"" + name +
               "\"\r\nContent-Disposition: attachment; filename=\"" + name +
               "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(bytes) + "\r\n";
    }
    static const ContentHit* hit(const ContentFindings& f, const std::string& rule) {
        auto it = std::find_if(f.content_hits.begin(), f.content_hits.end(),
                               [&](const ContentHit& h) { return h.rule_id == rule; });
        return it == f.content_hits.end() ? nullptr : &*it;
    }

    // Loaded once: compiling its content rules takes a while.
    static const Policy& committed_policy() {
        static const Policy policy = [] {
            auto p = load_policy(
                (std::filesystem::path(MM_SOURCE_DIR) / "etc" / "policy.yaml").string());
            if (!p) throw std::runtime_error(p.error().message);
            return **p;
        }();
        return policy;
    }

    Policy policy_ = committed_policy();
    std::shared_ptr<const AttachmentClassifier> classifier_ =
        AttachmentClassifier::create().value();
};

struct FlyerCase {
    std::string name, type;
    std::string bytes;
};

class CouponFlyerTest : public DocumentInspectTest,
                        public ::testing::WithParamInterface<FlyerCase> {};

TEST_P(CouponFlyerTest, CouponCodeIsAPromotionAndTheExcerptNamesTheFile) {
    const FlyerCase& c = GetParam();
    policy_.attachments.allowed_types.push_back(std::string(kOdt));
    const ContentFindings f = inspect(attachment(c.name, c.type, c.bytes));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_TRUE(f.attachments[0].kept) << f.attachments[0].reason;
    EXPECT_EQ(f.attachments[0].text_note, "");
    const ContentHit* promo = hit(f, "promo.marketing");
    ASSERT_NE(promo, nullptr);
    EXPECT_EQ(promo->action, ContentRule::Action::reject);
    EXPECT_TRUE(promo->excerpt.starts_with(c.name + ": ")) << promo->excerpt;
    EXPECT_NE(promo->excerpt.find("ABC123"), std::string::npos) << promo->excerpt;
    ASSERT_EQ(f.document_texts.size(), 1u);
    EXPECT_EQ(f.texts.size(), 1u);  // the body; documents are apart (not for the repeat rule)
}

INSTANTIATE_TEST_SUITE_P(
    Formats, CouponFlyerTest,
    ::testing::Values(FlyerCase{"flyer.pdf", "application/pdf", text_pdf({kFlyer})},
                      FlyerCase{"flyer.docx",
                                "application/"
                                "vnd.openxmlformats-officedocument.wordprocessingml.document",
                                docx_with("<w:p><w:r><w:t>Spring sale on all lamps!</w:t></w:r>"
                                          "</w:p><w:p><w:r><w:t>Use code ABC123 at "
                                          "checkout.</w:t></w:r></w:p>")},
                      FlyerCase{"flyer.odt", std::string(kOdt),
                                odt_with("<text:p>Spring sale on all lamps!</text:p>"
                                         "<text:p>Use code ABC123 at checkout.</text:p>")}),
    [](const auto& info) { return info.param.name.substr(info.param.name.find('.') + 1); });

TEST_F(DocumentInspectTest, OdtIsRefusedUnlessAllowed) {
    const ContentFindings f = inspect(
        attachment("flyer.odt", std::string(kOdt), odt_with("<text:p>Use code ABC123</text:p>")));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_FALSE(f.attachments[0].kept);
    EXPECT_EQ(hit(f, "promo.marketing"), nullptr);
}

TEST_F(DocumentInspectTest, OdtWithMacrosIsRefusedAndNotRead) {
    policy_.attachments.allowed_types.push_back(std::string(kOdt));
    std::string odt = mm::testing::zip_package({{"mimetype", std::string(kOdt)},
                                                {"content.xml", "<x>Use code ABC123</x>"},
                                                {"Basic/Standard/Module1.xml", "<script/>"}});
    const ContentFindings f = inspect(attachment("flyer.odt", std::string(kOdt), odt));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_FALSE(f.attachments[0].kept);
    EXPECT_EQ(f.attachments[0].rule_id, "attachment.macro");
    EXPECT_TRUE(f.document_texts.empty());
}

// Stripped or refused attachments are not read: their text is not
// delivered, so it is no reason to refuse the message.
TEST_F(DocumentInspectTest, StrippedAttachmentIsNotRead) {
    const ContentFindings f =
        inspect(attachment("flyer.txt", "application/pdf", text_pdf({kFlyer})));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_FALSE(f.attachments[0].kept);
    EXPECT_TRUE(f.document_texts.empty());
    EXPECT_EQ(hit(f, "promo.marketing"), nullptr);
}

TEST_F(DocumentInspectTest, PasswordProtectedPdfIsStrippedUnread) {
    const ContentFindings f =
        inspect(attachment("flyer.pdf", "application/pdf", password_protected_pdf({kFlyer})));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_FALSE(f.attachments[0].kept);
    EXPECT_NE(f.attachments[0].reason.find("encrypted"), std::string::npos);
    EXPECT_TRUE(f.document_texts.empty());
}

TEST_F(DocumentInspectTest, BrokenPdfIsJudgedWithoutItsText) {
    const ContentFindings f =
        inspect(attachment("scan.pdf", "application/pdf", mm::bench::synthetic_pdf(4096)));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_TRUE(f.attachments[0].kept);
    EXPECT_NE(f.attachments[0].text_note.find("text not read"), std::string::npos);
    EXPECT_TRUE(f.content_hits.empty());
}

TEST_F(DocumentInspectTest, MessageCapLeavesLaterAttachmentsUnread) {
    policy_.attachments.text.max_message_chars = 20;
    const ContentFindings f = inspect(attachment("a.pdf", "application/pdf", text_pdf({kFlyer})) +
                                      attachment("b.pdf", "application/pdf", text_pdf({kFlyer})));
    ASSERT_EQ(f.attachments.size(), 2u);
    EXPECT_NE(f.attachments[0].text_note.find("20 characters"), std::string::npos)
        << f.attachments[0].text_note;
    EXPECT_NE(f.attachments[1].text_note.find("max_message_chars"), std::string::npos)
        << f.attachments[1].text_note;
    ASSERT_EQ(f.document_texts.size(), 1u);
    EXPECT_EQ(g_utf8_strlen(f.document_texts[0].c_str(), -1), 20);
}

TEST_F(DocumentInspectTest, ReadingCanBeSwitchedOff) {
    policy_.attachments.text.read = false;
    const ContentFindings f =
        inspect(attachment("flyer.pdf", "application/pdf", text_pdf({kFlyer})));
    EXPECT_TRUE(f.document_texts.empty());
    EXPECT_EQ(hit(f, "promo.marketing"), nullptr);
}

}  // namespace
}  // namespace mm::policy
