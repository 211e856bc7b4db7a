// The text of a PDF's pages, with poppler-cpp (document_text.h).
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "policy/limits.h"
#include "policy/rules/active_content.h"
#include "policy/rules/document_text.h"

namespace mm::policy::document_text_detail {
namespace {

// poppler reports every damaged object on stderr by default: in the daemon
// that would be an attacker's log spam.  What it could not read shows as
// pages without text or a document it cannot open.
void quiet(const std::string&, void*) {}

// The smallest PDF poppler opens without repairs: one empty page, with a
// cross-reference table whose offsets are counted here.
std::string one_empty_page() {
    static constexpr const char* kObjects[] = {
        "<</Type/Catalog/Pages 2 0 R>>",
        "<</Type/Pages/Kids[3 0 R]/Count 1>>",
        "<</Type/Page/Parent 2 0 R/MediaBox[0 0 1 1]>>",
    };
    std::string pdf = "%PDF-1.4\n";
    std::string xref = "xref\n0 4\n0000000000 65535 f \n";
    int number = 0;
    for (const char* object : kObjects) {
        char entry[24];
        std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", pdf.size());
        xref += entry;
        pdf += std::to_string(++number) + " 0 obj\n" + object + "\nendobj\n";
    }
    const std::size_t at = pdf.size();
    return pdf + xref + "trailer\n<</Size 4/Root 1 0 R>>\nstartxref\n" + std::to_string(at) +
           "\n%%EOF\n";
}

// poppler builds its global tables (built-in fonts, encodings, Unicode
// maps) when a document opens while no other is open, and frees them when
// the last one closes: one PDF at a time, that was every PDF, and building
// them cost more than reading a small PDF's text.  A document kept open for
// the life of the process keeps them built; poppler counts its open
// documents under its own lock, and documents on several threads shared the
// tables before whenever they overlapped.  Never closed: poppler's own
// static destructors may run before ours.  Should it not open, each PDF
// builds the tables again, as before.
const poppler::document* tables_kept_open() {
    static const std::string bytes = one_empty_page();
    static const poppler::document* const keeper =
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size()));
    return keeper;
}

void prepare_poppler() {
    static std::once_flag once;
    std::call_once(once, [] {
        poppler::set_debug_error_function(quiet, nullptr);
        tables_kept_open();
    });
}

}  // namespace

bool poppler_tables_kept() {
    prepare_poppler();
    return tables_kept_open() != nullptr;
}

DocumentText read_pdf_text(std::string_view bytes, const TextBounds& bounds) {
    prepare_poppler();
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        return {{}, false, "text not read: the file is too large for the PDF reader"};
    const std::optional<std::string> hazard =
        bounds.pdf_checked != nullptr && bounds.pdf_checked->known
            ? bounds.pdf_checked->hazard
            : pdf_text_hazard(bytes, kMaxPdfTextInflated);
    if (const auto& why = hazard) return {{}, false, "text not read: " + *why};
    // poppler reads the bytes in place: they outlive the document.
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    check_cpu_budget();
    if (!doc) return {{}, false, "text not read: the PDF reader cannot open it"};
    if (doc->is_locked()) return {{}, false, "text not read: the PDF is password-protected"};

    const int pages = doc->pages();
    TextSink sink(bounds.max_chars);
    DocumentText out;
    const int readable = std::min(pages, bounds.max_pdf_pages);
    for (int i = 0; i < readable; ++i) {
        check_cpu_budget();
        if (bounds.out_of_time && bounds.out_of_time()) {
            out.complete = false;
            out.note = "text read only from the first " + std::to_string(i) + " of " +
                       std::to_string(pages) + " pages: its time allowance was used";
            break;
        }
        std::unique_ptr<poppler::page> page(doc->create_page(i));
        if (!page) continue;
        const poppler::byte_array utf8 =
            page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout).to_utf8();
        if (!sink.append(std::string_view(utf8.data(), utf8.size())) || !sink.end_line()) {
            out.complete = false;
            out.note = "text read only up to " + std::to_string(bounds.max_chars) +
                       " characters (page " + std::to_string(i + 1) + " of " +
                       std::to_string(pages) + ")";
            break;
        }
    }
    if (out.complete && pages > readable) {
        out.complete = false;
        out.note = "text read only from the first " + std::to_string(readable) + " of " +
                   std::to_string(pages) + " pages";
    }
    out.chars = sink.chars();
    out.text = sink.take();
    return out;
}

}  // namespace mm::policy::document_text_detail
