#include "policy/rules/active_content.h"

// qpdf 11: use std::shared_ptr, not its old PointerHolder.
#define POINTERHOLDER_TRANSITION 4

#include <gsf/gsf-infile-msole.h>
#include <gsf/gsf-infile.h>
#include <gsf/gsf-input-memory.h>
#include <gsf/gsf-utils.h>
#include <qpdf/Buffer.hh>
#include <qpdf/BufferInputSource.hh>
#include <qpdf/Pipeline.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFObjectHandle.hh>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "policy/limits.h"
#include "util/address.h"

namespace mm::policy {
namespace {

// Limits that keep a crafted file's cost bounded by what a real document
// needs.
constexpr std::size_t kMaxOleEntries = 20000;
constexpr int kMaxPdfObjects = 500000;
constexpr std::size_t kMaxPdfNodes = 2000000;

struct GObjectUnref {
    void operator()(void* p) const { g_object_unref(p); }
};
template <class T>
using GsfPtr = std::unique_ptr<T, GObjectUnref>;

// Storages and streams that hold a VBA project: Word (Macros/VBA), Excel
// (_VBA_PROJECT_CUR/VBA), and the project streams themselves.
constexpr std::array<std::string_view, 5> kVbaNames = {"vba", "_vba_project_cur", "macros",
                                                       "_vba_project", "project"};

// The PDF as qpdf reads it, checking the evaluation's CPU budget
// (policy/limits.h) every so many reads: rebuilding the cross-reference
// table of a damaged file costs qpdf time quadratic in its size (a 400 KB
// file of comment lines after %%EOF: 17 s), and qpdf cannot be stopped but
// from inside a read.  Once the budget is spent every read throws, so qpdf
// ends soon even where it catches the exception and goes on.
class BudgetedInput final : public BufferInputSource {
public:
    explicit BudgetedInput(std::string_view bytes)
        : BufferInputSource(
              "attachment.pdf",
              new Buffer(reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data())),
                         bytes.size()),
              true) {}

    size_t read(char* buffer, size_t length) override {
        step();
        return BufferInputSource::read(buffer, length);
    }
    void seek(qpdf_offset_t offset, int whence) override {
        step();
        BufferInputSource::seek(offset, whence);
    }
    qpdf_offset_t findAndSkipNextEOL() override {
        step();
        return BufferInputSource::findAndSkipNextEOL();
    }

private:
    void step() {
        if (++calls_ % 1024 == 0 || spent_) {
            try {
                check_cpu_budget();
            } catch (const BudgetExceeded&) {
                spent_ = true;
                throw;
            }
        }
    }
    std::size_t calls_ = 0;
    bool spent_ = false;
};

bool is_vba_name(const char* name) {
    if (name == nullptr) return false;
    const std::string lower = to_lower(name);
    return std::find(kVbaNames.begin(), kVbaNames.end(), lower) != kVbaNames.end();
}

}  // namespace

