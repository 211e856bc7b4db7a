// The text of a PDF's pages, with poppler-cpp (document_text.h).
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <memory>
#include <mutex>

#include "policy/limits.h"
#include "policy/rules/active_content.h"
#include "policy/rules/document_text.h"

namespace mm::policy::document_text_detail {
namespace {

// poppler reports every damaged object on stderr by default: in the daemon
// that would be an attacker's log spam.  What it could not read shows as
// pages without text or a document it cannot open.
void quiet(const std::string&, void*) {}

// What the extractor may interpret of one PDF, inflated: a text PDF of 50
// full pages holds about 1 MiB, and the extractor's time grows with it.
constexpr std::size_t kMaxInflatedStreams = 8u << 20;

void silence_poppler() {
    static std::once_flag once;
    std::call_once(once, [] { poppler::set_debug_error_function(quiet, nullptr); });
}

}  // namespace

DocumentText read_pdf_text(std::string_view bytes, const TextBounds& bounds) {
    silence_poppler();
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        return {{}, false, "text not read: the file is too large for the PDF reader"};
    if (auto why = pdf_text_hazard(bytes, kMaxInflatedStreams))
        return {{}, false, "text not read: " + *why};
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
