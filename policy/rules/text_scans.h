// TextScans: a message's texts as the content rules and the contact reasons
// read them (normalised, tokenised, their concepts matched), made once and
// shared.  The content step scans the subject and the text parts; the
// marketplace step scans the same texts for the contact reasons, read-only
// and again when it commits.  A scan of texts already seen (same bytes,
// same number of subjects, same forced languages) takes the normalised
// texts and, for the lexicon its rules are bound to, the concept analysis
// from here instead of making them again.
//
// One per message (ContentFindings holds it); thread-safe, though a
// message's scans follow one another.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/classify/rule_set.h"
#include "policy/rules/text_normalize.h"

namespace mm::policy {

// What the rules read of one list of texts.
struct ScannedTexts {
    std::vector<NormalizedText> normalized;   // normalize_text(Normalize::words) of each text
    std::vector<classify::TextInput> inputs;  // the normalised texts, subjects marked
};

// The normalised texts of `texts`, the first `subjects` of them subject lines.
std::shared_ptr<const ScannedTexts> scan_texts(const std::vector<std::string_view>& texts,
                                               std::size_t subjects);

class TextScans {
public:
    struct Found {
        std::shared_ptr<const ScannedTexts> texts;
        // With a lexicon: the concept analysis of texts->inputs (languages
        // `langs`, 0 detected), else null.
        std::shared_ptr<const classify::Analysis> analysis;
    };
    Found get(const std::vector<std::string_view>& texts, std::size_t subjects,
              classify::LangMask langs, const std::shared_ptr<const classify::Lexicon>& lexicon);

private:
    struct Entry {
        std::vector<std::string> sources;  // the texts as given
        std::size_t subjects = 0;
        std::shared_ptr<const ScannedTexts> texts;
        struct Analysed {
            classify::LangMask langs;
            std::shared_ptr<const classify::Analysis> analysis;
        };
        std::vector<Analysed> analyses;
    };
    static bool same(const Entry& e, const std::vector<std::string_view>& texts,
                     std::size_t subjects);

    std::mutex mutex_;
    std::vector<Entry> entries_;
};

// classify::analyse under the evaluation's limits (LimitScope): the CPU
// budget checked as it goes, and its words charged to limits.max_text_words
// (past it: LimitExceeded).
classify::Analysis analyse_within_limits(std::shared_ptr<const classify::Lexicon> lexicon,
                                         std::span<const classify::TextInput> texts,
                                         classify::LangMask langs);

// A scan made alone: scan_texts and, with a lexicon, its analysis.
TextScans::Found scan_once(const std::vector<std::string_view>& texts, std::size_t subjects,
                           classify::LangMask langs,
                           const std::shared_ptr<const classify::Lexicon>& lexicon);

}  // namespace mm::policy
