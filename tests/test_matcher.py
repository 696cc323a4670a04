"""Tests of normalisation, language detection and the FAQ matcher."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from kb.entry import KBEntry
from kb.language import detect_language
from kb.matcher import FEATURES, MODEL_FILE, Candidate, Matcher, parse_model
from kb.normalize import fold, stem, tokens

# Short help-desk questions, 20 per language, to check (and compare) language detection.
LANG_SAMPLES: tuple[tuple[str, str], ...] = (
    ("en", "How do I submit our NDC update?"),
    ("en", "Where can I find the GHG inventory template?"),
    ("en", "What is the deadline for the biennial transparency report?"),
    ("en", "who reviews the mitigation chapter"),
    ("en", "Can you explain Article 6.2 cooperative approaches?"),
    ("en", "Is there a guide for MRV of adaptation finance?"),
    ("en", "how to calculate emission factors for rice"),
    ("en", "Need help with the LEDS modelling tool"),
    ("en", "When is the next training webinar?"),
    ("en", "which sectors should the baseline cover"),
    ("en", "What's the difference between conditional and unconditional targets?"),
    ("en", "My login to the portal doesn't work"),
    ("en", "carbon tax design options"),
    ("en", "Does the workshop cover just transition?"),
    ("en", "Who should I contact about the Green Climate Fund readiness grant?"),
    ("en", "how many tonnes CO2e did the energy sector emit"),
    ("en", "Are the IPCC 2006 guidelines still required?"),
    ("en", "Please send the slides from yesterday's session"),
    ("en", "methane reduction policies for livestock"),
    ("en", "Thanks, I'll check the report"),
    ("es", "¿Cómo envío la actualización de nuestra NDC?"),
    ("es", "¿Dónde encuentro la plantilla del inventario de GEI?"),
    ("es", "Cuál es el plazo para el informe bienal de transparencia"),
    ("es", "quien revisa el capitulo de mitigacion"),
    ("es", "¿Pueden explicar los enfoques cooperativos del artículo 6.2?"),
    ("es", "Hay una guía para el MRV de la financiación de la adaptación"),
    ("es", "como calcular factores de emision para el arroz"),
    ("es", "Necesito ayuda con la herramienta de modelización LEDS"),
    ("es", "¿Cuándo es el próximo seminario web?"),
    ("es", "que sectores debe cubrir la linea de base"),
    ("es", "Diferencia entre metas condicionales e incondicionales"),
    ("es", "No puedo entrar al portal"),
    ("es", "opciones de diseño de un impuesto al carbono"),
    ("es", "¿El taller incluye la transición justa?"),
    ("es", "¿A quién contacto por la subvención de preparación del Fondo Verde?"),
    ("es", "cuántas toneladas de CO2e emitió el sector energía"),
    ("es", "¿Siguen siendo obligatorias las directrices del IPCC de 2006?"),
    ("es", "Por favor envíen las diapositivas de la sesión de ayer"),
    ("es", "políticas de reducción de metano en ganadería"),
    ("es", "Gracias, reviso el informe"),
    ("fr", "Comment soumettre la mise à jour de notre CDN ?"),
    ("fr", "Où trouver le modèle d'inventaire des GES ?"),
    ("fr", "Quelle est la date limite du rapport biennal de transparence"),
    ("fr", "qui relit le chapitre atténuation"),
    ("fr", "Pouvez-vous expliquer les approches coopératives de l'article 6.2 ?"),
    ("fr", "Existe-t-il un guide pour la MRV du financement de l'adaptation ?"),
    ("fr", "comment calculer les facteurs d'emission pour le riz"),
    ("fr", "J'ai besoin d'aide avec l'outil de modélisation LEDS"),
    ("fr", "Quand a lieu le prochain webinaire ?"),
    ("fr", "quels secteurs doit couvrir le scenario de reference"),
    ("fr", "Différence entre objectifs conditionnels et inconditionnels"),
    ("fr", "Je n'arrive pas à me connecter au portail"),
    ("fr", "options de conception d'une taxe carbone"),
    ("fr", "L'atelier couvre-t-il la transition juste ?"),
    ("fr", "Qui contacter pour la subvention de préparation du Fonds vert ?"),
    ("fr", "combien de tonnes de CO2e le secteur de l'énergie a émis"),
    ("fr", "Les lignes directrices du GIEC de 2006 sont-elles encore obligatoires ?"),
    ("fr", "Merci d'envoyer les diapositives de la séance d'hier"),
    ("fr", "politiques de réduction du méthane dans l'élevage"),
    ("fr", "Merci, je regarde le rapport"),
)


def _entry(entry_id: str, lang: str, question: str, *phrasings: str, queue: str = "general") -> KBEntry:
    return KBEntry(id=entry_id, question=question, answer="...", queue=queue, lang=lang, phrasings=tuple(phrasings))


KB = (
    _entry(
        "ndc-submit",
        "en",
        "How do I submit our updated NDC?",
        "Where do we send the nationally determined contribution update?",
        "submission process for a new NDC",
        queue="unfccc",
    ),
    _entry(
        "ghg-template",
        "en",
        "Where can I find the greenhouse gas inventory template?",
        "download the GHG inventory spreadsheet",
        queue="mrv",
    ),
    _entry(
        "btr-deadline",
        "en",
        "What is the deadline for the first Biennial Transparency Report?",
        "when is the BTR due",
        queue="mrv",
    ),
    _entry(
        "article6",
        "en",
        "How do Article 6.2 cooperative approaches work?",
        "explain internationally transferred mitigation outcomes (ITMOs)",
        queue="markets",
    ),
    _entry(
        "carbon-tax",
        "en",
        "What are the design options for a carbon tax?",
        "how should a carbon price be designed",
        queue="policy",
    ),
    _entry(
        "ghg-template-es",
        "es",
        "¿Dónde encuentro la plantilla del inventario de gases de efecto invernadero?",
        "descargar la hoja de cálculo del inventario GEI",
        queue="mrv",
    ),
    _entry(
        "ndc-submit-fr",
        "fr",
        "Comment soumettre la mise à jour de notre CDN ?",
        "envoyer la contribution déterminée au niveau national",
        queue="unfccc",
    ),
    _entry(
        "gcf-readiness",
        "en",
        "Who do I contact about the Green Climate Fund readiness programme?",
        "GCF readiness grant contact person",
        queue="finance",
    ),
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(KB)


# --- normalisation -----------------------------------------------------------------------------


def test_fold_strips_accents_case_punctuation_and_invisible_characters() -> None:
    assert fold("¿Qué   PASÓ?! Émissions—2030") == "que paso emissions 2030"
    assert fold("zero\u200bwidth \u202ebidi\u202c \x07bell") == "zero width bidi bell"
    assert fold("Œuvre Straße 🙂🙂 ...") == "oeuvre strasse"


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "What are the reporting requirements for emissions?", ["what", "report", "requir", "emission"]),
        ("es", "¿Cuáles son los requisitos de las emisiones nacionales?", ["cual", "requisit", "emision", "nacional"]),
        (
            "fr",
            "Quelles sont les exigences pour l'inventaire national ?",
            ["quell", "exigenc", "inventair", "national"],
        ),
    ],
)
def test_tokens_drop_stop_words_and_stem(lang: str, text: str, expected: list[str]) -> None:
    assert tokens(text, lang) == expected


@pytest.mark.parametrize(
    ("lang", "forms"),
    [
        ("en", ["reservation", "reservations", "reserved"]),
        ("en", ["policy", "policies"]),
        ("es", ["emisión", "emisiones"]),
        ("es", ["política", "políticas"]),
        ("fr", ["émission", "émissions"]),
        ("fr", ["national", "nationaux"]),
    ],
)
def test_stemming_conflates_inflections(lang: str, forms: list[str]) -> None:
    assert len({stem(fold(f), lang) for f in forms}) == 1


def test_tokens_keep_numbers_and_survive_empty_input() -> None:
    assert tokens("Article 6.2 and 2030", "en") == ["articl", "6", "2", "2030"]
    assert tokens("", "en") == []
    assert tokens("?!… 🙂", "fr") == []


# --- language detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("How do I report methane emissions?", "en"),
        ("What's the deadline?", "en"),
        ("¿Cuál es el plazo?", "es"),
        ("necesito ayuda con el inventario", "es"),
        ("Où est le rapport ?", "fr"),
        ("j'ai une question sur l'inventaire", "fr"),
    ],
)
def test_detect_language_examples(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_detect_language_accuracy_on_labelled_questions() -> None:
    right = sum(detect_language(text) == lang for lang, text in LANG_SAMPLES)
    assert right / len(LANG_SAMPLES) >= 0.95


def test_detect_language_defaults_and_restrictions() -> None:
    assert detect_language("", default="fr") == "fr"
    assert detect_language("12345 ?!", default="es") == "es"
    assert detect_language("¿Dónde está el informe?", allowed=("en", "fr")) in {"en", "fr"}


# --- matcher -----------------------------------------------------------------------------------


def test_ranks_the_right_entry_first(matcher: Matcher) -> None:
    found = matcher.search("What is the deadline for the Biennial Transparency Report?", "en")
    assert found[0].entry_id == "btr-deadline"
    assert found[0].queue == "mrv"
    assert found[0].matched_text == KB[2].question


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("when do we have to hand in the BTR", "btr-deadline"),
        ("how to submit an NDC update", "ndc-submit"),
        ("who is the contact for GCF readiness grants", "gcf-readiness"),
        ("how does a carbon tax get designed", "carbon-tax"),
        ("how do ITMOs work", "article6"),
    ],
)
def test_finds_paraphrases(matcher: Matcher, query: str, expected: str) -> None:
    assert matcher.search(query, "en")[0].entry_id == expected


def test_scores_are_calibrated_sorted_and_per_entry(matcher: Matcher) -> None:
    found = matcher.search("greenhouse gas inventory template", "en", k=10)
    scores = [c.score for c in found]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len({c.entry_id for c in found}) == len(found)
    assert isinstance(found[0], Candidate)
    assert len(matcher.search("greenhouse gas inventory template", "en", k=2)) <= 2


def test_exact_question_scores_higher_than_unrelated_question(matcher: Matcher) -> None:
    exact = matcher.search("What are the design options for a carbon tax?", "en")[0]
    unrelated = matcher.search("What is the best pizza in Naples?", "en")
    assert exact.entry_id == "carbon-tax"
    assert exact.score > 0.5
    assert not unrelated or unrelated[0].score < exact.score - 0.3


def test_query_language_gets_priority(matcher: Matcher) -> None:
    assert matcher.search("plantilla del inventario GEI", "es")[0].entry_id == "ghg-template-es"
    assert matcher.search("mise à jour de la CDN", "fr")[0].entry_id == "ndc-submit-fr"


def test_cross_lingual_fallback_finds_entry_in_another_language(matcher: Matcher) -> None:
    found = matcher.search("¿Cómo funcionan los enfoques cooperativos del Artículo 6.2?", "es")
    assert found[0].entry_id == "article6"
    assert found[0].lang == "en"
    fr = matcher.search("Qui contacter pour le programme readiness du Green Climate Fund ?", "fr")
    assert fr[0].entry_id == "gcf-readiness"


def test_language_is_detected_when_not_given(matcher: Matcher) -> None:
    assert matcher.search("¿Dónde encuentro la plantilla del inventario?")[0].entry_id == "ghg-template-es"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "a",
        "?",
        "🙂🙂🙂",
        "!!!???...",
        "\u200b\u202e",
        "x" * 5000,
        "carbon tax " * 500,
        "NDC update ¿dónde? où est la CDN 🙂",
        "\x00\x01\x02",
        "東京の排出量",
    ],
)
def test_bad_inputs_do_not_crash(matcher: Matcher, query: str) -> None:
    for lang in (None, "en", "es", "fr", "de"):
        found = matcher.search(query, lang)
        assert all(0.0 <= c.score <= 1.0 for c in found)


def test_empty_and_symbol_only_queries_return_nothing(matcher: Matcher) -> None:
    for query in ("", "   ", "🙂🙂", "?!", "a"):
        assert matcher.search(query) == []


def test_long_query_still_finds_its_entry(matcher: Matcher) -> None:
    query = "Where can I find the greenhouse gas inventory template? " + "please " * 800
    assert matcher.search(query, "en")[0].entry_id == "ghg-template"


def test_empty_knowledge_base_and_len() -> None:
    empty = Matcher([])
    assert len(empty) == 0
    assert empty.search("carbon tax") == []
    assert len(Matcher(KB)) == len(KB)
    assert Matcher(KB[:1]).search("submit NDC", "en")[0].entry_id == "ndc-submit"


def test_entries_without_any_word_do_not_break_the_index() -> None:
    odd = Matcher([_entry("q", "en", "?"), _entry("e", "xx", "🙂")])
    assert odd.search("carbon tax") == []
    mixed = Matcher([_entry("q", "en", "?!"), _entry("tax", "en", "carbon tax", "CARBON TAX!")])
    assert mixed.search("carbon tax rates")[0].entry_id == "tax"


def test_translations_of_one_topic_are_one_candidate_in_the_askers_language() -> None:
    entries = [
        KBEntry(id="btr", question="What does a Biennial Transparency Report contain?", answer="…", queue="MRV",
                lang="en", topic="btr"),
        KBEntry(id="btr-fr", question="Que contient un rapport biennal de transparence ?", answer="…", queue="MRV",
                lang="fr", topic="btr", phrasings=("What goes into a Biennial Transparency Report?",)),
        KBEntry(id="macc", question="How do we build a marginal abatement cost curve?", answer="…",
                queue="STRATEGY", lang="en"),
    ]
    found = Matcher(entries).search("What goes into a Biennial Transparency Report?", "en")
    assert found[0].entry_id == "btr"  # the fr entry matched best, the asker reads the en one
    assert [c.entry_id for c in found].count("btr-fr") == 0


def test_a_model_file_that_does_not_fit_the_features_is_refused() -> None:
    model = json.loads(resources.files("kb").joinpath(MODEL_FILE).read_text(encoding="utf-8"))
    assert parse_model(model)[0].shape == (len(FEATURES),)
    del model["ranker"][FEATURES[0]]
    with pytest.raises(ValueError, match=r"refit with bench/fit_matcher\.py"):
        parse_model(model)
