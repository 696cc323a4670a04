"""Snowball stemming (PyStemmer) for en/es/fr, with French and Spanish elision and plurals folded first.

Used to match queue keywords: ``terms("l'inventaire des villes", "fr")`` and ``terms("inventaire ville",
"fr")`` give the same stems. Accents are folded before stemming, so "scénarios" and "scenario" meet.
(`kb.normalize.stem` is the FAQ matcher's own light stemmer and stays as it is.)
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import Stemmer

from kb.normalize import fold

_ALGORITHMS = {"en": "english", "es": "spanish", "fr": "french"}
# Elided articles and pronouns: "l'inventaire", "d’émission", "qu'est-ce", "jusqu'à".
_ELISION = re.compile(r"\b(?:jusqu|lorsqu|puisqu|quoiqu|qu|[cdjlmnst])['’](?=\w)", re.IGNORECASE)
_VOWELS = frozenset("aeiou")


@cache
def _stemmer(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_ALGORITHMS.get(lang, "english"))


def singular(word: str, lang: str) -> str:
    """A folded Spanish or French plural made singular ("ciudades" -> "ciudad", "réseaux" -> "reseau");
    English plurals are left to the Snowball stemmer, which handles them."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if lang == "es":
        if word.endswith("es") and word[-3] not in _VOWELS and len(word) > 4:
            return word[:-2]
        return word[:-1] if word.endswith("s") else word
    if lang == "fr":
        if word.endswith(("eaux", "eux")):
            return word[:-1]
        if word.endswith("aux"):
            return word[:-3] + "al"
        return word[:-1] if word.endswith(("s", "x")) and not word.endswith("ss") else word
    return word


@lru_cache(maxsize=100_000)
def snowball(word: str, lang: str) -> str:
    """The Snowball stem of one folded word in `lang` (digits and mixed tokens are kept as they are)."""
    if not word.isalpha():
        return word
    return str(_stemmer(lang).stemWord(singular(word, lang)))


def terms(text: str, lang: str) -> tuple[str, ...]:
    """The stems of a text's words in `lang`: elision removed, accents folded, plurals made singular."""
    return tuple(snowball(word, lang) for word in fold(_ELISION.sub("", text)).split())
