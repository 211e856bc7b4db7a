// `marketplace-milter classify`: the verdict of the content rules and the
// contact reasons for messages or plain texts, so an operator can try
// wording before changing the policy.  No store, no daemon.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/classify_message.h"
#include "cli/cli.h"
#include "milter/service.h"

namespace mm::milter {
namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(Errc::invalid, path + ": cannot open");
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return fail(Errc::invalid, path + ": cannot read");
    return buf.str();
}

Result<ClassifyOptions> classify_options(const ClassifyArgs& args) {
    ClassifyOptions o;
    if (!args.lang.empty()) {
        auto lang = classify::lang_from_code(args.lang);
        if (!lang) return fail(Errc::invalid, "--lang: unknown language '" + args.lang + "'");
        o.langs = static_cast<classify::LangMask>(1u << *lang);
    }
    if (args.from == "seller")
        o.from = policy::Direction::seller_to_buyer;
    else if (args.from == "buyer")
        o.from = policy::Direction::buyer_to_seller;
    else if (!args.from.empty())
        return fail(Errc::invalid, "--from: expected seller or buyer, got '" + args.from + "'");
    return o;
}

// The policy alone, or the config's without its key: classifying signs
// nothing, and an operator trying wording need not be able to read the key.
Result<std::shared_ptr<const policy::Policy>> classify_policy(const std::string& config_path,
                                                              const ClassifyArgs& args) {
    if (!args.policy.empty()) return policy::load_policy(args.policy);
    auto rt = load_runtime(config_path, KeyFile::skip);
    if (!rt) return rt.error();
    return (*rt)->policy;
}

}  // namespace

int cmd_classify(const std::string& config_path, const ClassifyArgs& args) {
    auto options = classify_options(args);
    if (!options) return report_failure(options.error());
    auto policy = classify_policy(config_path, args);
    if (!policy) return report_failure(policy.error());
    auto classifier = policy::AttachmentClassifier::create();
    if (!classifier) return report_failure(classifier.error());
    int rc = 0;
    for (const std::string& file : args.files) {
        auto text = read_file(file);
        auto c = text ? classify_input(**policy, **classifier, text.value(), *options)
                      : Result<Classification>(text.error());
        if (!c) {
            rc = report_failure(c.error());
            continue;
        }
        if (args.json) {
            auto j = classification_json(c.value(), args.explain);
            nlohmann::ordered_json out{{"file", file}};
            out.update(j);
            std::cout << out.dump() << "\n";
        } else {
            std::cout << file << ":\n" << classification_text(c.value(), args.explain);
        }
    }
    std::cout.flush();
    return rc;
}

}  // namespace mm::milter
