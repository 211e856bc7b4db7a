// HTML from a stranger: the link cutter (tokenizer, pre-scan, cut, text
// fallback) and the text a reader sees.
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "policy/html/html_text.h"
#include "policy/rules/link_rule.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mm::fuzz::load_shipped_policy();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view html(reinterpret_cast<const char*>(data), size);
    const auto& links = mm::fuzz::shipped_policy().links;
    mm::policy::scan_html_links(html, links, mm::fuzz::kDomain, mm::policy::Unchanged::leave_empty);
    mm::policy::html_to_text(html);
    return 0;
}
