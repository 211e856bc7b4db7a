// Active content in document formats that libmagic names as harmless
// types: VBA macros in legacy Office files (OLE2 compound documents, read
// with libgsf) and actions, scripts and embedded files in PDFs (read with
// qpdf, which undoes the name escapes and object streams that a byte
// search would miss).  The attachment classifier refuses what these find.
//
// Pure functions of the bytes; thread-safe.  Work is bounded by the input
// (itself bounded by attachments.max_file_bytes) and by the object and
// directory entry limits below, and qpdf's repair of a damaged PDF, which
// can take minutes, by the evaluation's CPU budget (policy/limits.h: throws
// BudgetExceeded).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mm::policy {

// The OLE2 compound file signature (D0 CF 11 E0 A1 B1 1A E1).
bool is_ole2(std::string_view bytes);

// Why an OLE2 file is refused (it holds a VBA project, or it cannot be
// read as OLE2), or nullopt when it holds no macros.
std::optional<std::string> ole2_active_content(std::string_view bytes);

// Why a PDF is refused (JavaScript, a launch action, an embedded file, an
// open action that is not a plain page destination, additional-action
// triggers, or a file qpdf cannot read), or nullopt.
std::optional<std::string> pdf_active_content(std::string_view bytes);

// Why a PDF's text must not be given to a text extractor, or nullopt: it
// does not parse as it is (a damaged file is repaired differently by each
// reader), or its streams other than images inflate to more than
// `max_inflated` bytes.  A reader's time grows with the content it
// interprets and cannot be stopped inside a page: a 50 KB file can inflate
// to a page that costs it many seconds (bench/RESULTS.md).
std::optional<std::string> pdf_text_hazard(std::string_view bytes, std::size_t max_inflated);

// What the text extractor may inflate of one PDF (pdf_text_hazard's bound):
// a text PDF of 50 full pages holds about 1 MiB, and the extractor's time
// grows with it.
constexpr std::size_t kMaxPdfTextInflated = 8u << 20;

// pdf_text_hazard's answer for a PDF, when pdf_active_content found it too.
struct PdfTextCheck {
    bool known = false;
    std::optional<std::string> hazard;
};

// pdf_active_content(bytes), and, when the PDF has none, what
// pdf_text_hazard(bytes, max_inflated) answers, from the same parse: qpdf's
// parse is most of the cost of either.  `text.known` is false where the
// answer could differ from that call's (then ask it).
std::optional<std::string> pdf_active_content(std::string_view bytes, std::size_t max_inflated,
                                              PdfTextCheck& text);

}  // namespace mm::policy
