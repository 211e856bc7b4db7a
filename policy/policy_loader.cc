// load_policy / default_policy: policy.yaml -> Policy.
//
// One function per top-level section (load_version, load_headers,
// load_bounces), registered in kSections; each section that is a mapping
// declares its own table of known keys.  A new section (attachments, links,
// content) is one more function and one more row.  Unknown keys anywhere are
// errors, so a typo never silently disables a rule.  A section left out keeps
// the defaults of default_policy(); `version` is always required, because it
// names the policy in every audit record.
//
// Errors are "PATH:LINE:COL: message" (1-based, PATH as given).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "policy/classify/lexicon_yaml.h"
#include "policy/policy.h"
#include "policy/yaml_schema.h"
#include "util/address.h"

namespace mm::policy {
namespace {

using yaml::Entry;
using yaml::error_at;
using yaml::expect_list;
using yaml::get_string;
using yaml::type_name;
using Key = yaml::Key<Policy>;

constexpr size_t kMaxPolicyBytes = 4 << 20;

// RFC 5322 field name: one or more printable US-ASCII characters except ':'.
bool valid_header_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c >= 33 && c <= 126 && c != ':';
    });
}

// ---- version -------------------------------------------------------------

// The version goes into the X-Marketplace-Audit header ("policy=<version>;"),
// so it is kept to characters that cannot break that header's syntax.
void load_version(const Entry& e, Policy& p) {
    std::string v = get_string(e);
    if (v.empty()) error_at(e.value.Mark(), "version: must not be empty");
    bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
                  auto c = static_cast<unsigned char>(ch);
                  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_' || c == ':' ||
                         c == '+';
              });
    if (!ok)
        error_at(e.value.Mark(),
                 "version: '" + v + "' must be at most 64 letters, digits and . - _ : +");
    p.version = std::move(v);
}

// ---- headers -------------------------------------------------------------
//
// headers: {mode: allow|block, keep: [...], remove: [...]}.  Names are
// case-insensitive and stored lower case; a trailing '*' makes a prefix
// ("content-*", "arc-*").  Allow mode passes only `keep`, minus `remove`;
// block mode removes only `remove` (which must then be written out, so that
// switching modes never silently removes nothing).  A list given replaces the
// default list.  A file from before modes existed (`remove:` only) loads in
// allow mode, its list an extra deny list.

void load_headers_mode(const Entry& e, Policy& p) {
    p.headers.mode = yaml::get_choice<HeaderPolicy::Mode>(
        e, "mode", {{"allow", HeaderPolicy::Mode::allow}, {"block", HeaderPolicy::Mode::block}});
}

// A header name, or a prefix: a name followed by '*'.
std::vector<std::string> header_patterns(const Entry& e) {
    expect_list(e);
    std::vector<std::string> out;
    for (const auto& item : e.value) {
        if (!item.IsScalar())
            error_at(item.Mark(), e.name + ": expected a header name, got " + type_name(item));
        std::string_view name = item.Scalar();
        if (!name.empty() && name.back() == '*') name.remove_suffix(1);  // a prefix: not empty
        if (!valid_header_name(name))
            error_at(item.Mark(), e.name + ": invalid header name '" + item.Scalar() + "'");
        std::string pattern = to_lower(item.Scalar());
        if (std::find(out.begin(), out.end(), pattern) == out.end())
            out.push_back(std::move(pattern));
    }
    return out;
}

void load_headers_keep(const Entry& e, Policy& p) {
    p.headers.keep = header_patterns(e);
    for (const auto& item : e.value) {
        if (to_lower(item.Scalar()).starts_with("x-marketplace"))
            error_at(item.Mark(), e.name + ": '" + item.Scalar() +
                                      "' cannot be kept: X-Marketplace-* headers are always "
                                      "removed (only the milter sets them)");
    }
}

