// load_policy() and default_policy(): the policy.yaml schema.  Error cases
// assert the exact "policy.yaml:LINE:COL: message".
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "policy/policy.h"
#include "tests/support/test_support.h"

namespace mm::policy {
namespace {

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << path;
}

class PolicyLoaderTest : public ::testing::Test {
protected:
    std::string policy_file(const std::string& text) {
        std::string path = dir_.file("policy.yaml");
        write_file(path, text);
        return path;
    }
    mm::testing::TempDir dir_;
};

TEST_F(PolicyLoaderTest, CommittedPolicyLoadsAndMatchesTheDefaults) {
    auto p = load_policy(std::string(MM_SOURCE_DIR) + "/etc/policy.yaml");
    ASSERT_TRUE(p) << p.error().message;
    const Policy d = default_policy();
    EXPECT_EQ((*p)->version, d.version);
    EXPECT_EQ((*p)->headers, d.headers);
    EXPECT_EQ((*p)->bounce_action, d.bounce_action);
    EXPECT_EQ((*p)->bounce_backscatter, d.bounce_backscatter);
}

TEST(DefaultPolicy, Values) {
    const Policy d = default_policy();
    EXPECT_EQ(d.version, "2026-11-23.1");
    EXPECT_EQ(d.bounce_action, BounceAction::rewrite);
    EXPECT_EQ(d.bounce_backscatter, BackscatterAction::reject);
    EXPECT_EQ(d.malformed_action, MalformedAction::reject);
    EXPECT_EQ(d.headers.mode, HeaderPolicy::Mode::allow);
    // The allow-list in order, as one line.
    std::string keep;
    for (const std::string& name : d.headers.keep) keep += name + " ";
    EXPECT_EQ(keep,
              "from to cc subject date mime-version content-* in-reply-to references message-id "
              "auto-submitted x-auto-response-suppress precedence importance priority x-priority "
              "accept-language ");
    EXPECT_TRUE(d.headers.remove.empty());
}

TEST_F(PolicyLoaderTest, HeaderNamesAreLowerCasedAndDeduplicated) {
    auto p =
        load_policy(policy_file("version: v2\n"
                                "headers:\n"
                                "  remove: [X-Mailer, Reply-To, x-mailer, X-Weird!#$%&'*+-.^_`|~]\n"
                                "bounces: {action: reject}\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((*p)->version, "v2");
    // A file from before modes existed: allow mode, its list an extra deny list.
    EXPECT_EQ((*p)->headers.mode, HeaderPolicy::Mode::allow);
    EXPECT_EQ((*p)->headers.keep, default_policy().headers.keep);
    EXPECT_EQ((*p)->headers.remove,
              (std::vector<std::string>{"x-mailer", "reply-to", "x-weird!#$%&'*+-.^_`|~"}));
    EXPECT_EQ((*p)->bounce_action, BounceAction::reject);
}

TEST_F(PolicyLoaderTest, AllowModeKeepListReplacesTheDefaultAndTakesPrefixes) {
    auto p =
        load_policy(policy_file("version: v\n"
                                "headers:\n"
                                "  mode: allow\n"
                                "  keep: [Subject, Content-*, ARC-*, subject, Thread-Index]\n"
                                "  remove: [Content-Language]\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((*p)->headers.mode, HeaderPolicy::Mode::allow);
    EXPECT_EQ((*p)->headers.keep,
              (std::vector<std::string>{"subject", "content-*", "arc-*", "thread-index"}));
    EXPECT_EQ((*p)->headers.remove, std::vector<std::string>{"content-language"});
}

TEST_F(PolicyLoaderTest, BlockModeUsesTheRemoveList) {
    auto p =
        load_policy(policy_file("version: v\n"
                                "headers:\n"
                                "  remove: [Received, ARC-*]\n"
                                "  mode: block\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((*p)->headers.mode, HeaderPolicy::Mode::block);
    EXPECT_EQ((*p)->headers.remove, (std::vector<std::string>{"received", "arc-*"}));
    EXPECT_FALSE((*p)->headers.neutral_content_ids);  // block mode: only what is listed
}

TEST_F(PolicyLoaderTest, ContentIdsRewrittenByDefaultAndOnRequest) {
    auto allow = load_policy(policy_file("version: v\n"));
    ASSERT_TRUE(allow) << allow.error().message;
    EXPECT_TRUE((*allow)->headers.neutral_content_ids);
    auto kept = load_policy(policy_file("version: v\nheaders: {content_ids: keep}\n"));
    ASSERT_TRUE(kept) << kept.error().message;
    EXPECT_FALSE((*kept)->headers.neutral_content_ids);
    auto block = load_policy(policy_file(
        "version: v\nheaders: {mode: block, remove: [Received], content_ids: rewrite}\n"));
    ASSERT_TRUE(block) << block.error().message;
    EXPECT_TRUE((*block)->headers.neutral_content_ids);
}

TEST_F(PolicyLoaderTest, BounceAndMalformedActionsLoad) {
    auto p =
        load_policy(policy_file("version: v\n"
                                "bounces: {action: quarantine, backscatter: quarantine}\n"
                                "malformed: {action: strip}\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((*p)->bounce_action, BounceAction::quarantine);
    EXPECT_EQ((*p)->bounce_backscatter, BackscatterAction::quarantine);
    EXPECT_EQ((*p)->malformed_action, MalformedAction::strip);
    p =
        load_policy(policy_file("version: v\nbounces: {action: rewrite}\n"
                                "malformed: {action: reject}\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((*p)->bounce_action, BounceAction::rewrite);
    EXPECT_EQ((*p)->malformed_action, MalformedAction::reject);
}

TEST_F(PolicyLoaderTest, SectionsLeftOutKeepTheDefaults) {
    auto p = load_policy(policy_file("version: \"7\"\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ((*p)->version, "7");
    EXPECT_EQ((*p)->headers, default_policy().headers);
    EXPECT_EQ((*p)->bounce_action, BounceAction::rewrite);
}

TEST_F(PolicyLoaderTest, AnEmptyRemoveListRemovesNothing) {
    auto p = load_policy(policy_file("version: x\nheaders:\n  remove: []\n"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE((*p)->headers.remove.empty());
    EXPECT_EQ((*p)->headers.mode, HeaderPolicy::Mode::allow);
}

TEST_F(PolicyLoaderTest, MissingFile) {
    std::string path = dir_.file("missing.yaml");
    auto p = load_policy(path);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Errc::invalid);
    EXPECT_EQ(p.error().message, path + ": cannot open: No such file or directory");
}

TEST_F(PolicyLoaderTest, ErrorsUseThePathAsGiven) {
    policy_file("version: x\nbounces: {action: strp}\n");
    auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir_.path());
    auto p = load_policy("policy.yaml");
    std::filesystem::current_path(cwd);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().message,
              "policy.yaml:2:19: unknown action 'strp' (expected rewrite, quarantine or reject)");
}

// ---- errors: one row per case --------------------------------------------

struct ErrorCase {
    const char* name;
    std::string yaml;
    std::string expected;  // after "PATH:"
};
void PrintTo(const ErrorCase& c, std::ostream* os) {
    *os << c.name;
}

class PolicyErrorTest : public PolicyLoaderTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(PolicyErrorTest, ReportsFileLineColumnAndMessage) {
    const ErrorCase& tc = GetParam();
    std::string path = policy_file(tc.yaml);
    auto p = load_policy(path);
    ASSERT_FALSE(p) << "loaded although it should fail:\n" << tc.yaml;
    EXPECT_EQ(p.error().code, Errc::invalid);
    EXPECT_EQ(p.error().message, path + ":" + tc.expected);
}

// clang-format off
const ErrorCase kErrorCases[] = {
    {"BounceActionTypo", "version: x\nbounces: {action: strp}\n",
     "2:19: unknown action 'strp' (expected rewrite, quarantine or reject)"},
    {"BounceActionBlockStyle", "version: x\nbounces:\n  action: Reject\n",
     "3:11: unknown action 'Reject' (expected rewrite, quarantine or reject)"},
    {"BounceBackscatterDiscard", "version: x\nbounces: {action: rewrite, backscatter: discard}\n",
     "2:41: unknown backscatter action 'discard' (expected reject or quarantine)"},
    {"MalformedActionTypo", "version: x\nmalformed: {action: drop}\n",
     "2:21: unknown action 'drop' (expected reject or strip)"},
    {"BounceActionList", "version: x\nbounces:\n  action: [reject]\n",
     "3:11: bounces.action: expected a string, got a list"},
    {"BouncesNotAMapping", "version: x\nbounces: reject\n",
     "2:10: bounces: expected a mapping, got a scalar"},
    {"UnknownTopLevelKey", "version: x\nheader:\n  remove: [X-Mailer]\n",
     "2:1: unknown key 'header'"},
    {"UnknownKeyInSection", "version: x\nheaders:\n  remove: [X-Mailer]\n  allow: [Subject]\n",
     "4:3: unknown key 'allow' in 'headers'"},
    {"ContentIdsTypo", "version: x\nheaders: {content_ids: drop}\n",
     "2:24: unknown value 'drop' (expected rewrite or keep)"},
    {"UnknownHeaderMode", "version: x\nheaders: {mode: deny}\n",
     "2:17: unknown mode 'deny' (expected allow or block)"},
    {"BlockModeWithoutRemoveList", "version: x\nheaders:\n  mode: block\n",
     "3:3: headers: mode block needs a remove list"},
    {"BlockModeWithKeepList", "version: x\nheaders:\n  mode: block\n  keep: [Subject]\n  remove: []\n",
     "4:3: headers.keep: not used in block mode (list the headers to remove in headers.remove)"},
    {"KeepMarketplaceHeader", "version: x\nheaders:\n  keep: [Subject, X-Marketplace-Audit]\n",
     "3:19: headers.keep: 'X-Marketplace-Audit' cannot be kept: X-Marketplace-* headers are "
     "always removed (only the milter sets them)"},
    {"RemoveRewrittenHeader", "version: x\nheaders:\n  remove: [Received, Message-ID]\n",
     "3:22: headers.remove: 'Message-ID' cannot be removed: the milter rewrites it (From, To, "
     "Cc, Message-ID, In-Reply-To and References always pass)"},
    {"BareStarPattern", "version: x\nheaders:\n  keep: ['*']\n",
     "3:10: headers.keep: invalid header name '*'"},
    {"UnknownKeyInBounces", "version: x\nbounces:\n  acton: reject\n",
     "3:3: unknown key 'acton' in 'bounces'"},
    {"DuplicateSection", "version: x\nbounces: {action: reject}\nbounces: {action: reject}\n",
     "3:1: duplicate key 'bounces'"},
    {"MissingVersion", "headers:\n  remove: []\n", "1:1: missing required key 'version'"},
    {"EmptyVersion", "version: ''\n", "1:10: version: must not be empty"},
    {"NullVersion", "version:\nheaders: {remove: []}\n", "1:1: version: missing value"},
    {"VersionWithSpace", "version: my policy\n",
     "1:10: version: 'my policy' must be at most 64 letters, digits and . - _ : +"},
    {"VersionWithSemicolon", "version: \"1; hmac=00\"\n",
     "1:10: version: '1; hmac=00' must be at most 64 letters, digits and . - _ : +"},
    {"VersionTooLong", "version: " + std::string(65, 'v') + "\n",
     "1:10: version: '" + std::string(65, 'v') +
         "' must be at most 64 letters, digits and . - _ : +"},
    {"VersionIsAMapping", "version: {a: 1}\n", "1:10: version: expected a string, got a mapping"},
    {"RemoveNotAList", "version: x\nheaders:\n  remove: Reply-To\n",
     "3:11: headers.remove: expected a list, got a scalar"},
    {"HeaderNameWithSpace", "version: x\nheaders:\n  remove:\n    - Reply-To\n    - Reply To\n",
     "5:7: headers.remove: invalid header name 'Reply To'"},
    {"HeaderNameWithColon", "version: x\nheaders:\n  remove: [X-Mailer, 'Sender:']\n",
     "3:22: headers.remove: invalid header name 'Sender:'"},
    {"HeaderNameEmpty", "version: x\nheaders:\n  remove: ['']\n",
     "3:12: headers.remove: invalid header name ''"},
    {"HeaderNameNonAscii", "version: x\nheaders:\n  remove: [\"X-F\\u00fcr\"]\n",
     "3:12: headers.remove: invalid header name 'X-F\xc3\xbcr'"},
    {"HeaderNameIsAList", "version: x\nheaders:\n  remove: [[a]]\n",
     "3:12: headers.remove: expected a header name, got a list"},
    {"MalformedYaml", "version: x\nheaders:\n  remove: [Reply-To\nbounces: {action: reject}\n",
     "4:8: end of sequence flow not found"},
    {"TopLevelList", "- version\n", "1:1: expected a mapping of policy sections, got a list"},
    {"EmptyFile", "", "1:1: expected a mapping of policy sections, got an empty file"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Errors, PolicyErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mm::policy