bool is_ole2(std::string_view bytes) {
    static constexpr unsigned char kMagic[] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

std::optional<std::string> ole2_active_content(std::string_view bytes) {
    static std::once_flag init;
    std::call_once(init, [] { gsf_init(); });
    GsfPtr<GsfInput> input(gsf_input_memory_new(reinterpret_cast<const guint8*>(bytes.data()),
                                                static_cast<gsf_off_t>(bytes.size()), FALSE));
    GError* error = nullptr;
    GsfPtr<GsfInfile> root(gsf_infile_msole_new(input.get(), &error));
    if (!root) {
        std::string why = error != nullptr ? error->message : "unreadable";
        if (error != nullptr) g_error_free(error);
        return "an OLE2 document that cannot be read (" + why + ")";
    }
    // Depth-first without recursion: a crafted directory may nest deeply.
    std::vector<GsfPtr<GsfInfile>> pending;
    pending.push_back(std::move(root));
    std::size_t seen = 0;
    while (!pending.empty()) {
        GsfPtr<GsfInfile> dir = std::move(pending.back());
        pending.pop_back();
        const int n = gsf_infile_num_children(dir.get());
        for (int i = 0; i < n; ++i) {
            if (++seen > kMaxOleEntries)
                return std::string("an OLE2 document with too many entries");
            const char* name = gsf_infile_name_by_index(dir.get(), i);
            if (is_vba_name(name))
                return "a document with VBA macros (OLE2 entry \"" + std::string(name) + "\")";
            GsfPtr<GsfInput> child(gsf_infile_child_by_index(dir.get(), i));
            if (child && GSF_IS_INFILE(child.get()) &&
                gsf_infile_num_children(GSF_INFILE(child.get())) > 0)
                pending.emplace_back(GSF_INFILE(child.release()));
        }
    }
    return std::nullopt;
}

namespace {

// Action types that run something, fetch something or leave the document.
constexpr std::array<std::string_view, 6> kActiveActions = {
    "/JavaScript", "/Launch", "/ImportData", "/GoToE", "/RichMediaExecute", "/SubmitForm"};

std::optional<std::string> active_key(QPDFObjectHandle dict) {
    if (dict.hasKey("/JS") || dict.hasKey("/JavaScript")) return "JavaScript";
    if (dict.hasKey("/Launch")) return "a launch action";
    if (dict.hasKey("/EmbeddedFiles") || dict.hasKey("/EF")) return "an embedded file";
    if (dict.hasKey("/AA")) return "additional actions (/AA)";
    if (dict.hasKey("/RichMedia") || dict.hasKey("/XFA")) return "rich media or XFA forms";
    QPDFObjectHandle type = dict.getKey("/Type");
    if (type.isName() && type.getName() == "/EmbeddedFile") return "an embedded file";
    QPDFObjectHandle action = dict.getKey("/S");
    if (action.isName() && std::find(kActiveActions.begin(), kActiveActions.end(),
                                     action.getName()) != kActiveActions.end())
        return "a " + action.getName().substr(1) + " action";
    // An open action that is a page destination (an array) is how most
    // PDFs open on page one; an action dictionary is judged above.
    QPDFObjectHandle open = dict.getKey("/OpenAction");
    if (open.isDictionary()) {
        QPDFObjectHandle s = open.getKey("/S");
        if (!s.isName() || s.getName() != "/GoTo") return "an open action";
    }
    return std::nullopt;
}

}  // namespace

namespace {

// qpdf's recovery of a damaged file can take minutes on crafted input (it
// rescans the file for objects), so files that do not parse as they are
// get a bounded, linear look instead: names with their #xx escapes undone,
// searched for the same keys (an open action shows by its action's type,
// /S /JavaScript, since a page destination is harmless).  Compressed object
// streams cannot be read
// that way, so a damaged file that has them cannot be checked.
std::optional<std::string> scan_damaged_pdf(std::string_view bytes) {
    std::string names;
    names.reserve(bytes.size() / 8);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] != '/') continue;
        std::string name = "/";
        std::size_t j = i + 1;
        for (; j < bytes.size() && name.size() < 64; ++j) {
            const char c = bytes[j];
            if (c == '#' && j + 2 < bytes.size() &&
                std::isxdigit(static_cast<unsigned char>(bytes[j + 1])) &&
                std::isxdigit(static_cast<unsigned char>(bytes[j + 2]))) {
                name.push_back(
                    static_cast<char>(std::stoi(std::string(bytes.substr(j + 1, 2)), nullptr, 16)));
                j += 2;
            } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                       c == '-') {
                name.push_back(c);
            } else {
                break;
            }
        }
        i = j - 1;
        names += name;
        names.push_back(' ');
    }
    for (const char* key :
         {"/JavaScript ", "/JS ", "/Launch ", "/EmbeddedFile ", "/EmbeddedFiles ", "/EF ", "/AA ",
          "/RichMedia ", "/XFA ", "/ImportData ", "/SubmitForm ", "/GoToE "})
        if (names.find(key) != std::string::npos)
            return std::string("a damaged PDF with ") + (key + 1);
    if (names.find("/ObjStm ") != std::string::npos)
        return std::string("a damaged PDF with compressed objects that cannot be checked");
    return std::nullopt;
}

}  // namespace

namespace {

// Runs `read` on the PDF as qpdf opens it, without repairs (see
// scan_damaged_pdf).  The CPU budget spent inside qpdf ends the call; any
// other failure is `unreadable(encrypted)`.
template <class Read, class Unreadable>
auto with_qpdf(std::string_view bytes, Read read, Unreadable unreadable)
    -> decltype(read(std::declval<QPDF&>())) {
    try {
        QPDF pdf;
        pdf.setSuppressWarnings(true);
        pdf.setAttemptRecovery(false);
        pdf.processInputSource(std::make_shared<BudgetedInput>(bytes));
        return read(pdf);
    } catch (const LimitExceeded&) {
        throw;
    } catch (const std::exception&) {
        check_cpu_budget();  // qpdf may have made the budget's exception its own
        return unreadable(bytes.find("/Encrypt") != std::string_view::npos);
    }
}

}  // namespace

