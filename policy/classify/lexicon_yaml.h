// The concepts file (etc/concepts.yaml, or policy.yaml's inline `concepts:`
// mapping) as a Lexicon.  Errors are "FILE:LINE:COL: message" at the
// offending node (1-based), FILE as given.
//
//   languages: [en, de, fr, it, es]
//   concepts:
//     NAME:                      # UPPER_SNAKE_CASE
//       description: text
//       en: [entry, ...]         # one list per language of `languages`
//       shape: [regex, ...]      # RE2, case-insensitive, any language
#pragma once

#include <memory>
#include <string>

#include "policy/classify/lexicon.h"
#include "util/result.h"

namespace YAML {
class Node;
}

namespace mm::classify {

// `root` is the document (or inline mapping); `file` names it in errors.
Result<std::shared_ptr<const Lexicon>> load_lexicon(const YAML::Node& root,
                                                    const std::string& file);
// Reads `path` (at most 4 MiB) and loads it.
Result<std::shared_ptr<const Lexicon>> load_lexicon_file(const std::string& path);

}  // namespace mm::classify
