// A bounce from a stranger: the DSN rewrite and the auto-reply test.
#include <cstdint>
#include <functional>
#include <string>

#include "fuzz_support.h"
#include "policy/message.h"
#include "policy/rewrite/dsn_rewrite.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto message =
        mm::policy::parse_message(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!message) return 0;
    const std::function<bool(const std::string&)> known = [](const std::string& id) {
        return id.size() % 2 == 0;
    };
    mm::policy::rewrite_dsn(*message, mm::fuzz::seller_to_buyer_pair(), mm::fuzz::kDomain, &known);
    mm::policy::is_auto_reply(*message);
    return 0;
}