void load_headers_remove(const Entry& e, Policy& p) {
    p.headers.remove = header_patterns(e);
    for (const auto& item : e.value) {
        std::string name = to_lower(item.Scalar());
        if (name != "bcc" && !name.starts_with("x-marketplace-") && header_owned_elsewhere(name))
            error_at(item.Mark(), e.name + ": '" + item.Scalar() +
                                      "' cannot be removed: the milter rewrites it (From, To, "
                                      "Cc, Message-ID, In-Reply-To and References always pass)");
    }
}

// content_ids: rewrite | keep (mime/content_ids.h); keep by default in block mode.
void load_headers_content_ids(const Entry& e, Policy& p) {
    const std::string value = get_string(e);
    if (value != "rewrite" && value != "keep")
        error_at(e.value.Mark(), "unknown value '" + value + "' (expected rewrite or keep)");
    p.headers.neutral_content_ids = value == "rewrite";
}

constexpr Key kHeadersKeys[] = {
    {"mode",
     false,
     load_headers_mode,
     {"allow | block", "allow",
      "allow: only the headers in keep pass, minus those in remove; everything else is removed, so "
      "a header nobody thought of cannot leak. block: every header passes except those in remove "
      "(which must then be written out; keep is not used). Whatever the lists say, From is "
      "rewritten, To and Cc keep only the pair's aliases, Bcc and X-Marketplace-* are removed, "
      "Message-ID, In-Reply-To and References pass (rewritten)."}},
    {"keep",
     false,
     load_headers_keep,
     {"list of header names; a trailing * matches a prefix",
      "From, To, Cc, Subject, Date, MIME-Version, Content-*, In-Reply-To, References, Message-ID, "
      "Auto-Submitted, X-Auto-Response-Suppress, Precedence, Importance, Priority, X-Priority, "
      "Accept-Language",
      "The headers that pass in allow mode (case does not matter). A list given replaces the "
      "built-in one. X-Marketplace-* cannot be kept."}},
    {"remove",
     false,
     load_headers_remove,
     {"list of header names; a trailing * matches a prefix", "[]",
      "The headers removed: in allow mode on top of those not kept, in block mode the only ones "
      "removed. From, To, Cc, Message-ID, In-Reply-To and References cannot be listed (the milter "
      "rewrites them)."}},
    {"content_ids",
     false,
     load_headers_content_ids,
     {"rewrite | keep", "rewrite (keep in block mode)",
      "Inline parts' Content-IDs that name the sender's host, and the HTML's cid: references to "
      "them, renamed to neutral ids under the marketplace domain."}},
};

void load_headers(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kHeadersKeys, p);
    if (p.headers.mode != HeaderPolicy::Mode::block) return;
    const YAML::Node section = e.value;
    if (!section["content_ids"]) p.headers.neutral_content_ids = false;
    for (auto it = section.begin(); it != section.end(); ++it) {
        const YAML::Node k = it->first;
        if (k.Scalar() == "keep")
            error_at(k.Mark(), e.name +
                                   ".keep: not used in block mode (list the headers to "
                                   "remove in " +
                                   e.name + ".remove)");
    }
    if (!section["remove"]) error_at(e.value.Mark(), e.name + ": mode block needs a remove list");
}

// ---- bounces -------------------------------------------------------------

void load_bounces_action(const Entry& e, Policy& p) {
    p.bounce_action = yaml::get_choice<BounceAction>(e, "action",
                                                     {{"rewrite", BounceAction::rewrite},
                                                      {"quarantine", BounceAction::quarantine},
                                                      {"reject", BounceAction::reject}});
}

void load_bounces_backscatter(const Entry& e, Policy& p) {
    p.bounce_backscatter = yaml::get_choice<BackscatterAction>(
        e, "backscatter action",
        {{"reject", BackscatterAction::reject}, {"quarantine", BackscatterAction::quarantine}});
}

constexpr Key kBouncesKeys[] = {
    {"action",
     false,
     load_bounces_action,
     {"rewrite | quarantine | reject", "rewrite",
      "A message with the null sender to an alias. rewrite: delivered to the alias owner with "
      "every real address of the other side replaced by its alias and its mail hosts by the "
      "marketplace domain (auto-replies redacted). quarantine: Postfix hold queue. reject: refused "
      "with a 5xx reply."}},
    {"backscatter",
     false,
     load_bounces_backscatter,
     {"reject | quarantine", "reject",
      "A bounce for a message the marketplace never delivered (its returned Message-ID is "
      "unknown): reject (550 5.7.1) or quarantine."}},
};

