"""Triage: from scored FAQ candidates to answer / suggest / escalate, and the queue to route to. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal

from kb.matcher import Candidate
from kb.normalize import fold
from kb.stemming import terms

Decision = Literal["answer", "suggest", "escalate", "chatter"]
SUGGESTIONS = 3  # buttons in a suggestion list

_CHATTER = {
    "en": {"hi", "hello", "hey", "thanks", "thank you", "thank you very much", "thx", "ok", "okay",
           "good morning", "good afternoon", "good evening", "bye", "goodbye", "great", "cool", "yes", "no"},
    "es": {"hola", "gracias", "muchas gracias", "buenos dias", "buenas tardes", "buenas noches", "vale",
           "adios", "ok", "perfecto", "genial", "si", "no", "chao"},
    "fr": {"bonjour", "salut", "merci", "merci beaucoup", "bonsoir", "au revoir", "ok", "d'accord",
           "parfait", "super", "oui", "non", "coucou"},
}


@dataclass(frozen=True)
class Thresholds:
    """The calibrated score limits of one queue."""

    answer: float
    margin: float
    suggest: float


@dataclass(frozen=True)
class Route:
    """Which queue a ticket should go to, and why."""

    queue: str | None
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TriageResult:
    """What the bot would do with one question and why."""

    decision: Decision
    lang: str
    candidates: list[Candidate]
    thresholds: Thresholds
    route: Route

    @property
    def suggestions(self) -> list[Candidate]:
        """The plausible candidates to offer when the decision is "suggest"."""
        return plausible(self.candidates, self.thresholds.suggest)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the audit row and `helpdesk triage --json` (computed once; do not change it)."""
        return self._as_dict

    @cached_property
    def _as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "lang": self.lang,
            "candidates": [asdict(c) for c in self.candidates],
            "thresholds": asdict(self.thresholds),
            "route": asdict(self.route),
        }


def plausible(candidates: Sequence[Candidate], suggest: float) -> list[Candidate]:
    """The candidates worth a suggestion button: up to SUGGESTIONS whose score reaches half the suggest
    threshold (the best one, when suggestions are made at all, reaches it whole)."""
    return [c for c in candidates[:SUGGESTIONS] if is_plausible(c.score, suggest)]


def is_plausible(score: float, suggest: float) -> bool:
    """Whether a candidate with this score is worth a suggestion button."""
    return score >= suggest / 2


def _plain(text: str) -> str:
    text = text.casefold()
    if not text.isascii():  # strip accents
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^\w' ]+", " ", text).strip()


# Words that carry no question on their own: with the chatter phrases' words, a text made only of these,
# numbers, single letters and emoji is not matched against the FAQ.
_FILLER_TEXT = (
    "a all again and please so very much lot lots you u ok okay oh ah hmm well what how why where who help me "
    "nada de muchas mucho muy todo bien que como por favor ayuda y e "
    "tres beaucoup ca va et quoi comment pourquoi aide moi vous")
_CHATTER_WORDS = frozenset(_FILLER_TEXT.split()) | {word for phrases in _CHATTER.values() for phrase in phrases
                             for word in phrase.replace("'", " ").split()}


def is_number(text: str) -> bool:
    """Only digits (with punctuation or signs around them): "4", "#12", "3.5"."""
    words = _plain(text).split()
    return bool(words) and all(word.isdigit() for word in words)


def is_chatter(text: str) -> bool:
    """Not a question: greetings, thanks, numbers, emoji and other texts with no content words."""
    plain = " ".join(_plain(text).split())
    if plain == "" or any(plain in phrases for phrases in _CHATTER.values()):
        return True
    return all(word.isdigit() or len(word) == 1 or word in _CHATTER_WORDS
               for word in plain.replace("'", " ").replace("_", " ").split())


def decide(candidates: Sequence[Candidate], thresholds: Mapping[str, Thresholds], default: Thresholds,
           ) -> tuple[Decision, Thresholds]:
    """Answer when the best candidate is sure and clearly ahead, suggest when plausible, else escalate.

    The thresholds are those of the best candidate's queue (each queue may be tuned on its own).
    """
    if not candidates:
        return "escalate", default
    top = candidates[0]
    limits = thresholds.get(top.queue, default)
    second = candidates[1].score if len(candidates) > 1 else 0.0
    if top.score >= limits.answer and top.score - second >= limits.margin:
        return "answer", limits
    if top.score >= limits.suggest:
        return "suggest", limits
    return "escalate", limits


class Router:
    """Picks a queue from keyword hits (all languages, the question's first) and the candidates' queues.

    Keywords and questions are compared as Snowball stems of their language (`kb.stemming.terms`:
    elision, accents and plurals folded), each keyword once per queue however many language lists
    hold it. Keywords are stemmed once, when the router is built.
    """

    def __init__(self, keywords: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        # language -> first stem -> (queue, folded keyword, its stems): a question looks up only the
        # keywords that start with one of its own stems
        self._index: dict[str, dict[str, list[tuple[str, str, tuple[str, ...]]]]] = {}
        for queue, by_lang in keywords.items():
            for kw_lang, words in by_lang.items():
                for word in words:
                    needle = terms(word, kw_lang)
                    if needle:
                        self._index.setdefault(kw_lang, {}).setdefault(needle[0], []).append(
                            (queue, fold(word), needle))

    def keyword_hits(self, text: str, lang: str) -> dict[str, dict[str, float]]:
        """Queue -> {folded keyword: weight} of the keywords the text contains.

        A longer phrase is more specific than a single word; a keyword of the question's language
        weighs more than one of another list, and a keyword in several lists counts once, at its best.
        """
        hits: dict[str, dict[str, float]] = {}
        for kw_lang, by_first in self._index.items():
            stems = terms(text, kw_lang)
            for i, stem in enumerate(stems):
                for queue, key, needle in by_first.get(stem, ()):
                    if stems[i:i + len(needle)] == needle:
                        weight = len(needle) * (1.0 if kw_lang == lang else 0.6)
                        found = hits.setdefault(queue, {})
                        found[key] = max(weight, found.get(key, 0.0))
        return hits

    def route(self, text: str, lang: str, candidates: Sequence[Candidate], suggest: float) -> Route:
        """The queue for this question, or `Route(None)` when nothing points anywhere (ask the practitioner)."""
        scores: dict[str, float] = {}
        reasons: list[str] = []
        for queue, found in self.keyword_hits(text, lang).items():
            scores[queue] = sum(found.values())
            reasons += [f"keyword '{word}' -> {queue}" for word in found]
        for rank, cand in enumerate(candidates[:3]):
            if cand.score >= suggest * 0.6:
                scores[cand.queue] = scores.get(cand.queue, 0.0) + cand.score * (1.0 - 0.25 * rank)
                reasons.append(f"FAQ candidate {cand.entry_id} ({cand.score:.2f}) -> {cand.queue}")
        if not scores:
            return Route(None, {}, ["no keyword or FAQ candidate points to a queue"])
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best, best_score = ranked[0]
        if len(ranked) > 1 and ranked[1][1] >= best_score * 0.9:
            reasons.append(f"too close between {ranked[0][0]} and {ranked[1][0]}")
            return Route(None, scores, reasons)
        return Route(best, scores, reasons)
