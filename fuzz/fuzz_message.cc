// A whole message from a stranger: parsed, evaluated against the shipped
// policy with a real SQLite store (Message-IDs, orders, marketplace rules),
// and its edits applied to a copy.  The first byte picks the envelope: a
// seller's message or a null-sender one (bounce, auto-reply).  The same
// bytes, read as base64, must decode to what GMime makes of them
// (policy/mime/base64_decode.h decodes every attachment in evaluate()).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "alias/store_factory.h"
#include "fuzz_support.h"
#include "policy/evaluate.h"
#include "policy/message.h"
#include "policy/mime/base64_decode.h"
#include "policy/mime/gmime_ptr.h"

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

// Both decoders over `in` in two steps cut at `cut`; aborts if they differ.
void check_base64(std::string_view in, std::size_t cut) {
    mm::policy::ensure_gmime();
    if (!mm::policy::base64_decodes_like_gmime()) return;
    GMimeEncoding gmime;
    g_mime_encoding_init_decode(&gmime, GMIME_CONTENT_ENCODING_BASE64);
    std::string want(g_mime_encoding_outlen(&gmime, in.size()) + 8, '\0');
    std::size_t w = g_mime_encoding_step(&gmime, in.data(), cut, want.data());
    w += g_mime_encoding_step(&gmime, in.data() + cut, in.size() - cut, want.data() + w);
    mm::policy::Base64Decoder ours;
    std::string got(2 * mm::policy::Base64Decoder::max_output(in.size()), '\0');
    const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
    auto* out = reinterpret_cast<unsigned char*>(got.data());
    std::size_t g = ours.step(bytes, cut, out);
    g += ours.step(bytes + cut, in.size() - cut, out + g);
    if (g != w || got.compare(0, g, want, 0, w) != 0 || ours.state() != gmime.state) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    mm::fuzz::load_shipped_policy();
    mm::policy::ensure_gmime();
    store();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool null_sender = data[0] & 1;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    check_base64(rest, rest.size() * (data[0] >> 1) / 127);
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