void load_bounces(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kBouncesKeys, p);
}

// ---- recipients ----------------------------------------------------------

void load_recipients_mixed(const Entry& e, Policy& p) {
    p.mixed_recipients = yaml::get_choice<MixedRecipients>(
        e, "action",
        {{"separate", MixedRecipients::separate}, {"refuse", MixedRecipients::refuse}});
}

constexpr Key kRecipientsKeys[] = {
    {"mixed",
     false,
     load_recipients_mixed,
     {"separate | refuse", "separate",
      "An alias and an address outside the marketplace in one transaction: separate defers the "
      "later recipient with 452 4.5.3 (the client resends it on its own, nothing is lost); refuse "
      "refuses it with 550 5.7.1."}},
};

void load_recipients(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kRecipientsKeys, p);
}

// ---- malformed -----------------------------------------------------------

void load_malformed_action(const Entry& e, Policy& p) {
    p.malformed_action = yaml::get_choice<MalformedAction>(
        e, "action", {{"reject", MalformedAction::reject}, {"strip", MalformedAction::strip}});
}

constexpr Key kMalformedKeys[] = {
    {"action",
     false,
     load_malformed_action,
     {"reject | strip", "reject",
      "MIME that cannot be classified reliably (no boundary, conflicting Content-Type fields, "
      "nesting past attachments.max_depth, NUL bytes in text, base64 going on after its padding, "
      "HTML past links.max_html_nesting or max_html_tokens): reject refuses it with 550 5.6.0 "
      "naming the reason; strip delivers it as far as it could be checked (such an attachment "
      "removed, such a text cut at the padding)."}},
};

void load_malformed(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kMalformedKeys, p);
}

// ---- authentication ------------------------------------------------------

// authentication: {trusted_authserv_ids: [...], require_alignment: on|off,
// action: reject|quarantine}.  Alignment without a trusted id could never
// pass: refused at load.
void load_auth_ids(const Entry& e, Policy& p) {
    p.authentication.trusted_authserv_ids.clear();
    for (const std::string& id : get_string_list(e, "an authserv-id")) {
        if (id.empty() || id.find_first_of(" \t;()\"") != std::string::npos)
            error_at(e.value.Mark(), e.name + ": '" + id + "' is not an authserv-id");
        p.authentication.trusted_authserv_ids.push_back(to_lower(id));
    }
}

void load_auth_alignment(const Entry& e, Policy& p) {
    const std::string value = e.value.IsScalar() ? e.value.Scalar() : std::string();
    if (value == "on" || value == "off")
        p.authentication.require_alignment = value == "on";
    else
        p.authentication.require_alignment = get_bool(e);
}

void load_auth_action(const Entry& e, Policy& p) {
    const std::string action = get_string(e);
    if (action == "reject")
        p.authentication.action = AuthenticationPolicy::Action::reject;
    else if (action == "quarantine")
        p.authentication.action = AuthenticationPolicy::Action::quarantine;
    else
        error_at(e.value.Mark(), "unknown action '" + action + "' (expected reject or quarantine)");
}

constexpr Key kAuthenticationKeys[] = {
    {"trusted_authserv_ids",
     false,
     load_auth_ids,
     {"list of authserv-ids", "[]",
      "The Authentication-Results fields to believe (those the receiving MTA adds); every other "
      "one is removed."}},
    {"require_alignment",
     false,
     load_auth_alignment,
     {"on | off", "off",
      "on: a party's mail must carry a trusted SPF or DKIM pass aligned with its address's domain "
      "(needs trusted_authserv_ids)."}},
    {"action",
     false,
     load_auth_action,
     {"reject | quarantine", "reject", "What a message failing require_alignment gets."}},
};

