// The text of a Word .docx (word/document.xml) and of an OpenDocument .odt
// (content.xml), read with libxml2's streaming reader straight from the
// inflating zip entry (document_text.h): nothing but the text is kept, and
// reading stops at the character bound.  No DTD is loaded and no entity is
// expanded (an entity reference shows as a node, skipped), no network.
#include <libxml/parser.h>
#include <libxml/xmlreader.h>

#include <cstring>
#include <memory>
#include <mutex>

#include "policy/limits.h"
#include "policy/rules/document_text.h"
#include "policy/rules/zip_archive.h"

namespace mm::policy::document_text_detail {
namespace {

// How often (in XML nodes) the clocks are read.
constexpr int kNodesPerCheck = 4096;

struct ReaderFree {
    void operator()(xmlTextReader* r) const { xmlFreeTextReader(r); }
};
using ReaderPtr = std::unique_ptr<xmlTextReader, ReaderFree>;

int read_zip(void* context, char* buffer, int len) {
    const zip_int64_t n =
        zip_fread(static_cast<zip_file_t*>(context), buffer, static_cast<zip_uint64_t>(len));
    return n < 0 ? -1 : static_cast<int>(n);
}
int close_nothing(void*) {
    return 0;  // the ZipFilePtr closes the entry
}

// Parser errors go to the note, not to stderr.
void ignore_error(void*, const char*, xmlParserSeverities, xmlTextReaderLocatorPtr) {}

void init_libxml() {
    static std::once_flag once;
    std::call_once(once, [] { xmlInitParser(); });
}

constexpr std::string_view kWordNs[] = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",  // Strict OOXML
};
constexpr std::string_view kOdfTextNs = "urn:oasis:names:tc:opendocument:xmlns:text:1.0";
constexpr std::string_view kOdfOfficeNs = "urn:oasis:names:tc:opendocument:xmlns:office:1.0";

std::string_view view(const xmlChar* s) {
    return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

// What one element means to the text a reader sees.
enum class Mark { none, text_run, tab, line_break, space, paragraph, body };

Mark word_mark(std::string_view ns, std::string_view name) {
    if (ns != kWordNs[0] && ns != kWordNs[1]) return Mark::none;
    if (name == "t") return Mark::text_run;
    if (name == "tab") return Mark::tab;
    if (name == "br" || name == "cr") return Mark::line_break;
    if (name == "p") return Mark::paragraph;
    if (name == "body") return Mark::body;
    return Mark::none;
}

Mark odf_mark(std::string_view ns, std::string_view name) {
    if (ns == kOdfOfficeNs) return name == "body" ? Mark::body : Mark::none;
    if (ns != kOdfTextNs) return Mark::none;
    if (name == "tab") return Mark::tab;
    if (name == "line-break") return Mark::line_break;
    if (name == "s") return Mark::space;
    if (name == "p" || name == "h") return Mark::paragraph;
    return Mark::none;
}

// Walks the XML: Word keeps a run's text in w:t (other text nodes, field
// codes among them, are not shown); OpenDocument shows every text node in
// office:body.
class TextWalk {
public:
    TextWalk(DocumentKind kind, xmlTextReader* reader, TextSink& sink)
        : word_(kind == DocumentKind::docx), reader_(reader), sink_(sink) {}

    // 1: the end, 0: stopped (sink full or out of time), -1: the XML is bad.
    int run(const TextBounds& bounds, std::string& why) {
        int nodes = 0;
        int ret;
        while ((ret = xmlTextReaderRead(reader_)) == 1) {
            if (++nodes % kNodesPerCheck == 0) {
                check_cpu_budget();
                if (bounds.out_of_time && bounds.out_of_time()) {
                    why = "its time allowance was used";
                    return 0;
                }
            }
            if (!node()) {
                why = "it has more than " + std::to_string(bounds.max_chars) + " characters";
                return 0;
            }
        }
        return ret == 0 ? 1 : -1;
    }

private:
    // False once the sink is full.
    bool node() {
        const int type = xmlTextReaderNodeType(reader_);
        if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
            type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
            if (in_body_ == 0 || (word_ && in_run_ == 0)) return true;
            return sink_.append(view(xmlTextReaderConstValue(reader_)));
        }
        const bool start = type == XML_READER_TYPE_ELEMENT;
        if (!start && type != XML_READER_TYPE_END_ELEMENT) return true;
        const std::string_view ns = view(xmlTextReaderConstNamespaceUri(reader_));
        const std::string_view name = view(xmlTextReaderConstLocalName(reader_));
        const Mark mark = word_ ? word_mark(ns, name) : odf_mark(ns, name);
        const bool empty = start && xmlTextReaderIsEmptyElement(reader_) == 1;
        switch (mark) {
            case Mark::body:
                if (!empty) in_body_ += start ? 1 : -1;
                return true;
            case Mark::text_run:
                if (!empty) in_run_ += start ? 1 : -1;
                return true;
            case Mark::paragraph:
                return start && !empty ? true : in_body_ == 0 || sink_.end_line();
            case Mark::tab:
                return !start || in_body_ == 0 || sink_.append("\t");
            case Mark::line_break:
                return !start || in_body_ == 0 || sink_.append("\n");
            case Mark::space:
                return !start || in_body_ == 0 || sink_.append(" ");
            case Mark::none:
                return true;
        }
        return true;
    }

    const bool word_;
    xmlTextReader* reader_;
    TextSink& sink_;
    int in_body_ = 0;
    int in_run_ = 0;
};

}  // namespace

DocumentText read_office_text(DocumentKind kind, const MessageBody& content,
                              const TextBounds& bounds) {
    init_libxml();
    const char* entry = kind == DocumentKind::docx ? "word/document.xml" : "content.xml";
    ZipPtr zip = open_zip({}, &content);
    if (!zip) return {{}, false, "text not read: not a readable zip archive"};
    const zip_int64_t index = zip_name_locate(zip.get(), entry, ZIP_FL_NOCASE);
    if (index < 0) return {{}, false, std::string("text not read: it has no ") + entry};
    ZipFilePtr file(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(index), 0));
    if (!file) return {{}, false, std::string("text not read: its ") + entry + " cannot be read"};

    ReaderPtr reader(xmlReaderForIO(read_zip, close_nothing, file.get(), entry, nullptr,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_NOCDATA | XML_PARSE_COMPACT));
    if (!reader) return {{}, false, std::string("text not read: its ") + entry + " cannot be read"};
    xmlTextReaderSetErrorHandler(reader.get(), ignore_error, nullptr);

    TextSink sink(bounds.max_chars);
    TextWalk walk(kind, reader.get(), sink);
    std::string why;
    const int end = walk.run(bounds, why);
    DocumentText out;
    out.complete = end == 1;
    out.chars = sink.chars();
    out.text = sink.take();
    if (end == 0) out.note = "text read only in part: " + why;
    if (end < 0)
        out.note = out.text.empty()
                       ? std::string("text not read: its ") + entry + " is not well-formed XML"
                       : std::string("text read only up to where its ") + entry +
                             " stops being well-formed XML";
    return out;
}

}  // namespace mm::policy::document_text_detail
