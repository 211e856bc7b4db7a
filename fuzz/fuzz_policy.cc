// policy.yaml and the daemon config as an operator (or a broken deploy)
// might write them: loaded from a file, the first byte choosing which.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "milter/config.h"
#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static const std::string dir = [] {
        char d[] = "/tmp/mm-fuzz-policy-XXXXXX";
        if (mkdtemp(d) == nullptr) std::abort();
        return std::string(d);
    }();
    const std::string path = dir + "/input.yaml";
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    std::fwrite(data + 1, 1, size - 1, f);
    std::fclose(f);
    if (data[0] & 1)
        (void)mm::milter::load_config(path);
    else
        (void)mm::policy::load_policy(path);
    return 0;
}
