#include "policy/rules/text_scans.h"

#include <algorithm>

#include "policy/limits.h"

namespace mm::policy {
namespace {

// At most this many lists of texts are kept per message: the content step's
// and the contact reasons' (they differ when a message has attachments).
constexpr std::size_t kMaxEntries = 4;

std::shared_ptr<const classify::Analysis> analysis_of(
    const ScannedTexts& texts, classify::LangMask langs,
    const std::shared_ptr<const classify::Lexicon>& lexicon) {
    if (!lexicon) return nullptr;
    return std::make_shared<const classify::Analysis>(
        analyse_within_limits(lexicon, texts.inputs, langs));
}

}  // namespace

classify::Analysis analyse_within_limits(std::shared_ptr<const classify::Lexicon> lexicon,
                                         std::span<const classify::TextInput> texts,
                                         classify::LangMask langs) {
    const classify::WorkBounds bounds{&check_cpu_budget, text_words_left()};
    try {
        classify::Analysis a = classify::analyse(std::move(lexicon), texts, langs, bounds);
        charge_text_words(a.doc.tokens.size());
        return a;
    } catch (const classify::TooManyWords&) {
        const MessageLimits* limits = active_limits();
        throw LimitExceeded(text_words_refusal(limits != nullptr ? limits->max_text_words : 0));
    }
}

std::shared_ptr<const ScannedTexts> scan_texts(const std::vector<std::string_view>& texts,
                                               std::size_t subjects) {
    auto out = std::make_shared<ScannedTexts>();
    out->normalized.reserve(texts.size());
    for (std::string_view t : texts) {
        check_cpu_budget();
        out->normalized.push_back(normalize_text(t, Normalize::words));
    }
    out->inputs.reserve(texts.size());
    for (std::size_t k = 0; k < texts.size(); ++k)
        out->inputs.push_back({out->normalized[k].text, k < subjects});
    return out;
}

TextScans::Found scan_once(const std::vector<std::string_view>& texts, std::size_t subjects,
                           classify::LangMask langs,
                           const std::shared_ptr<const classify::Lexicon>& lexicon) {
    TextScans::Found found;
    found.texts = scan_texts(texts, subjects);
    found.analysis = analysis_of(*found.texts, langs, lexicon);
    return found;
}

bool TextScans::same(const Entry& e, const std::vector<std::string_view>& texts,
                     std::size_t subjects) {
    return e.subjects == subjects && e.sources.size() == texts.size() &&
           std::equal(texts.begin(), texts.end(), e.sources.begin(),
                      [](std::string_view a, const std::string& b) { return a == b; });
}

TextScans::Found TextScans::get(const std::vector<std::string_view>& texts, std::size_t subjects,
                                classify::LangMask langs,
                                const std::shared_ptr<const classify::Lexicon>& lexicon) {
    std::lock_guard lock(mutex_);
    auto e = std::find_if(entries_.begin(), entries_.end(),
                          [&](const Entry& x) { return same(x, texts, subjects); });
    if (e == entries_.end()) {
        if (entries_.size() >= kMaxEntries) return scan_once(texts, subjects, langs, lexicon);
        Entry fresh;
        fresh.sources.assign(texts.begin(), texts.end());
        fresh.subjects = subjects;
        fresh.texts = scan_texts(texts, subjects);
        e = entries_.insert(entries_.end(), std::move(fresh));
    }
    Found found{e->texts, nullptr};
    if (!lexicon) return found;
    for (const Entry::Analysed& a : e->analyses)
        if (a.langs == langs && a.analysis->lexicon == lexicon) {
            found.analysis = a.analysis;
            return found;
        }
    found.analysis = analysis_of(*e->texts, langs, lexicon);
    e->analyses.push_back({langs, found.analysis});
    return found;
}

}  // namespace mm::policy
