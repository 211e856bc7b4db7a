#include "fuzz_support.h"

#include <cstdio>
#include <cstdlib>

namespace mm::fuzz {

const policy::Policy& shipped_policy() {
    static const std::shared_ptr<const policy::Policy> p = [] {
        auto loaded = policy::load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
        if (!loaded) {
            std::fprintf(stderr, "fuzz: %s\n", loaded.error().message.c_str());
            std::abort();
        }
        return loaded.value();
    }();
    return *p;
}

const policy::AttachmentClassifier& classifier() {
    static const auto c = policy::AttachmentClassifier::create();
    if (!c) std::abort();
    return **c;
}

alias::ResolvedAlias seller_to_buyer_pair() {
    alias::ResolvedAlias a;
    a.pair = {1, "bob", "acme", "3f9a0c6e1d2b4a77", "8c1e5d0b9a7f2e44", 0};
    a.owner = {"bob", alias::Role::buyer, "bob@gmail.example", "Bob", {}, {}};
    a.counterpart = {"acme", alias::Role::seller, "support@acme.example", "Acme", {}, {}};
    return a;
}

policy::Envelope envelope_for(const alias::ResolvedAlias& pair, const std::string& sender) {
    policy::Envelope e;
    e.sender_raw = sender.empty() ? "<>" : "<" + sender + ">";
    e.sender = sender;
    const std::string alias = pair.pair.buyer_alias + "@" + kDomain;
    e.recipients.push_back({"<" + alias + ">", alias, pair});
    return e;
}

}  // namespace mm::fuzz
