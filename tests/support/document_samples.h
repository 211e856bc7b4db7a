// Documents whose text the filter reads (policy/rules/document_text.h),
// built in the test: PDFs of text pages (uncompressed, exact cross-reference
// table), one whose empty user password fails (password-protected), and
// Word .docx / OpenDocument .odt packages (libzip) around a body XML.
#pragma once

#include <zip.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mm::testing {

// A PDF literal string.
inline std::string pdf_string(std::string_view s) {
    std::string out = "(";
    for (char c : s) {
        if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + ")";
}

// One page per string, each line of it a line of 6-point Helvetica from the
// top of a letter-size page.  `trailer_extra` goes into the trailer;
// `extra_object`, if any, is the last object (its number: 4 + 2 * pages).
inline std::string text_pdf(const std::vector<std::string>& pages,
                            std::string_view trailer_extra = {},
                            std::string_view extra_object = {}) {
    std::vector<std::string> objects;
    std::string kids;
    for (std::size_t i = 0; i < pages.size(); ++i) kids += std::to_string(4 + 2 * i) + " 0 R ";
    objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
    objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " +
                      std::to_string(pages.size()) + " >>");
    objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    for (std::size_t i = 0; i < pages.size(); ++i) {
        objects.push_back(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            "<< /Font << /F1 3 0 R >> >> /Contents " +
            std::to_string(5 + 2 * i) + " 0 R >>");
        std::string content = "BT /F1 6 Tf 7 TL 36 756 Td ";
        std::size_t start = 0;
        const std::string& text = pages[i];
        while (start <= text.size()) {
            std::size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            content += pdf_string(std::string_view(text).substr(start, end - start)) + " Tj T* ";
            start = end + 1;
        }
        content += "ET";
        objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" +
                          content + "\nendstream");
    }
    if (!extra_object.empty()) objects.emplace_back(extra_object);

    std::string pdf = "%PDF-1.4\n%\xc7\xec\x8f\xa2\n";
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < objects.size(); ++i) {
        offsets.push_back(pdf.size());
        pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
    }
    const std::size_t xref = pdf.size();
    pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
    for (std::size_t offset : offsets) {
        char line[24];
        std::snprintf(line, sizeof line, "%010zu 00000 n \n", offset);
        pdf += line;
    }
    pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R " +
           std::string(trailer_extra) + " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
    return pdf;
}

// A PDF encrypted with the standard security handler whose user password
// is not empty: a reader needs the password to open it.
inline std::string password_protected_pdf(const std::vector<std::string>& pages) {
    const std::string id = "<00112233445566778899aabbccddeeff>";
    const std::string key32 = "<" + std::string(64, 'a') + ">";
    return text_pdf(
        pages, "/Encrypt " + std::to_string(4 + 2 * pages.size()) + " 0 R /ID [" + id + id + "]",
        "<< /Filter /Standard /V 1 /R 2 /O " + key32 + " /U " + key32 + " /P -4 >>");
}

// A zip archive of the entries in order; "mimetype" is stored, as
// OpenDocument requires, the rest deflated.
inline std::string zip_package(const std::vector<std::pair<std::string, std::string>>& entries) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* out = zip_source_buffer_create(nullptr, 0, 0, &err);
    if (out == nullptr) throw std::runtime_error("zip_source_buffer_create failed");
    zip_source_keep(out);
    zip_t* z = zip_open_from_source(out, ZIP_TRUNCATE, &err);
    if (z == nullptr) throw std::runtime_error("zip_open_from_source failed");
    for (const auto& [name, data] : entries) {
        zip_source_t* s = zip_source_buffer_create(data.data(), data.size(), 0, &err);
        const zip_int64_t index = zip_file_add(z, name.c_str(), s, 0);
        if (index < 0) throw std::runtime_error("zip_file_add failed");
        if (name == "mimetype")
            zip_set_file_compression(z, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
    }
    if (zip_close(z) != 0) throw std::runtime_error("zip_close failed");
    std::string bytes;
    if (zip_source_open(out) == 0) {
        zip_source_seek(out, 0, SEEK_END);
        bytes.resize(static_cast<std::size_t>(zip_source_tell(out)));
        zip_source_seek(out, 0, SEEK_SET);
        zip_source_read(out, bytes.data(), bytes.size());
        zip_source_close(out);
    }
    zip_source_free(out);
    zip_error_fini(&err);
    return bytes;
}

// A Word document whose body is `body_xml` (w:p elements).
inline std::string docx_with(std::string_view body_xml) {
    const std::string w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
    return zip_package({
        {"[Content_Types].xml",
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types "
         "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
         "<Default Extension=\"rels\" "
         "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
         "<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
         "<Override PartName=\"/word/document.xml\" "
         "ContentType=\"application/"
         "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"},
        {"_rels/.rels",
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
         "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
         "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/"
         "2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>"},
        {"word/document.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"" +
                                  w + "\"><w:body>" + std::string(body_xml) +
                                  "</w:body></w:document>"},
    });
}

// An OpenDocument text whose office:text is `text_xml` (text:p elements).
inline std::string odt_with(std::string_view text_xml) {
    return zip_package({
        {"mimetype", "application/vnd.oasis.opendocument.text"},
        {"META-INF/manifest.xml",
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest "
         "xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">"
         "<manifest:file-entry manifest:full-path=\"/\" "
         "manifest:media-type=\"application/vnd.oasis.opendocument.text\"/>"
         "<manifest:file-entry manifest:full-path=\"content.xml\" "
         "manifest:media-type=\"text/xml\"/></manifest:manifest>"},
        {"content.xml",
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content "
         "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
         "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.3\">"
         "<office:body><office:text>" +
             std::string(text_xml) + "</office:text></office:body></office:document-content>"},
    });
}

}  // namespace mm::testing
