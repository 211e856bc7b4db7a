// public_suffixes(): Debian's publicsuffix list when it is newer than
// libpsl's built-in copy, else the built-in copy; either answers lookups.
#include "policy/rules/public_suffixes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

namespace mm::policy {
namespace {

TEST(PublicSuffixesTest, JudgesRegistrableDomains) {
    const psl_ctx_t* psl = public_suffixes();
    ASSERT_NE(psl, nullptr);
    EXPECT_STREQ(psl_registrable_domain(psl, "track.parcels.example.co.uk"), "example.co.uk");
    EXPECT_TRUE(psl_is_public_suffix(psl, "co.uk"));
    EXPECT_EQ(public_suffixes(), psl) << "loaded once";
}

// The list in use is the newer one: the distribution's file when it exists
// and is newer than the built-in copy, which is otherwise the fallback.
TEST(PublicSuffixesTest, TakesTheNewerList) {
    const char* dist = psl_dist_filename();
    struct stat st {};
    const bool dist_newer = dist != nullptr && *dist != '\0' && ::stat(dist, &st) == 0 &&
                            st.st_mtime > psl_builtin_file_time();
    if (dist_newer)
        EXPECT_EQ(public_suffix_source(), dist);
    else
        EXPECT_EQ(public_suffix_source().rfind("built-in (", 0), 0u) << public_suffix_source();
}

}  // namespace
}  // namespace mm::policy
