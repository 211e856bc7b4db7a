// Which lexicons a message runs (detect_languages): the message's languages
// from its top, and every language strong in any one paragraph (red team
// round 3, technique 1: the prohibited sentence as a short paragraph in a
// second language).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <span>
#include <string>

#include "policy/classify/language.h"
#include "policy/classify/lexicon_yaml.h"
#include "policy/classify/rule_set.h"
#include "policy/classify/tokenizer.h"

namespace mm::classify {
namespace {

LangMask bit(const char* code) {
    return static_cast<LangMask>(1u << *lang_from_code(code));
}

LangMask langs_of(const std::string& text) {
    const TextInput in{text, false};
    return detect_languages(tokenize(std::span<const TextInput>(&in, 1)), kAllLangs);
}

// A German care note of well over 200 tokens.
std::string german_note() {
    std::string s = "Guten Tag Frau Keller,\n\n";
    for (int i = 0; i < 8; ++i)
        s += "Vielen Dank für Ihre Bestellung. Das Paket ist heute mit der Post an Sie gegangen "
             "und sollte in zwei bis drei Tagen bei Ihnen sein. Die Mühle sollte nicht mit Wasser "
             "gereinigt werden, sondern nur mit dem kleinen Pinsel. ";
    return s + "\n\n";
}

// English, more than 300 tokens, in paragraphs.
std::string english_note() {
    std::string s;
    for (int i = 0; i < 8; ++i)
        s += "Thank you for your order. The parcel left our workshop today and should be with "
             "you by Friday. Please read the short guide in the box before you use the grinder "
             "for the first time, and write to us here if anything is unclear.\n\n";
    return s;
}

TEST(ClassifyLanguages, OneLanguageDetectsOnlyItAndEnglish) {
    EXPECT_EQ(langs_of(german_note() + "Freundliche Grüsse\nBühler"), bit("de") | bit("en"));
    EXPECT_EQ(langs_of(english_note()), bit("en"));
    EXPECT_EQ(langs_of("Bonjour Madame,\n\nVotre commande est partie ce matin, vous la recevrez "
                       "dans deux jours.\n\nNous vous souhaitons une bonne journée."),
              bit("fr") | bit("en"));
}

TEST(ClassifyLanguages, FrenchLastParagraphUnderGermanNote) {
    const std::string text = german_note() +
                             "Pour nos clients romands, en bref : si vous laissez un avis cinq "
                             "étoiles sur la page du produit, nous vous remboursons 10 CHF.\n\n"
                             "Freundliche Grüsse";
    EXPECT_EQ(langs_of(text) & bit("fr"), bit("fr"));
    // Only the top of the message: German (and English) alone.
    EXPECT_EQ(langs_of(german_note()) & bit("fr"), 0);
}

TEST(ClassifyLanguages, OneSentenceItalianPostscript) {
    const std::string text = german_note() +
                             "P.S. Se lascia una recensione a cinque stelle, le rimborsiamo "
                             "subito il prezzo.";
    EXPECT_EQ(langs_of(text) & bit("it"), bit("it"));
}

TEST(ClassifyLanguages, SpanishParagraphAfterThreeHundredTokens) {
    const std::string english = english_note();
    const TextInput in{english, false};
    ASSERT_GT(tokenize(std::span<const TextInput>(&in, 1)).tokens.size(), 300u);
    const std::string text = english +
                             "Para nuestros clientes hispanohablantes: si nos deja una reseña de "
                             "cinco estrellas, le devolvemos el importe de su pedido.\n\n"
                             "Best wishes,\nThe workshop";
    const LangMask langs = langs_of(text);
    EXPECT_EQ(langs & (bit("en") | bit("es")), bit("en") | bit("es"));
    EXPECT_EQ(langs & bit("de"), 0);
}

TEST(ClassifyLanguages, FrenchParagraphDoesNotSwitchOnItsNeighbours) {
    // "la", "de", "se", "que" are Italian and Spanish too; the paragraph has
    // no word of theirs that French lacks.
    const std::string text = english_note() +
                             "Pour nos clients romands : si vous laissez un avis sur la page de "
                             "la boutique, nous vous remboursons les frais de port que vous avez "
                             "payés.\n\nBest wishes,\nThe workshop";
    const LangMask langs = langs_of(text);
    EXPECT_EQ(langs & bit("fr"), bit("fr"));
    EXPECT_EQ(langs & (bit("it") | bit("es")), 0);
}

TEST(ClassifyLanguages, ItalianPostscriptInFrenchMessage) {
    std::string french = "Bonjour Madame,\n\n";
    for (int i = 0; i < 6; ++i)
        french +=
            "Votre commande est partie ce matin et vous la recevrez dans deux jours. Nous "
            "vous remercions de votre confiance et restons à votre disposition. ";
    const std::string text = french +
                             "\n\nP.S. Se lascia una recensione a cinque stelle, le rimborsiamo "
                             "subito il prezzo.";
    EXPECT_EQ(langs_of(french) & bit("it"), 0);
    EXPECT_EQ(langs_of(text) & bit("it"), bit("it"));
}

TEST(ClassifyLanguages, AStrayStopwordTurnsNoLanguageOn) {
    // Two French stopwords in a name are not a French paragraph.
    EXPECT_EQ(langs_of(english_note() + "Kind regards,\nMaison de la Lune"), bit("en"));
}

TEST(ClassifyLanguages, LanguagesPassedInOverrideDetection) {
    auto lexicon = load_lexicon(YAML::Load("languages: [en, de, fr, it, es]\nconcepts:\n"
                                           "  X:\n    en: [review]\n    de: [bewertung]\n"
                                           "    fr: [avis]\n    it: [recensione]\n"
                                           "    es: [resena]\n"),
                                "c.yaml");
    ASSERT_TRUE(lexicon);
    const std::string text = german_note() + "Si vous laissez un avis sur la page du produit.";
    const TextInput in{text, false};
    const std::span<const TextInput> texts(&in, 1);
    const std::shared_ptr<const Lexicon> shared = lexicon.value();
    EXPECT_EQ(analyse(shared, texts, 0).langs & bit("fr"), bit("fr"));
    const Analysis forced = analyse(shared, texts, bit("de"));
    EXPECT_EQ(forced.langs, bit("de"));
    EXPECT_TRUE(forced.matches.empty());
}

}  // namespace
}  // namespace mm::classify
