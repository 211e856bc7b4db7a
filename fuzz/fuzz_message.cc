// A whole message from a stranger: parsed, evaluated against the shipped
// policy with a real SQLite store (Message-IDs, orders, marketplace rules),
// and its edits applied to a copy.  The first byte picks the envelope: a
// seller's message or a null-sender one (bounce, auto-reply).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "alias/store_factory.h"
#include "fuzz_support.h"
#include "policy/evaluate.h"
#include "policy/message.h"

namespace {

mm::alias::Store& store() {
    static std::shared_ptr<mm::alias::Store> s = [] {
        char dir[] = "/tmp/mm-fuzz-XXXXXX";
        if (mkdtemp(dir) == nullptr) std::abort();
        mm::alias::StoreConfig config;
        config.path = std::string(dir) + "/store.db";
        auto opened = mm::alias::make_store(config);
        if (!opened) std::abort();
        return opened.value();
    }();
    return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool null_sender = data[0] & 1;
    auto message = mm::policy::parse_message(
        std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    if (!message) return 0;
    const auto pair = mm::fuzz::seller_to_buyer_pair();
    mm::policy::Envelope envelope =
        mm::fuzz::envelope_for(pair, null_sender ? "" : "support@acme.example");
    mm::policy::EvalContext ctx{mm::fuzz::shipped_policy(),
                                mm::fuzz::kDomain,
                                mm::fuzz::classifier(),
                                &store(),
                                nullptr,
                                1796000000};
    mm::policy::Verdict v = mm::policy::evaluate(envelope, *message, ctx);
    mm::policy::apply_edits(v.edits, *message, envelope);
    return 0;
}
