// Concepts in the policy: `concepts:` loaded beside policy.yaml, `when:` on
// content rules and contact reasons, their errors at file:line:col, hits
// with explanations, evasion caught through the shared normaliser, and the
// `classify` subcommand.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/classify_message.h"
#include "cli/cli.h"
#include "policy/policy.h"
#include "policy/rules/text_scans.h"
#include "tests/support/test_support.h"

namespace mm::policy {
namespace {

const std::string kUnitLexicon = std::string(MM_TEST_DATA) + "/classify_unit/concepts.yaml";

const char* kRules = R"(
content:
  rules:
    - id: review.compensation
      action: reject
      when: 'REVIEW & (REWARD | AMOUNT)'
      senders: [seller]
    - id: review.removal
      action: quarantine
      when: NEGATIVE & REVIEW & CHANGE
      scope: sentence
      window: 10
marketplace:
  fba_product_inquiry_reason: ""
  contact_reasons:
    - id: delivery_scheduling
      critical: true
      when: DELIVERY & SCHEDULE
      patterns:
        en: ['\bwhich slot\b']
)";

class ClassifyPolicy : public ::testing::Test {
protected:
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_.file(name)) << text;
        return dir_.file(name);
    }
    // A policy with the unit lexicon copied beside it as concepts.yaml.
    std::string policy_file(const std::string& body = kRules) {
        std::ifstream in(kUnitLexicon);
        std::stringstream lexicon;
        lexicon << in.rdbuf();
        write("concepts.yaml", lexicon.str());
        return write("policy.yaml", "version: t1\nconcepts: concepts.yaml\n" + body);
    }
    std::string load_error(const std::string& text) {
        auto p = load_policy(write("policy.yaml", text));
        return p ? "" : p.error().message;
    }
    std::shared_ptr<const Policy> load() {
        auto p = load_policy(policy_file());
        if (!p) throw std::runtime_error(p.error().message);
        return p.value();
    }
    mm::testing::TempDir dir_;
};

TEST_F(ClassifyPolicy, ConceptRuleHitsWithExplanation) {
    auto p = load();
    auto hits = p->content.rules->scan(
        {"Ihre Bestellung",
         "Für eine kurze Bewertung schenken wir Ihnen einen Gutschein über 10 €."},
        {1, classify::kSeller, 0});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].rule_id, "review.compensation");
    EXPECT_EQ(hits[0].language, "de");
    EXPECT_EQ(explain_concepts(hits[0]),
              "REVIEW=\"Bewertung\" & REWARD=\"Gutschein\" & AMOUNT=\"10 €\"");
    EXPECT_EQ(describe_hit(hits[0]),
              "reject de: REVIEW=\"Bewertung\" & REWARD=\"Gutschein\" & AMOUNT=\"10 €\" — \"Für "
              "eine kurze Bewertung schenken wir Ihnen einen Gutschein über 10 €.\"");
}

TEST_F(ClassifyPolicy, SendersLimitTheRule) {
    auto p = load();
    const std::vector<std::string_view> texts{"", "Leave a review and get a voucher"};
    EXPECT_EQ(p->content.rules->scan(texts, {1, classify::kSeller, 0}).size(), 1u);
    EXPECT_TRUE(p->content.rules->scan(texts, {1, classify::kBuyer, 0}).empty());
}

TEST_F(ClassifyPolicy, EvasionIsCaughtThroughTheNormaliser) {
    auto p = load();
    auto hit = [&](std::string_view text) {
        return p->content.rules->scan({"", text}, {1, classify::kSeller, 0}).size() == 1;
    };
    EXPECT_TRUE(hit("Leave a re\u200Bview and get a vou\u00ADcher"));    // zero-width, soft hyphen
    EXPECT_TRUE(hit("Leave a r\u0435view and get a v\u043Eucher"));      // Cyrillic е, о
    EXPECT_TRUE(hit("Leave a r e v i e w and get a g i f t  c a r d"));  // letter spacing
    EXPECT_FALSE(hit("Leave a review when you like"));
}

TEST_F(ClassifyPolicy, ContactReasonFromConceptsOrPatterns) {
    auto p = load();
    const auto& reasons = *p->marketplace.contact_reasons;
    EXPECT_EQ(reasons
                  .scan({"[Important] delivery", "When are you at home for the delivery?"},
                        {1, classify::kSeller, 0})
                  .size(),
              1u);
    EXPECT_EQ(reasons.scan({"", "which slot"}, {1, classify::kSeller, 0}).size(), 1u);
    EXPECT_TRUE(reasons.scan({"", "Thanks for your order"}, {1, classify::kSeller, 0}).empty());
}

