"""Language-aware text normalisation for the FAQ matcher (en, es, fr).

``fold`` casefolds, strips accents and turns everything that is not a letter or a
digit (punctuation, symbols, emoji, control, zero-width and bidi characters) into
spaces. ``tokens`` then drops the language's stop words and applies a light
suffix-stripping stemmer, so that plural/singular and verb forms meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_WORD = re.compile(r"[\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i"})


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _rules(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((rule.partition(">")[0], rule.partition(">")[2]) for rule in text.split())


STOP_WORDS: dict[str, frozenset[str]] = {
    # Only articles, prepositions, conjunctions, auxiliaries and greetings: question
    # words and pronouns ("who", "my") tell FAQ entries apart and are kept.
    "en": _word_set(
        """a an the and or but of to in on at by for with from into as is are was were be been
        am do does did s t d ll m re ve please hi hello thanks thank"""
    ),
    "es": _word_set(
        """el la los las un una unos unas lo al del de a en y e o u ni se por para con sobre
        es son era eran fue ser sido esta estan ha han he has haber hay hola gracias favor"""
    ),
    "fr": _word_set(
        """le la les l un une des du de d a au aux en et ou ni se s par pour avec sur dans
        est sont etait ete etre c j qu n m t y bonjour merci"""
    ),
}

# Ordered suffix rules ("suffix" or "suffix>replacement"): the first that leaves a stem
# of >= 3 letters applies.
_SUFFIXES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": _rules(
        "ational>ate ization>ize ations ation nesses ness ments ment ingly ings ing ities ity "
        "ies>y ied>y ally ly ed es s"
    ),
    "es": _rules(
        "amientos imientos amiento imiento aciones acion iciones icion idades idad mente ando "
        "iendo ados idos adas idas ado ido ada ida ces>z es s"
    ),
    "fr": _rules("issements issement ations ation ements ement ites ite euses euse eux aux>al ees ee es er ez s x"),
}
_FINAL_VOWELS: dict[str, str] = {"en": "e", "es": "aeo", "fr": "e"}
_MIN_STEM = 3


def fold(text: str) -> str:
    """Casefold, strip accents and replace non-alphanumerics by single spaces."""
    text = unicodedata.normalize("NFKD", text.casefold()).translate(_LIGATURES)
    return _NON_WORD.sub(" ", _COMBINING.sub("", text)).strip()


@lru_cache(maxsize=200_000)
def stem(word: str, lang: str) -> str:
    """Light suffix-stripping stem of a folded word (digits are kept as they are)."""
    if not word.isalpha():
        return word
    for suffix, repl in _SUFFIXES.get(lang, ()):
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            word = word[: -len(suffix)] + repl
            break
    vowels = _FINAL_VOWELS.get(lang, "")
    if len(word) > _MIN_STEM + 1 and word[-1] in vowels:
        word = word[:-1]
    return word


def content_words(text: str, lang: str) -> list[str]:
    """Folded words without the language's stop words (and without single letters)."""
    stops = STOP_WORDS.get(lang, STOP_WORDS["en"])
    return [w for w in fold(text).split() if w not in stops and (len(w) > 1 or w.isdigit())]


def tokens(text: str, lang: str) -> list[str]:
    """Normalised, stop-word-free, stemmed tokens of ``text`` in language ``lang``."""
    return [stem(w, lang) for w in content_words(text, lang)]
