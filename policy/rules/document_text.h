// The text a reader sees in a document attachment, for the content rules
// and contact reasons: the pages of a PDF (poppler-cpp), the body of a Word
// .docx (word/document.xml) and of an OpenDocument .odt (content.xml), both
// read with libxml2's streaming reader.
//
// Bounded, and never an error for a bad document: at most `max_chars`
// characters and `max_pdf_pages` pages are read, and `out_of_time` is asked
// between pages and every so many XML nodes.  Whatever ends the reading
// early, the text read so far is returned, with a note saying what was not
// read and why; a document that cannot be opened (damaged,
// password-protected) gives no text and the note.  The evaluation's CPU
// budget is checked at the same points (check_cpu_budget throws
// BudgetExceeded: the one exception that leaves).
//
// Pure functions of the bytes; thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "policy/mime/message_body.h"
#include "policy/rules/active_content.h"

namespace mm::policy {

enum class DocumentKind { none, pdf, docx, odt };

// Which reader a detected type (libmagic's name) calls for.
DocumentKind document_kind(std::string_view detected_type);

struct TextBounds {
    std::size_t max_chars = 100000;     // Unicode characters kept
    int max_pdf_pages = 50;             // pages read
    std::function<bool()> out_of_time;  // true: stop at the next check; may be empty
    // What the attachment check found of the same PDF's text hazard, if it
    // did (active_content.h); the PDF reader asks qpdf itself otherwise.
    const PdfTextCheck* pdf_checked = nullptr;
};

struct DocumentText {
    std::string text;       // UTF-8, paragraphs and pages on lines of their own
    bool complete = true;   // all of the document's text was read
    std::string note;       // when not: what was not read and why
    std::size_t chars = 0;  // Unicode characters in `text`
};

DocumentText read_document_text(DocumentKind kind, const MessageBody& content,
                                const TextBounds& bounds);

// The pieces the readers share (document_text.cc).
namespace document_text_detail {

// Collects text up to a number of characters, cutting on a character
// boundary.
class TextSink {
public:
    explicit TextSink(std::size_t max_chars) : left_(max_chars) {}
    // False once the limit is reached (what fitted was kept).
    bool append(std::string_view utf8);
    // Ends a line unless the text is empty or already ends one.
    bool end_line();
    bool full() const { return full_; }
    std::size_t chars() const { return chars_; }
    std::string take() { return std::move(text_); }

private:
    std::string text_;
    std::size_t left_;
    std::size_t chars_ = 0;
    bool full_ = false;
};

DocumentText read_pdf_text(std::string_view bytes, const TextBounds& bounds);
// Whether poppler's global tables stay built between PDFs (pdf_text.cc).
bool poppler_tables_kept();
DocumentText read_office_text(DocumentKind kind, const MessageBody& content,
                              const TextBounds& bounds);

}  // namespace document_text_detail
}  // namespace mm::policy
