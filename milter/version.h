// `marketplace-milter --version`: what an operator or a bug report needs to
// know of this binary.  The program's version and the commit it was built
// from, then every library it is linked with, as the library reports itself
// at run time (so a library upgraded after the build shows its new version);
// a library with no such call shows the version it was built against.
#pragma once

#include <string>

namespace mm::milter {

// Several lines: "marketplace-milter 0.1.0 (git 1a2b3c4)" and one line per
// library ("  GMime 3.2.13"), without a final newline.
std::string version_report();

}  // namespace mm::milter
