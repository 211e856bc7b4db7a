// The attachment samples (real files written by
// tests/data/attachments/make_samples.py) and one classifier, shared by the
// tests that detect their types and those that classify them.
#pragma once

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "policy/rules/attachment_rule.h"

namespace mm::policy::attachment_testing {

inline constexpr const char* kDocx =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
inline constexpr const char* kDocm = "application/vnd.ms-word.document.macroEnabled.12";

// The bytes of tests/data/attachments/`name`; throws when it is missing.
inline std::string sample(const std::string& name) {
    std::string path = std::string(MM_TEST_DATA) + "/attachments/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("missing sample " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline const AttachmentClassifier& classifier() {
    static const auto c = [] {
        auto r = AttachmentClassifier::create();
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
    }();
    return *c;
}

}  // namespace mm::policy::attachment_testing