void load_authentication(const Entry& e, Policy& p) {
    yaml::load_section<Policy>(e, kAuthenticationKeys, p);
    if (p.authentication.require_alignment && p.authentication.trusted_authserv_ids.empty())
        error_at(e.value.Mark(), e.name +
                                     ": require_alignment needs trusted_authserv_ids (the MTA "
                                     "whose Authentication-Results are believed)");
}

// ---- the top level -------------------------------------------------------

// The content sections are declared beside their rules (attachment_rule.h,
// link_rule.h, content_rule.h, privacy_rule.h).
constexpr Key kSections[] = {
    {"version",
     true,
     load_version,
     {"string: letters, digits and . - _ : +, at most 64", "",
      "Names the policy in every X-Marketplace-Audit header and audit log line; change it with "
      "every change of the file."}},
    {"headers",
     false,
     load_headers,
     {"mapping", "", "Which of the sender's header fields reach the other side.",
      +[] { return yaml::describe<Policy>(kHeadersKeys); }}},
    {"bounces",
     false,
     load_bounces,
     {"mapping", "", "Bounces (null sender) and auto-replies to an alias.",
      +[] { return yaml::describe<Policy>(kBouncesKeys); }}},
    {"attachments",
     false,
     [](const Entry& e, Policy& p) { load_attachments_section(e, p.attachments); },
     {"mapping", "",
      "Attachments, judged by their bytes (libmagic), never by name or declared type.",
      attachments_section_schema}},
    {"links",
     false,
     [](const Entry& e, Policy& p) { load_links_section(e, p.links); },
     {"mapping", "",
      "Links whose registrable domain is not allowed are removed (or the message refused); remote "
      "images removed.",
      links_section_schema}},
    {"content",
     false,
     [](const Entry& e, Policy& p) { load_content_section(e, p.content); },
     {"mapping", "",
      "Text rules for what the marketplace forbids in a message (review requests, rewards, "
      "promotions, referrals, opt-out language), matched in the subject and every text part.",
      content_section_schema}},
    {"privacy",
     false,
     [](const Entry& e, Policy& p) { load_privacy_section(e, p.redact); },
     {"mapping", "", "Redaction of addresses and phone numbers in message text.",
      privacy_section_schema}},
    {"recipients",
     false,
     load_recipients,
     {"mapping", "", "Transactions that mix an alias and outside recipients.",
      +[] { return yaml::describe<Policy>(kRecipientsKeys); }}},
    {"marketplace",
     false,
     [](const Entry& e, Policy& p) { load_marketplace_section(e, p.marketplace); },
     {"mapping", "",
      "Buyer-Seller Messaging rules enforced from the store: opt-out, critical messages, "
      "[Important], unsolicited and repeated messages, vacation, FBA and gift-return orders.",
      marketplace_section_schema}},
    {"malformed",
     false,
     load_malformed,
     {"mapping", "", "MIME that cannot be classified.",
      +[] { return yaml::describe<Policy>(kMalformedKeys); }}},
    // Read by load_policy before the others (they bind to it).
    {"concepts",
     false,
     [](const Entry&, Policy&) {},
     {"file name or mapping", "",
      "The concept lexicon the `when` expressions of content rules and contact reasons use: a file "
      "relative to this one (concepts.yaml) or the same content inline. Its format is described "
      "at the top of the shipped concepts.yaml."}},
    {"authentication",
     false,
     load_authentication,
     {"mapping", "",
      "Opt-in sender authenticity: which Authentication-Results to believe, and whether a "
      "party's mail must pass SPF or DKIM aligned with its address.",
      +[] { return yaml::describe<Policy>(kAuthenticationKeys); }}},
};

// ---- concepts ------------------------------------------------------------
//
// `concepts:` is read before the other sections bind to it: a path (relative
// to the policy file) or an inline mapping (policy/classify/lexicon_yaml.h).
// Its errors are placed in the file that holds them.

