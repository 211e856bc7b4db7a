// classify_eval: precision and recall of the content rules and contact
// reasons over a labelled corpus (tests/data/classify/<half>/<lang>/<class>/
// *.eml, see the corpus README), by the outcomes of issue 15:
//   prohibited classes  refused by a content rule (the class's own rule
//                       firing is reported as information)
//   critical classes    a critical reason recognised and nothing refused
//   important.misuse    no critical reason recognised, or refused
//   ordinary            nothing refused
//
//   classify_eval --policy etc/policy.yaml --corpus tests/data/classify/tune
//                 [--min-recall 0.95] [--max-false-refusal 0.01] [--min-misuse 0.95]
//                 [--concepts OUT.jsonl [--features 1]]
//
// Prints a table per class and language, every wrong message with its
// explanation, and exits 1 when a threshold given is missed (2 on bad input).
// --concepts writes, per message, the rules that fired (by `when` or
// pattern, or by score) and the concepts present in each sentence,
// paragraph and message unit: what tools/fit_concept_scores.py fits on.
// --features adds to each line the distinct word-model features (word_model.h)
// of each unit: what tools/fit_word_model.py fits on.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/classify_message.h"
#include "policy/classify/word_model.h"
#include "policy/mime/gmime_ptr.h"
#include "policy/rules/text_scans.h"

namespace fs = std::filesystem;
using namespace mm;

namespace {

const std::set<std::string> kProhibited = {"review.compensation",  "review.conditional",
                                           "review.removal",       "promo.marketing",
                                           "referral.third_party", "optout.link"};
const std::set<std::string> kCritical = {"delivery_scheduling", "shipping_address",
                                         "product_customisation"};

struct Args {
    std::string policy, corpus;
    std::optional<double> min_recall, max_false_refusal, min_misuse;
    std::string concepts;   // --concepts: the JSON lines file to write
    bool features = false;  // --features: word-model features in those lines
};

struct Tally {
    int total = 0, correct = 0, own_rule = 0;
};

bool judge(const std::string& cls, const milter::Classification& c, bool& own_rule) {
    own_rule = std::any_of(c.content.begin(), c.content.end(),
                           [&](const policy::ContentHit& h) { return h.rule_id == cls; }) ||
               std::any_of(c.reasons.begin(), c.reasons.end(),
                           [&](const policy::ContentHit& h) { return h.rule_id == cls; });
    if (kProhibited.count(cls)) return c.refused;
    if (kCritical.count(cls)) return c.critical_reason && !c.refused;
    if (cls == "important.misuse") return !c.critical_reason || c.refused;
    return !c.refused;  // ordinary
}

std::optional<Args> parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--policy")
            a.policy = v;
        else if (k == "--corpus")
            a.corpus = v;
        else if (k == "--min-recall")
            a.min_recall = std::stod(v);
        else if (k == "--max-false-refusal")
            a.max_false_refusal = std::stod(v);
        else if (k == "--min-misuse")
            a.min_misuse = std::stod(v);
        else if (k == "--concepts")
            a.concepts = v;
        else if (k == "--features")
            a.features = v == "1" || v == "yes";
        else
            return std::nullopt;
    }
    if (a.policy.empty() || a.corpus.empty() || argc % 2 == 0) return std::nullopt;
    return a;
}

std::string rate(const Tally& t) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%3d/%-3d %5.3f", t.correct, t.total,
                  t.total ? static_cast<double>(t.correct) / t.total : 1.0);
    return buf;
}

// One line of --concepts for a message.
nlohmann::ordered_json concepts_line(const policy::Policy& policy, const std::string& file,
                                     const std::string& cls, const std::string& lang,
                                     const milter::Classification& c, bool features) {
    nlohmann::ordered_json rules = nlohmann::ordered_json::object();
    bool refused_when = false;
    for (const policy::ContentHit& h : c.content) {
        rules[h.rule_id] = h.by_model ? "model" : h.by_score ? "score" : "when";
        refused_when = refused_when || (!h.by_score && !h.by_model &&
                                        h.action != policy::ContentRule::Action::flag);
    }
    nlohmann::ordered_json units = nlohmann::ordered_json::object();
    nlohmann::ordered_json words = nlohmann::ordered_json::object();
    if (policy.concepts) {
        std::vector<std::string_view> texts{c.subject};
        texts.insert(texts.end(), c.texts.begin(), c.texts.end());
        const auto found = policy::scan_once(texts, 1, 0, policy.concepts);
        const classify::Analysis& a = *found.analysis;
        for (classify::Scope scope :
             {classify::Scope::sentence, classify::Scope::paragraph, classify::Scope::message}) {
            std::map<std::uint32_t, std::set<std::string>> by_unit;
            for (const classify::ConceptMatch& m : a.matches) {
                const classify::Token& t = a.doc.tokens[m.first];
                const std::uint32_t unit = scope == classify::Scope::sentence    ? t.sentence
                                           : scope == classify::Scope::paragraph ? t.paragraph
                                                                                 : t.message;
                by_unit[unit].insert(a.lexicon->concepts()[m.concept_id].name);
            }
            nlohmann::ordered_json list = nlohmann::ordered_json::array();
            for (const auto& [unit, names] : by_unit) list.push_back(names);
            units[classify::to_string(scope)] = list;
            if (features) words[classify::to_string(scope)] = classify::unit_features(a.doc, scope);
        }
    }
    nlohmann::ordered_json line = {
        {"file", file},
        {"class", cls},
        {"lang", lang},
        {"from", c.direction == policy::Direction::seller_to_buyer ? "seller" : "buyer"},
        {"refused", c.refused},
        {"refused_when", refused_when},
        {"critical", c.critical_reason},
        {"rules", rules},
        {"units", units}};
    if (features) line["features"] = words;
    return line;
}

}  // namespace