// The content rules and the contact reasons read a seller's text once: the
// contact reasons find the content rules' normalised texts and concept
// analysis in the message's TextScans, and judge exactly as a scan of their
// own would.
TEST_F(ClassifyPolicy, ContactReasonsReuseTheContentRulesScan) {
    auto p = load();
    const std::vector<std::string_view> texts{
        "[Important] delivery",
        "When are you at home for the delivery? Leave a review and get a voucher."};
    const ScanContext seller{1, classify::kSeller, 0};
    TextScans scans;
    auto content = p->content.rules->scan(texts, seller, &scans);
    ASSERT_EQ(content.size(), 1u);
    EXPECT_EQ(content[0].rule_id, "review.compensation");

    const auto first = scans.get(texts, 1, 0, p->concepts);
    const auto again = scans.get(texts, 1, 0, p->concepts);
    EXPECT_EQ(first.texts, again.texts);
    EXPECT_EQ(first.analysis, again.analysis);
    ASSERT_NE(first.analysis, nullptr);
    EXPECT_EQ(first.analysis->lexicon, p->concepts);

    const auto& reasons = *p->marketplace.contact_reasons;
    auto shared = reasons.scan(texts, seller, &scans);
    auto alone = reasons.scan(texts, seller);
    ASSERT_EQ(shared.size(), 1u);
    ASSERT_EQ(alone.size(), 1u);
    EXPECT_EQ(shared[0].rule_id, "delivery_scheduling");
    EXPECT_EQ(describe_hit(shared[0]), describe_hit(alone[0]));
    // Still one analysis of these texts; other texts, another subject count
    // or a forced language are scans of their own.
    EXPECT_EQ(scans.get(texts, 1, 0, p->concepts).analysis, first.analysis);
    EXPECT_NE(scans.get(texts, 0, 0, p->concepts).texts, first.texts);
    EXPECT_NE(scans.get(texts, 1, classify::LangMask{1}, p->concepts).analysis, first.analysis);
    const std::vector<std::string_view> other{"[Important] delivery", "Thanks for your order"};
    EXPECT_TRUE(reasons.scan(other, seller, &scans).empty());
    EXPECT_EQ(reasons.scan(texts, seller, &scans).size(), 1u);
}

TEST_F(ClassifyPolicy, ScopeSentenceKeepsTheRuleInOneSentence) {
    auto p = load();
    const auto scan = [&](std::string_view t) {
        return p->content.rules->scan({"", t}, {1, classify::kSeller, 0});
    };
    auto hits = scan("Could you remove the negative review? Thanks.");
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].rule_id, "review.removal");
    EXPECT_TRUE(scan("The review was negative. We will remove the item.").empty());
}

// ---- check: errors at file:line:col ---------------------------------------------

TEST_F(ClassifyPolicy, UnknownConceptIsAnErrorAtTheWhen) {
    policy_file();
    EXPECT_EQ(load_error("version: t1\nconcepts: concepts.yaml\ncontent:\n  rules:\n    - id: x\n"
                         "      action: reject\n      when: REVIEW & REWARDS\n"),
              dir_.file("policy.yaml") + ":7:13: rule x: unknown concept 'REWARDS'");
}

TEST_F(ClassifyPolicy, BadExpressionPointsAtTheCharacter) {
    EXPECT_EQ(load_error("version: t1\ncontent:\n  rules:\n    - id: x\n      action: reject\n"
                         "      when: 'REVIEW & & X'\n"),
              dir_.file("policy.yaml") +
                  ":6:23: content.rules[0].when: expected a concept name, '!' or '(' in 'REVIEW & "
                  "& X'");
}

TEST_F(ClassifyPolicy, WhenWithoutConceptsIsAnError) {
    EXPECT_EQ(
        load_error("version: t1\ncontent:\n  rules:\n    - id: x\n      action: reject\n"
                   "      when: REVIEW\n"),
        dir_.file("policy.yaml") + ":6:13: rule x: 'when' needs concepts (top-level `concepts:`)");
}

TEST_F(ClassifyPolicy, ConceptFileErrorsNameThatFile) {
    write("concepts.yaml", "languages: [en, de]\nconcepts:\n  REVIEW:\n    en: [review]\n");
    EXPECT_EQ(load_error("version: t1\nconcepts: concepts.yaml\n"),
              dir_.file("concepts.yaml") +
                  ":3:3: concept REVIEW: language 'de' is missing (every concept with words lists "
                  "every language)");
    EXPECT_EQ(load_error("version: t1\nconcepts:\n  languages: [en]\n  concepts:\n    R:\n"
                         "      en: [ab]\n"),
              dir_.file("policy.yaml") +
                  ":6:12: concept R en 'ab': the stem 'ab' is shorter than 3 letters");
}

TEST_F(ClassifyPolicy, RuleNeedsPatternsOrWhen) {
    EXPECT_EQ(
        load_error("version: t1\ncontent:\n  rules:\n    - id: x\n      action: reject\n"),
        dir_.file("policy.yaml") + ":4:7: content.rules[0]: needs patterns, when, score or model");
}

TEST_F(ClassifyPolicy, ScopeWindowSendersValidated) {
    const std::string head =
        "version: t1\ncontent:\n  rules:\n    - id: x\n      action: reject\n"
        "      patterns: {en: [a]}\n";
    EXPECT_EQ(load_error(head + "      scope: page\n"),
              dir_.file("policy.yaml") +
                  ":7:14: content.rules[0].scope: unknown scope 'page' (expected sentence, "
                  "paragraph or message)");
    EXPECT_EQ(load_error(head + "      senders: [robot]\n"),
              dir_.file("policy.yaml") +
                  ":7:16: content.rules[0].senders: unknown sender 'robot' (expected seller or "
                  "buyer)");
}

