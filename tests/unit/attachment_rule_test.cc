// AttachmentClassifier::classify and the `attachments:` section (the type
// detection under it: type_detect_test.cc).  Samples are real files written
// by tests/data/attachments/make_samples.py; the detected types are what
// Debian 12's libmagic 5.44 reports for them.
#include "policy/rules/attachment_rule.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <iterator>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/attachment_samples.h"

namespace mm::policy {
namespace {

using namespace attachment_testing;

// ---- classify --------------------------------------------------------------

struct ClassifyCase {
    const char* label;
    const char* file;
    const char* name;
    const char* declared;
    bool allowed;
    const char* rule_id;
    const char* detected;
};

std::ostream& operator<<(std::ostream& os, const ClassifyCase& c) {
    return os << c.label;
}

const ClassifyCase kClassify[] = {
    // Allowed: bytes, name and declared type agree.
    {"pdf", "sample.pdf", "invoice.pdf", "application/pdf", true, "", "application/pdf"},
    {"pdf_undeclared", "sample.pdf", "invoice.pdf", "", true, "", "application/pdf"},
    {"pdf_octet", "sample.pdf", "invoice.pdf", "application/octet-stream", true, "",
     "application/pdf"},
    {"pdf_no_name", "sample.pdf", "", "application/pdf", true, "", "application/pdf"},
    {"pdf_no_ext", "sample.pdf", "invoice", "", true, "", "application/pdf"},
    {"pdf_upper_alias", "sample.pdf", "INVOICE.PDF", "application/x-pdf", true, "",
     "application/pdf"},
    {"png", "sample.png", "photo.png", "image/png", true, "", "image/png"},
    {"jpg", "sample.jpg", "photo.jpg", "image/jpeg", true, "", "image/jpeg"},
    {"jpeg_alias", "sample.jpg", "photo.jpeg", "image/jpg", true, "", "image/jpeg"},
    {"gif", "sample.gif", "anim.gif", "image/gif", true, "", "image/gif"},
    {"webp", "sample.webp", "photo.webp", "image/webp", true, "", "image/webp"},
    {"txt", "sample.txt", "notes.txt", "text/plain", true, "", "text/plain"},
    {"docx", "sample.docx", "letter.docx", kDocx, true, "", kDocx},
    {"docx_octet", "sample.docx", "letter.docx", "application/octet-stream", true, "", kDocx},
    {"docx_late_word", "late_word.docx", "letter.docx", kDocx, true, "", kDocx},
    {"doc", "sample.doc", "letter.doc", "application/msword", true, "", "application/msword"},
    // The name or the declared type disagrees with the bytes.
    {"pdf_named_jpg", "sample.pdf", "invoice.jpg", "", false, "attachment.mismatch",
     "application/pdf"},
    {"pdf_declared_png", "sample.pdf", "invoice.pdf", "image/png", false, "attachment.mismatch",
     "application/pdf"},
    {"pdf_named_html", "sample.pdf", "invoice.html", "", false, "attachment.mismatch",
     "application/pdf"},
    {"jpg_declared_png", "sample.jpg", "photo.jpg", "image/png", false, "attachment.mismatch",
     "image/jpeg"},
    {"jpg_named_png", "sample.jpg", "photo.png", "image/jpeg", false, "attachment.mismatch",
     "image/jpeg"},
    {"txt_named_html", "sample.txt", "page.html", "text/html", false, "attachment.mismatch",
     "text/plain"},
    {"txt_declared_html", "sample.txt", "notes.txt", "text/html", false, "attachment.mismatch",
     "text/plain"},
    {"docx_named_doc", "sample.docx", "letter.doc", "", false, "attachment.mismatch", kDocx},
    {"docx_declared_msword", "sample.docx", "letter.docx", "application/msword", false,
     "attachment.mismatch", kDocx},
    {"doc_named_docx", "sample.doc", "letter.docx", "", false, "attachment.mismatch",
     "application/msword"},
    // Types that are never allowed, whatever the name says.
    {"exe", "sample.exe", "setup.exe", "application/x-msdownload", false, "attachment.type",
     "application/vnd.microsoft.portable-executable"},
    {"exe_named_pdf", "sample.exe", "invoice.pdf", "application/pdf", false, "attachment.type",
     "application/vnd.microsoft.portable-executable"},
    {"random", "random.bin", "data.bin", "", false, "attachment.type", "application/octet-stream"},
    {"random_named_docx", "random.bin", "letter.docx", kDocx, false, "attachment.type",
     "application/octet-stream"},
    {"zip", "plain.zip", "files.zip", "application/zip", false, "attachment.type",
     "application/zip"},
    {"real_docx_named_zip", "late_word.docx", "files.zip", "application/zip", false,
     "attachment.type", "application/zip"},
    // Active content inside OOXML.
    {"docm", "macro.docm", "letter.docm", kDocm, false, "attachment.macro", kDocx},
    {"docm_named_docx", "macro.docm", "letter.docx", kDocx, false, "attachment.macro", kDocx},
    {"vba_in_docx", "hidden_macro.docx", "letter.docx", kDocx, false, "attachment.macro", kDocx},
    {"ole_object", "ole_object.docx", "letter.docx", kDocx, false, "attachment.macro", kDocx},
    {"embedded_exe", "embedded_exe.docx", "letter.docx", kDocx, false, "attachment.macro", kDocx},
    // Claims to be a Word document and is not.
    {"fake_docx", "fake.docx", "letter.docx", kDocx, false, "attachment.ooxml", "application/zip"},
    {"zip_named_docx", "plain.zip", "letter.docx", "", false, "attachment.ooxml",
     "application/zip"},
    {"zip_declared_docx", "plain.zip", "", kDocx, false, "attachment.ooxml", "application/zip"},
    {"many_entries", "many_entries.docx", "letter.docx", kDocx, false, "attachment.ooxml", kDocx},
    {"size_bomb", "size_bomb.docx", "letter.docx", kDocx, false, "attachment.ooxml", kDocx},
};

class Classify : public ::testing::TestWithParam<ClassifyCase> {};

TEST_P(Classify, Verdict) {
    const ClassifyCase& c = GetParam();
    std::string bytes = sample(c.file);
    AttachmentVerdict v = classifier().classify({c.name, c.declared, bytes}, AttachmentPolicy{});
    EXPECT_EQ(v.allowed, c.allowed) << v.reason;
    EXPECT_EQ(v.rule_id, c.rule_id) << v.reason;
    EXPECT_EQ(v.detected_type, c.detected);
    EXPECT_EQ(v.reason.empty(), c.allowed);
}

INSTANTIATE_TEST_SUITE_P(Samples, Classify, ::testing::ValuesIn(kClassify),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(ClassifyPolicy, OnlyTheConfiguredTypesPass) {
    AttachmentPolicy p;
    p.allowed_types = {"application/pdf"};
    std::string png = sample("sample.png");
    auto v = classifier().classify({"photo.png", "image/png", png}, p);
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.rule_id, "attachment.type");
    EXPECT_EQ(v.reason, "attachments of type image/png are not allowed");
    std::string pdf = sample("sample.pdf");
    EXPECT_TRUE(classifier().classify({"a.pdf", "application/pdf", pdf}, p).allowed);
}

TEST(ClassifyPolicy, EmptyAttachmentIsRefused) {
    auto v = classifier().classify({"empty.txt", "text/plain", ""}, AttachmentPolicy{});
    EXPECT_FALSE(v.allowed);
    EXPECT_EQ(v.rule_id, "attachment.type");
}

TEST(ClassifyPolicy, ReasonsNameTheProblem) {
    std::string docm = sample("macro.docm");
    auto v = classifier().classify({"a.docx", kDocx, docm}, AttachmentPolicy{});
    EXPECT_NE(v.reason.find("vbaProject.bin"), std::string::npos) << v.reason;
    std::string many = sample("many_entries.docx");
    v = classifier().classify({"a.docx", kDocx, many}, AttachmentPolicy{});
    EXPECT_NE(v.reason.find("entries"), std::string::npos) << v.reason;
    std::string bomb = sample("size_bomb.docx");
    v = classifier().classify({"a.docx", kDocx, bomb}, AttachmentPolicy{});
    EXPECT_NE(v.reason.find("MiB"), std::string::npos) << v.reason;
}

TEST(ClassifyConcurrency, EightThreadsAgreeWithTheTable) {
    // More threads than pooled magic handles: callers wait, none share one.
    std::vector<std::string> bytes;
    for (const auto& c : kClassify) bytes.push_back(sample(c.file));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 20; ++round) {
                for (std::size_t i = 0; i < std::size(kClassify); ++i) {
                    std::size_t k = (i + static_cast<std::size_t>(t) * 5) % std::size(kClassify);
                    const ClassifyCase& c = kClassify[k];
                    auto v =
                        classifier().classify({c.name, c.declared, bytes[k]}, AttachmentPolicy{});
                    if (v.allowed != c.allowed || v.rule_id != c.rule_id ||
                        v.detected_type != c.detected)
                        ++wrong;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

// ---- policy.yaml `attachments:` ---------------------------------------------

// Loads the first top-level entry of `text`; "" or "LINE:COL: message".
std::string load(const std::string& text, AttachmentPolicy& p) {
    YAML::Node root = YAML::Load(text);
    auto it = root.begin();
    yaml::Entry e{it->first.Scalar(), it->first, it->second};
    try {
        load_attachments_section(e, p);
    } catch (const yaml::SchemaError& err) {
        std::string w = yaml::where("", err.mark);
        return w.substr(1) + err.what();
    }
    return "";
}

TEST(AttachmentsSection, ValidSection) {
    AttachmentPolicy p;
    ASSERT_EQ(load("attachments:\n"
                   "  allowed_types: [application/PDF, image/png, application/pdf]\n"
                   "  max_total_bytes: 7340032\n"
                   "  max_file_bytes: 5242880\n"
                   "  max_count: 3\n"
                   "  max_depth: 4\n"
                   "  action: reject\n",
                   p),
              "");
    EXPECT_EQ(p.allowed_types, (std::vector<std::string>{"application/pdf", "image/png"}));
    EXPECT_EQ(p.max_total_bytes, 7340032u);
    EXPECT_EQ(p.max_file_bytes, 5242880u);
    EXPECT_EQ(p.max_count, 3);
    EXPECT_EQ(p.max_depth, 4);
    EXPECT_EQ(p.action, AttachmentPolicy::Action::reject);
}

TEST(AttachmentsSection, LeftOutKeysKeepTheDefaults) {
    AttachmentPolicy p;
    ASSERT_EQ(load("attachments:\n  action: strip\n", p), "");
    const AttachmentPolicy d;
    EXPECT_EQ(p.allowed_types, d.allowed_types);
    EXPECT_EQ(p.max_total_bytes, 10u << 20);
    EXPECT_EQ(p.max_count, 10);
    EXPECT_EQ(p.action, AttachmentPolicy::Action::strip);
}

struct SectionError {
    const char* yaml;
    const char* error;
};

class AttachmentsSectionError : public ::testing::TestWithParam<SectionError> {};

TEST_P(AttachmentsSectionError, AtTheOffendingNode) {
    AttachmentPolicy p;
    EXPECT_EQ(load(GetParam().yaml, p), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, AttachmentsSectionError,
    ::testing::Values(
        SectionError{"attachments:\n  action: strp\n",
                     "2:11: unknown action 'strp' (expected strip or reject)"},
        SectionError{"attachments:\n  max_count: 10\n  max_size: 5\n",
                     "3:3: unknown key 'max_size' in 'attachments'"},
        SectionError{"attachments:\n  max_count: 1\n  max_count: 2\n",
                     "3:3: duplicate key 'max_count' in 'attachments'"},
        SectionError{"attachments:\n  max_count: ten\n",
                     "2:14: attachments.max_count: expected an integer, got 'ten'"},
        SectionError{"attachments:\n  max_file_bytes: 0\n",
                     "2:19: attachments.max_file_bytes: 0 is out of range (1 to 4294967296)"},
        SectionError{"attachments:\n  max_depth: 100\n",
                     "2:14: attachments.max_depth: 100 is out of range (1 to 64)"},
        SectionError{"attachments:\n  allowed_types: application/pdf\n",
                     "2:18: attachments.allowed_types: expected a list, got a scalar"},
        SectionError{"attachments:\n  allowed_types:\n    - application/pdf\n    - pdf\n",
                     "4:7: attachments.allowed_types: invalid MIME type 'pdf' (expected "
                     "type/subtype)"},
        SectionError{"attachments:\n  allowed_types: [[a/b]]\n",
                     "2:19: attachments.allowed_types: expected a MIME type, got a list"},
        SectionError{"attachments: strip\n", "1:14: attachments: expected a mapping, got a scalar"},
        SectionError{"attachments:\n", "1:1: attachments: missing value"}));

}  // namespace
}  // namespace mm::policy