int main(int argc, char** argv) {
    auto args = parse_args(argc, argv);
    if (!args) {
        std::cerr
            << "usage: classify_eval --policy FILE --corpus DIR [--min-recall R] "
               "[--max-false-refusal F] [--min-misuse M] [--concepts OUT.jsonl [--features 1]]\n";
        return 2;
    }
    policy::ensure_gmime();
    auto loaded = policy::load_policy(args->policy);
    if (!loaded) {
        std::cerr << "classify_eval: " << loaded.error().message << "\n";
        return 2;
    }
    auto classifier = policy::AttachmentClassifier::create();
    if (!classifier) return 2;
    std::map<std::string, std::map<std::string, Tally>> by_class;  // class -> lang -> tally
    std::vector<std::string> wrong;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(args->corpus))
        if (e.is_regular_file() && e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::ofstream concepts_out;
    if (!args->concepts.empty()) {
        concepts_out.open(args->concepts, std::ios::binary | std::ios::trunc);
        if (!concepts_out) {
            std::cerr << "classify_eval: " << args->concepts << ": cannot write\n";
            return 2;
        }
    }
    for (const fs::path& file : files) {
        const std::string cls = file.parent_path().filename();
        const std::string lang = file.parent_path().parent_path().filename();
        std::ifstream in(file, std::ios::binary);
        std::stringstream buf;
        buf << in.rdbuf();
        auto c = milter::classify_input(*loaded.value(), **classifier, buf.str(), {});
        if (!c) {
            std::cerr << file.string() << ": " << c.error().message << "\n";
            return 2;
        }
        if (concepts_out.is_open())
            concepts_out << concepts_line(*loaded.value(),
                                          fs::relative(file, args->corpus).string(), cls, lang,
                                          c.value(), args->features)
                                .dump()
                         << "\n";
        bool own = false;
        const bool ok = judge(cls, c.value(), own);
        Tally& t = by_class[cls][lang];
        ++t.total;
        t.correct += ok;
        t.own_rule += own;
        if (!ok)
            wrong.push_back(file.string() + "\n" + milter::classification_text(c.value(), true));
    }
    std::printf("%-24s %-5s %-17s %s\n", "class", "lang", "correct", "own rule fired");
    std::map<std::string, Tally> totals;
    for (const auto& [cls, langs] : by_class) {
        Tally sum;
        for (const auto& [lang, t] : langs) {
            std::printf("%-24s %-5s %-17s %d\n", cls.c_str(), lang.c_str(), rate(t).c_str(),
                        t.own_rule);
            sum.total += t.total;
            sum.correct += t.correct;
            sum.own_rule += t.own_rule;
        }
        std::printf("%-24s %-5s %-17s %d\n", cls.c_str(), "all", rate(sum).c_str(), sum.own_rule);
        totals[cls] = sum;
    }
    Tally all;
    for (const auto& [cls, t] : totals) {
        all.total += t.total;
        all.correct += t.correct;
    }
    std::printf("%-24s %-5s %s\n\n", "total", "all", rate(all).c_str());
    for (const std::string& w : wrong) std::printf("WRONG %s\n", w.c_str());

    bool missed = false;
    auto fraction = [](const Tally& t) {
        return t.total ? static_cast<double>(t.correct) / t.total : 1.0;
    };
    for (const auto& [cls, t] : totals) {
        if (args->min_recall && (kProhibited.count(cls) || kCritical.count(cls)) &&
            fraction(t) < *args->min_recall) {
            std::printf("MISSED recall %s %.3f < %.3f\n", cls.c_str(), fraction(t),
                        *args->min_recall);
            missed = true;
        }
        if (args->max_false_refusal && cls == "ordinary" &&
            1 - fraction(t) > *args->max_false_refusal) {
            std::printf("MISSED ordinary wrongly refused %.3f > %.3f\n", 1 - fraction(t),
                        *args->max_false_refusal);
            missed = true;
        }
        if (args->min_misuse && cls == "important.misuse" && fraction(t) < *args->min_misuse) {
            std::printf("MISSED misuse caught %.3f < %.3f\n", fraction(t), *args->min_misuse);
            missed = true;
        }
    }
    return missed ? 1 : 0;
}
