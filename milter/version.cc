#include "milter/version.h"

#include <gmime/gmime.h>
#include <gsf/gsf-utils.h>
#include <idn2.h>
#include <libmilter/mfapi.h>
#include <libpsl.h>
#include <magic.h>
#include <openssl/crypto.h>
#include <qpdf/qpdf-c.h>
#include <sqlite3.h>
#include <unicode/uversion.h>
#include <zip.h>

#include <utility>
#include <vector>

#include "milter/metrics_server.h"
#include "milter_build_info.h"
#include "policy/rules/public_suffixes.h"

namespace mm::milter {
namespace {

std::string dotted(unsigned major, unsigned minor, unsigned micro) {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(micro);
}

std::string icu_version() {
    UVersionInfo info;
    u_getVersion(info);
    char text[U_MAX_VERSION_STRING_LENGTH];
    u_versionToString(info, text);
    return text;
}

std::string libmilter_version() {
    unsigned major = 0, minor = 0, patch = 0;
    smfi_version(&major, &minor, &patch);
    return dotted(major, minor, patch);
}

std::string libmagic_version() {
    const int v = magic_version();  // 544 for 5.44
    return std::to_string(v / 100) + "." + std::to_string(v % 100);
}

// With the public suffix list the link rule uses: Debian's publicsuffix
// package, or the copy built into the library.
std::string psl_version() {
    return std::string(psl_get_version()) + " (list " + policy::public_suffix_source() + ")";
}

}  // namespace

std::string version_report() {
    // RE2 exposes no version, at run time or in pkg-config; its soname is in
    // the package's Depends.
    const std::vector<std::pair<const char*, std::string>> libraries = {
        {"GMime", dotted(gmime_major_version, gmime_minor_version, gmime_micro_version)},
        {"libmilter", libmilter_version()},
        {"libmagic", libmagic_version()},
        {"SQLite", sqlite3_libversion()},
        {"ICU", icu_version()},
        {"libpsl", psl_version()},
        {"libidn2", idn2_check_version(nullptr)},
        {"OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING)},
        {"libzip", zip_libzip_version()},
        {"libgsf", dotted(static_cast<unsigned>(libgsf_major_version),
                          static_cast<unsigned>(libgsf_minor_version),
                          static_cast<unsigned>(libgsf_micro_version))},
        {"qpdf", qpdf_get_qpdf_version()},
        {"libmicrohttpd", metrics_library_version()},
        {"yaml-cpp", MM_YAMLCPP_VERSION " (built with)"},
    };
    std::string out = "marketplace-milter " MM_VERSION " (git " MM_GIT_COMMIT ")";
    for (const auto& [name, version] : libraries) out += "\n  " + std::string(name) + " " + version;
    return out;
}

}  // namespace mm::milter
