// The attachments policy_bench sends, shared with the unit tests that hold
// libmagic's answer for them (attachment_rule_test): a PDF header and
// trailer around LCG bytes, and a PE header (MZ, e_lfanew, "PE") that libmagic
// names an executable.
#pragma once

#include <cstddef>
#include <string>

namespace mm::bench {

inline std::string synthetic_pdf(std::size_t size) {
    std::string p = "%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<</Type/Catalog>>\nendobj\nstream\n";
    unsigned x = 12345;
    while (p.size() < size - 32) {
        x = x * 1103515245 + 12345;
        p.push_back(static_cast<char>(x >> 16));
    }
    return p + "\nendstream\ntrailer\n<<>>\n%%EOF\n";
}

inline std::string synthetic_exe(std::size_t size = 8192) {
    std::string pe(size, '\0');
    pe[0] = 'M';
    pe[1] = 'Z';
    pe[0x3c] = static_cast<char>(0x80);
    pe[0x80] = 'P';
    pe[0x81] = 'E';
    return pe;
}

}  // namespace mm::bench
