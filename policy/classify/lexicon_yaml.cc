#include "policy/classify/lexicon_yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mm::classify {
namespace {

constexpr std::size_t kMaxFileBytes = 4 << 20;

struct Placed : std::runtime_error {
    Placed(const YAML::Mark& m, const std::string& what) : std::runtime_error(what), mark(m) {}
    YAML::Mark mark;
};

std::string where(const std::string& file, const YAML::Mark& m) {
    return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::vector<std::pair<std::string, YAML::Node>> string_list(const YAML::Node& n,
                                                            const std::string& what) {
    if (!n.IsSequence()) throw Placed(n.Mark(), what + ": expected a list");
    std::vector<std::pair<std::string, YAML::Node>> out;
    for (const YAML::Node& item : n) {
        if (!item.IsScalar() || item.Scalar().empty())
            throw Placed(item.Mark(), what + ": expected a non-empty string");
        out.emplace_back(item.Scalar(), item);
    }
    return out;
}

// An entry with alternatives, "{can t|cannot} accept ... {transfer*|paypal}",
// stands for every combination ("can t accept ... transfer*", ...): one line
// for a negation beside any of a dozen channels instead of a hundred.  An
// alternative may be empty ("sondern {|direkt} per").  Groups do not nest;
// the combinations are bounded so that a typo cannot blow up the lexicon.
constexpr std::size_t kMaxAlternatives = 4096;
// And a whole lexicon at most this many entries, so that its load and memory stay bounded.
constexpr std::size_t kMaxEntries = 500000;

std::vector<std::string> expand_alternatives(const std::string& text, const YAML::Node& node,
                                             const std::string& what) {
    std::vector<std::string> out{""};
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t open = text.find_first_of("{}", i);
        const std::string plain = text.substr(i, open == std::string::npos ? open : open - i);
        for (std::string& o : out) o += plain;
        if (open == std::string::npos) break;
        const std::size_t close = text.find_first_of("{}", open + 1);
        if (text[open] == '}' || close == std::string::npos || text[close] == '{')
            throw Placed(node.Mark(), what + " '" + text + "': unbalanced or nested { }");
        std::vector<std::string> choices;
        for (std::size_t a = open + 1;;) {
            const std::size_t bar = std::min(text.find('|', a), close);
            choices.push_back(text.substr(a, bar - a));
            if (bar == close) break;
            a = bar + 1;
        }
        if (out.size() * choices.size() > kMaxAlternatives)
            throw Placed(node.Mark(), what + " '" + text + "': more than " +
                                          std::to_string(kMaxAlternatives) + " combinations");
        std::vector<std::string> next;
        for (const std::string& o : out)
            for (const std::string& c : choices) next.push_back(o + c);
        out = std::move(next);
        i = close + 1;
    }
    // An empty alternative leaves two spaces or one at an end.
    for (std::string& o : out) {
        std::string squeezed;
        for (char ch : o)
            if (ch != ' ' || (!squeezed.empty() && squeezed.back() != ' ')) squeezed += ch;
        while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
        o = std::move(squeezed);
    }
    return out;
}

LangMask load_languages(const YAML::Node& n) {
    LangMask mask = 0;
    for (const auto& [code, node] : string_list(n, "languages")) {
        auto lang = lang_from_code(code);
        if (!lang)
            throw Placed(node.Mark(),
                         "languages: unknown language '" + code + "' (known: en, de, fr, it, es)");
        mask |= static_cast<LangMask>(1u << *lang);
    }
    if (mask == 0) throw Placed(n.Mark(), "languages: empty");
    return mask;
}

Speaker load_speaker(const YAML::Node& v, const std::string& what) {
    if (v.IsScalar() && v.Scalar() == "buyer") return Speaker::buyer;
    if (v.IsScalar() && v.Scalar() == "seller") return Speaker::seller;
    throw Placed(v.Mark(), what + ": expected buyer or seller");
}

ConceptSource load_concept(const std::string& file, const YAML::Node& key, const YAML::Node& value,
                           LangMask languages) {
    ConceptSource c;
    c.name = key.Scalar();
    c.where = where(file, key.Mark());
    if (!value.IsMap()) throw Placed(value.Mark(), "concept " + c.name + ": expected a mapping");
    // YAML keeps a repeated key; one would silently drop or merge the other.
    bool have_description = false, have_shape = false, have_speaker = false, have_masks = false;
    for (auto it = value.begin(); it != value.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        const std::string name = k.Scalar();
        const std::string what = "concept " + c.name + " " + name;
        if (name == "description" || name == "shape" || name == "speaker" || name == "masks") {
            bool& seen = name == "description" ? have_description
                         : name == "shape"     ? have_shape
                         : name == "speaker"   ? have_speaker
                                               : have_masks;
            if (seen) throw Placed(k.Mark(), what + ": listed twice");
            seen = true;
        }
        if (name == "description") {
            if (!v.IsScalar()) throw Placed(v.Mark(), what + ": expected a string");
            c.description = v.Scalar();
        } else if (name == "speaker") {
            c.speaker = load_speaker(v, what);
        } else if (name == "masks") {
            // Resolved by Lexicon::build, once every concept is known.
            for (const auto& [masked, node] : string_list(v, what))
                c.masks.push_back({masked, where(file, node.Mark())});
        } else if (name == "shape") {
            for (const auto& [regex, node] : string_list(v, what))
                c.shapes.push_back({regex, where(file, node.Mark())});
        } else if (auto lang = lang_from_code(name)) {
            if (!((languages >> *lang) & 1u))
                throw Placed(k.Mark(), what + ": language not in `languages`");
            if ((c.listed >> *lang) & 1u) throw Placed(k.Mark(), what + ": listed twice");
            c.listed |= static_cast<LangMask>(1u << *lang);
            if (v.IsNull()) continue;  // an empty language: build() says so
            for (const auto& [text, node] : string_list(v, what))
                for (std::string& one : expand_alternatives(text, node, what))
                    c.entries.push_back({*lang, std::move(one), where(file, node.Mark())});
        } else {
            throw Placed(k.Mark(),
                         "concept " + c.name + ": unknown key '" + name +
                             "' (expected description, shape, speaker, masks or a language code)");
        }
    }
    return c;
}

std::shared_ptr<const Lexicon> load(const YAML::Node& root, const std::string& file) {
    if (!root.IsMap()) throw Placed(root.Mark(), "expected a mapping with languages and concepts");
    for (auto it = root.begin(); it != root.end(); ++it) {
        const std::string k = it->first.Scalar();
        if (k != "languages" && k != "concepts")
            throw Placed(it->first.Mark(),
                         "unknown key '" + k + "' (expected languages, concepts)");
    }
    if (!root["languages"]) throw Placed(root.Mark(), "missing required key 'languages'");
    if (!root["concepts"]) throw Placed(root.Mark(), "missing required key 'concepts'");
    const LangMask languages = load_languages(root["languages"]);
    const YAML::Node concepts = root["concepts"];
    if (!concepts.IsMap()) throw Placed(concepts.Mark(), "concepts: expected a mapping");
    std::vector<ConceptSource> sources;
    std::size_t entries = 0;
    for (auto it = concepts.begin(); it != concepts.end(); ++it) {
        sources.push_back(load_concept(file, it->first, it->second, languages));
        entries += sources.back().entries.size();
        if (entries > kMaxEntries)
            throw Placed(it->first.Mark(), "concepts: more than " + std::to_string(kMaxEntries) +
                                               " entries once alternatives are expanded");
    }
    auto built = Lexicon::build(languages, std::move(sources));
    if (!built) throw std::invalid_argument(built.error().message);
    return built.value();
}

}  // namespace

Result<std::shared_ptr<const Lexicon>> load_lexicon(const YAML::Node& root,
                                                    const std::string& file) {
    try {
        return load(root, file);
    } catch (const Placed& e) {
        return fail(Errc::invalid, where(file, e.mark) + ": " + e.what());
    } catch (const std::invalid_argument& e) {
        return fail(Errc::invalid, e.what());
    } catch (const YAML::Exception& e) {
        return fail(Errc::invalid, where(file, e.mark) + ": " + e.msg);
    }
}

Result<std::shared_ptr<const Lexicon>> load_lexicon_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(Errc::invalid, path + ": cannot open");
    std::ostringstream buf;
    buf << in.rdbuf();
    if (buf.str().size() > kMaxFileBytes) return fail(Errc::invalid, path + ": larger than 4 MiB");
    try {
        return load_lexicon(YAML::Load(buf.str()), path);
    } catch (const YAML::Exception& e) {
        return fail(Errc::invalid, where(path, e.mark) + ": " + e.msg);
    }
}

}  // namespace mm::classify
