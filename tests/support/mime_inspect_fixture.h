// The inspect_content() fixture (policy/mime/mime_inspect.h) shared by
// mime_inspect_test and hostile_mime_test: the default policy, a real
// attachment classifier, and multipart/mixed messages built from parts.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "policy/mime/mime_inspect.h"
#include "policy/policy.h"

namespace mm::policy::inspect_testing {

constexpr const char* kDomain = "marketplace.example";

class InspectTest : public ::testing::Test {
protected:
    // A seller's message to a buyer through inspect_content().
    ContentFindings inspect(const std::string& raw) {
        auto m = parse_message(raw);
        EXPECT_TRUE(m);
        return inspect_content(*m, {policy_, *classifier_, kDomain, Direction::seller_to_buyer});
    }
    // A multipart/mixed message (boundary b1) of `parts`, each opened by
    // "--b1\r\n".
    static std::string mixed(const std::string& parts) {
        return "From: a@acme.example\r\nSubject: hello\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
               parts + "--b1--\r\n";
    }

    Policy policy_ = default_policy();
    std::shared_ptr<const AttachmentClassifier> classifier_ =
        AttachmentClassifier::create().value();
};

}  // namespace mm::policy::inspect_testing