Result<std::shared_ptr<const classify::Lexicon>> load_concepts(const YAML::Node& node,
                                                               const std::string& policy_path) {
    if (node.IsMap()) return classify::load_lexicon(node, policy_path);
    if (!node.IsScalar() || node.Scalar().empty())
        return fail(Errc::invalid, yaml::where(policy_path, node.Mark()) +
                                       "concepts: expected a file name or a mapping");
    std::string file = node.Scalar();
    if (file.front() != '/') {
        const auto slash = policy_path.rfind('/');
        if (slash != std::string::npos) file = policy_path.substr(0, slash + 1) + file;
    }
    return classify::load_lexicon_file(file);
}

using Models = std::vector<std::shared_ptr<const classify::WordModel>>;

// The `model:` files of the content rules, per rule (relative to the policy
// file, like `concepts:`).  A file that cannot be read is reported at its
// `file:`, a bad line of it at that line of the model file.
Result<Models> load_models(const ContentRules* rules, const std::string& policy_path) {
    Models out;
    if (rules == nullptr) return out;
    for (const ContentRule& rule : rules->rules()) {
        out.emplace_back();
        if (rule.model_file.empty()) continue;
        std::string file = rule.model_file;
        const auto slash = policy_path.rfind('/');
        if (file.front() != '/' && slash != std::string::npos)
            file = policy_path.substr(0, slash + 1) + file;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec))
            return fail(Errc::invalid, yaml::where(policy_path, rule.model_file_mark) + "rule " +
                                           rule.id + ": model.file: cannot read '" + file + "'");
        auto model = classify::WordModel::load_file(file);
        if (!model) return model.error();
        out.back() = std::move(model.value());
    }
    return out;
}

// Binds every `when:` of content rules and contact reasons to the concepts;
// an unknown concept is reported at its rule's `when`.
void bind_concepts(Policy& p, const Models& models) {
    auto bind = [&](std::shared_ptr<const ContentRules>& rules, const Models& loaded) {
        if (!rules) return;
        std::size_t bad = 0;
        int weight = -1;
        auto bound = ContentRules::with_concepts(*rules, p.concepts, &bad, &weight, loaded);
        if (!bound) {
            const ContentRule& rule = rules->rules()[bad];
            error_at(weight >= 0 ? rule.weight_marks[static_cast<std::size_t>(weight)]
                     : rule.when.empty() && rule.score.ok() ? rule.score_mark
                                                            : rule.when_mark,
                     bound.error().message);
        }
        rules = std::move(bound.value());
    };
    bind(p.content.rules, models);
    bind(p.marketplace.contact_reasons, {});
}

}  // namespace

Policy default_policy() {
    Policy p;
    p.version = "2026-11-23.1";
    p.headers = HeaderPolicy{};  // allow-list mode, see header_privacy.h
    p.bounce_action = BounceAction::rewrite;
    p.bounce_backscatter = BackscatterAction::reject;
    p.content = empty_content_policy();
    return p;
}

std::vector<yaml::KeyInfo> policy_schema() {
    return yaml::describe<Policy>(kSections);
}

Result<std::shared_ptr<const Policy>> load_policy(const std::string& path) {
    try {
        auto loaded = yaml::load_file(path, kMaxPolicyBytes);
        if (!loaded) return loaded.error();
        const YAML::Node root = loaded.value();

        auto policy = std::make_shared<Policy>(default_policy());
        try {
            if (!root.IsMap())
                error_at(root.Mark(),
                         "expected a mapping of policy sections, got " +
                             std::string(root.IsNull() ? "an empty file" : type_name(root)));
            if (const YAML::Node concepts = root["concepts"]) {
                auto lexicon = load_concepts(concepts, path);
                if (!lexicon) return lexicon.error();
                policy->concepts = std::move(lexicon.value());
            }
            yaml::load_mapping<Policy>(root, "", kSections, *policy);
            auto models = load_models(policy->content.rules.get(), path);
            if (!models) return models.error();
            bind_concepts(*policy, models.value());
        } catch (const yaml::SchemaError& e) {
            return fail(Errc::invalid, yaml::where(path, e.mark) + e.what());
        }
        return std::shared_ptr<const Policy>(std::move(policy));
    } catch (const std::exception& e) {
        return fail(Errc::invalid, path + ": " + e.what());
    }
}

}  // namespace mm::policy
