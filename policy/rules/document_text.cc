#include "policy/rules/document_text.h"

namespace mm::policy {

DocumentKind document_kind(std::string_view detected_type) {
    if (detected_type == "application/pdf") return DocumentKind::pdf;
    if (detected_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        return DocumentKind::docx;
    if (detected_type == "application/vnd.oasis.opendocument.text") return DocumentKind::odt;
    return DocumentKind::none;
}

DocumentText read_document_text(DocumentKind kind, const MessageBody& content,
                                const TextBounds& bounds) {
    switch (kind) {
        case DocumentKind::pdf: {
            // poppler reads from memory; a spilled PDF (at most the policy's
            // max_file_bytes) is read into it.
            if (content.spilled())
                return document_text_detail::read_pdf_text(content.str(), bounds);
            return document_text_detail::read_pdf_text(content.memory(), bounds);
        }
        case DocumentKind::docx:
        case DocumentKind::odt:
            return document_text_detail::read_office_text(kind, content, bounds);
        case DocumentKind::none:
            break;
    }
    return {{}, false, "not a document whose text can be read"};
}

namespace document_text_detail {

bool TextSink::append(std::string_view utf8) {
    if (full_) return false;
    // Characters are counted by their lead bytes; the cut falls before the
    // lead byte of the first character that does not fit.
    std::size_t i = 0;
    for (; i < utf8.size(); ++i) {
        if ((static_cast<unsigned char>(utf8[i]) & 0xC0) == 0x80) continue;
        if (left_ == 0) {
            full_ = true;
            break;
        }
        --left_;
        ++chars_;
    }
    text_.append(utf8.substr(0, i));
    return !full_;
}

bool TextSink::end_line() {
    if (text_.empty() || text_.back() == '\n') return !full_;
    return append("\n");
}

}  // namespace document_text_detail
}  // namespace mm::policy