// ---- the classify subcommand --------------------------------------------------------

class ClassifyCli : public ClassifyPolicy {
protected:
    std::string config() {
        policy_file();
        ::chmod(write("hmac.key", "0123456789abcdef0123456789abcdef0123456789abcdef\n").c_str(),
                0600);
        return write("mm.yaml",
                     "domain: marketplace.example\npolicy: policy.yaml\nstore: {path: store.db}\n"
                     "audit_log: audit.log\nhmac_key_file: hmac.key\n");
    }
};

TEST_F(ClassifyCli, JsonPerFileAndExitCodes) {
    const std::string cfg = config();
    const std::string msg =
        write("m.eml",
              "Subject: [Important] your delivery\nX-Direction: seller-to-buyer\n\n"
              "When are you at home for the delivery?\n");
    ::testing::internal::CaptureStdout();
    int rc = milter::cmd_classify(cfg, {{msg}, true, true, "", "", ""});
    std::string out = ::testing::internal::GetCapturedStdout();
    ASSERT_EQ(rc, 0) << out;
    auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["file"], msg);
    EXPECT_EQ(j["important_tag"], true);
    EXPECT_EQ(j["passes_as_critical"], true);
    EXPECT_EQ(j["contact_reasons"][0]["rule"], "delivery_scheduling");
    EXPECT_EQ(j["contact_reasons"][0]["concepts"]["DELIVERY"][0], "delivery");

    const std::string text = write("t.txt", "Leave a review and get a voucher");
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(milter::cmd_classify(cfg, {{text}, true, false, "", "buyer", ""}), 0);
    EXPECT_EQ(nlohmann::json::parse(::testing::internal::GetCapturedStdout())["refused"], false);
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(milter::cmd_classify(cfg, {{text}, true, false, "", "seller", ""}), 0);
    EXPECT_EQ(nlohmann::json::parse(::testing::internal::GetCapturedStdout())["refused"], true);

    ::testing::internal::CaptureStderr();
    EXPECT_EQ(milter::cmd_classify(cfg, {{dir_.file("missing.eml")}, true, false, "", "", ""}), 2);
    EXPECT_EQ(milter::cmd_classify(cfg, {{text}, true, false, "xx", "", ""}), 2);
    EXPECT_EQ(milter::cmd_classify(dir_.file("nope.yaml"), {{text}, true, false, "", "", ""}), 2);
    ::testing::internal::GetCapturedStderr();
}

// An operator tries wording with the policy alone: no daemon config, no key.
TEST_F(ClassifyCli, PolicyAloneNeedsNoConfig) {
    const std::string policy = policy_file();
    const std::string text = write("t.txt", "Leave a review and get a voucher");
    milter::ClassifyArgs args{{text}, true, false, "", "seller", policy};
    ::testing::internal::CaptureStdout();
    ASSERT_EQ(milter::cmd_classify(dir_.file("no-such-config.yaml"), args), 0);
    auto j = nlohmann::json::parse(::testing::internal::GetCapturedStdout());
    EXPECT_EQ(j["refused"], true);
    EXPECT_EQ(j["content_rules"][0]["rule"], "review.compensation");

    args.policy = dir_.file("no-such-policy.yaml");
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(milter::cmd_classify(dir_.file("no-such-config.yaml"), args), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("no-such-policy.yaml"),
              std::string::npos);
}

// A config whose key file the operator cannot read (or that is not there)
// still gives its policy to `classify`; `check` still insists on the key.
TEST_F(ClassifyCli, ConfigWithoutItsKeyFile) {
    const std::string cfg = config();
    ASSERT_EQ(::unlink(dir_.file("hmac.key").c_str()), 0);
    const std::string text = write("t.txt", "Leave a review and get a voucher");
    ::testing::internal::CaptureStdout();
    ASSERT_EQ(milter::cmd_classify(cfg, {{text}, true, false, "", "seller", ""}), 0);
    EXPECT_EQ(nlohmann::json::parse(::testing::internal::GetCapturedStdout())["refused"], true);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(milter::cmd_check(cfg), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("hmac_key_file"), std::string::npos);
}

TEST_F(ClassifyCli, CheckRejectsABadLexicon) {
    const std::string cfg = config();
    EXPECT_EQ(milter::cmd_check(cfg), 0);
    write("concepts.yaml",
          "languages: [en, de]\nconcepts:\n  REVIEW:\n    en: [review]\n    de: []\n");
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(milter::cmd_check(cfg), 2);
    EXPECT_NE(::testing::internal::GetCapturedStderr().find(
                  "concepts.yaml:3:3: concept REVIEW: language 'de' is empty"),
              std::string::npos);
}

}  // namespace
}  // namespace mm::policy