namespace {

// Active content anywhere in the PDF qpdf opened (pdf_active_content).
std::optional<std::string> active_in(QPDF& pdf) {
    if (pdf.getObjectCount() > static_cast<size_t>(kMaxPdfObjects))
        return std::string("a PDF with too many objects");
    // Every indirect object, and the dictionaries and arrays written
    // inside it (an annotation's /A action is usually direct), walked
    // with a stack: a crafted file may nest them deeply.
    std::size_t visited = 0;
    std::vector<QPDFObjectHandle> pending;
    for (QPDFObjectHandle obj : pdf.getAllObjects()) {
        pending.push_back(obj);
        while (!pending.empty()) {
            QPDFObjectHandle o = pending.back();
            pending.pop_back();
            if (++visited > kMaxPdfNodes) return std::string("a PDF with too many objects");
            if (o.isStream()) o = o.getDict();
            if (o.isDictionary()) {
                if (auto why = active_key(o)) return "a PDF with " + *why;
                for (auto& [key, value] : o.ditems())
                    if (!value.isIndirect() && (value.isDictionary() || value.isArray()))
                        pending.push_back(value);
            } else if (o.isArray()) {
                for (auto& value : o.aitems())
                    if (!value.isIndirect() && (value.isDictionary() || value.isArray()))
                        pending.push_back(value);
            }
        }
    }
    check_cpu_budget();  // in case qpdf swallowed it
    return std::nullopt;
}

// Encrypted with a password, or damaged: see scan_damaged_pdf.
std::optional<std::string> active_in_unreadable(std::string_view bytes, bool encrypted) {
    if (encrypted) return std::string("an encrypted PDF, which cannot be checked");
    return scan_damaged_pdf(bytes);
}

}  // namespace

std::optional<std::string> pdf_active_content(std::string_view bytes) {
    return with_qpdf(bytes, active_in,
                     [&](bool encrypted) { return active_in_unreadable(bytes, encrypted); });
}

namespace {

// Counts what a stream inflates to and stops it past a bound.
class InflatedBytes final : public Pipeline {
public:
    explicit InflatedBytes(std::size_t left) : Pipeline("inflated bytes", nullptr), left_(left) {}
    void write(unsigned char const*, size_t len) override {
        if (len > left_) {
            over_ = true;
            throw std::length_error("over the bound");
        }
        left_ -= len;
    }
    void finish() override {}
    bool over() const { return over_; }
    std::size_t left() const { return left_; }

private:
    std::size_t left_;
    bool over_ = false;
};

}  // namespace

namespace {

// What a text extractor would inflate of the PDF qpdf opened (pdf_text_hazard).
std::optional<std::string> hazard_in(QPDF& pdf, std::size_t max_inflated) {
    std::size_t left = max_inflated;
    for (QPDFObjectHandle obj : pdf.getAllObjects()) {
        if (!obj.isStream()) continue;
        QPDFObjectHandle subtype = obj.getDict().getKey("/Subtype");
        // Images are not decoded for text; every other stream may be
        // interpreted (pages, forms, glyph procedures, patterns, fonts).
        if (subtype.isName() && subtype.getName() == "/Image") continue;
        InflatedBytes counter(left);
        try {
            obj.pipeStreamData(&counter, 0, qpdf_dl_generalized, true);
        } catch (const LimitExceeded&) {
            throw;
        } catch (const std::exception&) {
            // Undecodable data is no text to read; only the bound counts.
        }
        check_cpu_budget();
        if (counter.over())
            return "its streams inflate to more than " + std::to_string(max_inflated >> 20) +
                   " MiB";
        left = counter.left();
    }
    return std::nullopt;
}

std::optional<std::string> hazard_in_unreadable(bool encrypted) {
    return std::string(encrypted ? "the PDF is password-protected" : "the PDF is damaged");
}

}  // namespace

std::optional<std::string> pdf_text_hazard(std::string_view bytes, std::size_t max_inflated) {
    return with_qpdf(
        bytes, [&](QPDF& pdf) { return hazard_in(pdf, max_inflated); }, hazard_in_unreadable);
}

// One parse for both questions.  The text's answer is taken only where it
// cannot differ from a parse of its own: the active-content walk went
// through (it resolved every object the hazard walk reads) and found
// nothing; a failure inside the hazard walk is what with_qpdf would have
// made of it on its own.  Anything else leaves `text` unknown, and the
// reader asks pdf_text_hazard itself, as it did.
std::optional<std::string> pdf_active_content(std::string_view bytes, std::size_t max_inflated,
                                              PdfTextCheck& text) {
    text = {};
    return with_qpdf(
        bytes,
        [&](QPDF& pdf) -> std::optional<std::string> {
            std::optional<std::string> active = active_in(pdf);
            if (active) return active;
            try {
                text.hazard = hazard_in(pdf, max_inflated);
            } catch (const LimitExceeded&) {
                throw;
            } catch (const std::exception&) {
                check_cpu_budget();
                text.hazard =
                    hazard_in_unreadable(bytes.find("/Encrypt") != std::string_view::npos);
            }
            text.known = true;
            return std::nullopt;
        },
        [&](bool encrypted) { return active_in_unreadable(bytes, encrypted); });
}

}  // namespace mm::policy
