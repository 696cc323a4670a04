"""Group unanswered questions by similarity, so the secretariat sees which FAQ entries to write next. Pure.

Each question becomes its stemmed content words (:mod:`kb.normalize`); two questions are as similar
as rapidfuzz's token_set_ratio of those words; average-linkage agglomerative grouping merges the two
most similar groups until no pair is similar enough.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from kb.normalize import tokens

SIMILARITY = 0.5  # average similarity (0..1) two groups need to merge
MAX_QUESTIONS = 1000  # the most recent ones are grouped; the cost grows with the square
EXAMPLES = 3


@dataclass(frozen=True)
class Question:
    """An unanswered question and its language."""

    text: str
    lang: str


@dataclass(frozen=True)
class Cluster:
    """Similar questions: how many, the most frequent words and a few examples."""

    size: int
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    members: tuple[int, ...]  # indices into the questions given


def cluster_questions(questions: Sequence[Question], similarity: float = SIMILARITY) -> list[Cluster]:
    """Clusters of ``questions`` (the last MAX_QUESTIONS), biggest first; singletons included.

    Questions without a content word (empty, emoji, stop words only) are left out.
    """
    offset = max(0, len(questions) - MAX_QUESTIONS)
    items = list(questions[offset:])
    words = [" ".join(tokens(q.text, q.lang)) for q in items]
    sim = process.cdist(words, words, scorer=fuzz.token_set_ratio, dtype=np.float64) / 100.0
    np.fill_diagonal(sim, -1.0)
    groups: dict[int, list[int]] = {i: [i] for i, w in enumerate(words) if w}
    sim[[i for i, w in enumerate(words) if not w]] = -1.0
    while len(groups) > 1:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, len(items))
        if sim[a, b] < similarity:
            break
        na, nb = len(groups[a]), len(groups[b])
        merged = (sim[a] * na + sim[b] * nb) / (na + nb)  # average linkage (Lance-Williams)
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -1.0
        sim[b, :] = sim[:, b] = -1.0
        groups[a] += groups.pop(b)
    clusters = [_cluster(items, words, sorted(m), offset) for m in groups.values()]
    return sorted(clusters, key=lambda c: (-c.size, c.members[0]))


def _cluster(items: list[Question], words: list[str], members: list[int], offset: int) -> Cluster:
    counts = Counter(w for i in members for w in set(words[i].split()))
    keywords = tuple(w for w, n in counts.most_common(3) if n > 1 or len(members) == 1)
    examples = tuple(dict.fromkeys(items[i].text for i in members))[:EXAMPLES]
    return Cluster(len(members), keywords, examples, tuple(i + offset for i in members))
