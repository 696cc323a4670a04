"""Optional semantic re-ranking of the matcher's candidates with sentence embeddings.

Pure: the embedding function is given (the `semantic` extra provides one, see bench/semantic.py),
so kb/ loads no model and touches no network. Each candidate's score becomes
``(1 - weight) * score + weight * cosine``, the cosine being the best over the entry's question
and phrasings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from kb.entry import KBEntry
from kb.matcher import Candidate, Matcher

Embed = Callable[[list[str]], npt.NDArray[np.float32]]  # unit-length rows, one per text


class SemanticReranker:
    """A Matcher whose top candidates are re-ranked by embedding similarity."""

    def __init__(self, entries: Sequence[KBEntry], embed: Embed, weight: float = 0.5, depth: int = 20) -> None:
        self._matcher = Matcher(entries)
        self._embed = embed
        self.weight = weight
        self._depth = depth
        texts, owners = [], []
        for entry in entries:
            for text in dict.fromkeys((entry.question, *entry.phrasings)):
                texts.append(text)
                owners.append(entry.id)
        self._vectors = embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self._rows: dict[str, list[int]] = {}
        for row, owner in enumerate(owners):
            self._rows.setdefault(owner, []).append(row)

    def __len__(self) -> int:
        return len(self._matcher)

    def search(self, text: str, lang: str | None = None, k: int = 5) -> list[Candidate]:
        """Up to ``k`` entries, best first, by the mixed score."""
        found = self._matcher.search(text, lang, k=self._depth)
        if not found or self.weight == 0:
            return found[:k]
        query = self._embed([text])[0]
        mixed = []
        for cand in found:
            cosine = float(np.max(self._vectors[self._rows[cand.entry_id]] @ query))
            mixed.append(replace(cand, score=(1 - self.weight) * cand.score + self.weight * max(0.0, cosine)))
        return sorted(mixed, key=lambda c: -c.score)[:k]
