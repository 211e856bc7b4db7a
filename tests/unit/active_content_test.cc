// Active content in legacy Office and PDF attachments (active_content.h),
// alone and through the attachment classifier.
#include <gsf/gsf-outfile-msole.h>
#include <gsf/gsf-output-memory.h>
#include <gsf/gsf-utils.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/rules/active_content.h"
#include "policy/rules/attachment_rule.h"

namespace mm::policy {
namespace {

// An OLE2 compound file with the given storages (name/child pairs; an
// empty child is a stream in the root), written by libgsf itself.
std::string ole2(const std::vector<std::pair<std::string, std::string>>& entries) {
    gsf_init();
    GsfOutput* mem = gsf_output_memory_new();
    GsfOutfile* ole = gsf_outfile_msole_new(mem);
    for (const auto& [dir, stream] : entries) {
        GsfOutput* d = gsf_outfile_new_child(ole, dir.c_str(), !stream.empty());
        if (!stream.empty()) {
            GsfOutput* s = gsf_outfile_new_child(GSF_OUTFILE(d), stream.c_str(), FALSE);
            gsf_output_write(s, 4, reinterpret_cast<const guint8*>("data"));
            gsf_output_close(s);
            g_object_unref(s);
        } else {
            gsf_output_write(d, 4, reinterpret_cast<const guint8*>("data"));
        }
        gsf_output_close(d);
        g_object_unref(d);
    }
    gsf_output_close(GSF_OUTPUT(ole));
    g_object_unref(ole);
    std::string out(
        reinterpret_cast<const char*>(gsf_output_memory_get_bytes(GSF_OUTPUT_MEMORY(mem))),
        static_cast<std::size_t>(gsf_output_size(mem)));
    g_object_unref(mem);
    return out;
}

// A one-page PDF whose catalog carries `catalog_extra`.
std::string pdf(const std::string& catalog_extra, const std::string& more_objects = "") {
    return "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + catalog_extra +
           " >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
           "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n" +
           more_objects + "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
}

TEST(ActiveContent, Ole2WithoutMacrosPasses) {
    const std::string doc = ole2({{"WordDocument", ""}, {"1Table", ""}});
    ASSERT_TRUE(is_ole2(doc));
    EXPECT_FALSE(ole2_active_content(doc));
}

TEST(ActiveContent, Ole2WithAVbaStorageIsRefused) {
    for (const char* storage : {"Macros", "_VBA_PROJECT_CUR"}) {
        const std::string doc = ole2({{"WordDocument", ""}, {storage, "VBA"}});
        auto why = ole2_active_content(doc);
        ASSERT_TRUE(why) << storage;
        EXPECT_NE(why->find("VBA macros"), std::string::npos) << *why;
    }
}

TEST(ActiveContent, Ole2ThatCannotBeReadIsRefused) {
    std::string doc = ole2({{"WordDocument", ""}});
    doc.resize(600);
    EXPECT_TRUE(ole2_active_content(doc));
}

TEST(ActiveContent, PlainPdfPasses) {
    EXPECT_FALSE(pdf_active_content(pdf(""))) << *pdf_active_content(pdf(""));
    // Opening on page one is a destination, not an action.
    EXPECT_FALSE(pdf_active_content(pdf("/OpenAction [3 0 R /Fit]")));
}

TEST(ActiveContent, PdfActionsAreRefused) {
    for (const std::string extra :
         {"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>",
          "/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>",  // escaped names
          "/OpenAction << /S /Launch /F (cmd.exe) >>",
          "/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>",
          "/AA << /O << /S /JavaScript /JS (x) >> >>"}) {
        auto why = pdf_active_content(pdf(extra, "4 0 obj\n<< /Type /Filespec >>\nendobj\n"));
        EXPECT_TRUE(why) << extra;
    }
}

TEST(ActiveContent, JavaScriptInAnotherObjectIsFound) {
    auto why = pdf_active_content(
        pdf("",
            "4 0 obj\n<< /Type /Annot /Subtype /Link /A << /S /JavaScript /JS (x) >> >>\n"
            "endobj\n"));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("JavaScript"), std::string::npos);
}

TEST(ActiveContent, ClassifierRefusesAMacroDocAndAScriptedPdf) {
    auto classifier = AttachmentClassifier::create().value();
    AttachmentPolicy policy;
    const std::string doc = ole2({{"WordDocument", ""}, {"Macros", "VBA"}});
    auto v = classifier->classify({"letter.doc", "application/msword", doc, 0, {}}, policy);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.rule_id, "attachment.active_content") << v.reason;

    const std::string js = pdf("/OpenAction << /S /JavaScript /JS (app.alert(1)) >>");
    v = classifier->classify({"invoice.pdf", "application/pdf", js, 0, {}}, policy);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.rule_id, "attachment.active_content");

    v = classifier->classify({"invoice.pdf", "application/pdf", pdf(""), 0, {}}, policy);
    EXPECT_TRUE(v.allowed) << v.reason;
}

}  // namespace
}  // namespace mm::policy
