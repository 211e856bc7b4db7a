#include "policy/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <cstring>
#include <memory>

namespace mm::policy {
namespace {

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

bool is_block(const xmlChar* name) {
    static const char* const blocks[] = {"p",  "div", "br", "li", "tr", "h1", "h2",         "h3",
                                         "h4", "h5",  "h6", "td", "th", "ul", "blockquote", "hr"};
    for (const char* b : blocks)
        if (xmlStrcasecmp(name, reinterpret_cast<const xmlChar*>(b)) == 0) return true;
    return false;
}

void collect(xmlNode* node, std::string& out, int depth) {
    // libxml2 bounds the tree depth itself; the guard keeps our recursion safe too.
    if (depth > 256) return;
    for (xmlNode* n = node; n != nullptr; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) out += reinterpret_cast<const char*>(n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            const char* name = reinterpret_cast<const char*>(n->name);
            if (strcasecmp(name, "script") == 0 || strcasecmp(name, "style") == 0 ||
                strcasecmp(name, "head") == 0)
                continue;
            bool block = is_block(n->name);
            if (block) out += '\n';
            collect(n->children, out, depth + 1);
            if (block) out += '\n';
        }
    }
}

}  // namespace

std::string html_to_text(std::string_view html) {
    if (html.empty()) return {};
    std::unique_ptr<xmlDoc, DocFree> doc(htmlReadMemory(
        html.data(), static_cast<int>(html.size()), nullptr, "UTF-8",
        HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET));
    if (!doc) return std::string(html);
    std::string out;
    collect(xmlDocGetRootElement(doc.get()), out, 0);
    return out;
}

}  // namespace mm::policy
