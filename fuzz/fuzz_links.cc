// Text with links: URL judging (IDN, scripts, public suffixes, mailto) as
// the text link rule applies it.
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "policy/rules/link_rule.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mm::fuzz::load_shipped_policy();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    mm::policy::scan_text_links(text, mm::fuzz::shipped_policy().links, mm::fuzz::kDomain,
                                mm::policy::Unchanged::leave_empty);
    return 0;
}
