"""Routing accuracy: does a question land in the expected queue (or, when none is expected, in none)?

A routing set is JSON lines of ``{"text": ..., "lang": "en|es|fr", "queue": "MRV" | null}``;
``kb/eval/routing.jsonl`` is the set the queue keywords were tuned on, ``kb/eval/routing_heldout.jsonl``
one written before any tuning and never tuned on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kb.triage import Route

ROUTING_SETS = Path(__file__).resolve().parent / "eval"


class RoutingDataError(ValueError):
    """A routing set that cannot be read."""


@dataclass(frozen=True)
class RoutingCase:
    """One question and the queue it should reach (None: no queue, ask the practitioner)."""

    text: str
    lang: str
    queue: str | None


@dataclass
class RoutingReport:
    """How many questions reached the expected queue, and which did not."""

    total: int = 0
    correct: int = 0
    misses: list[tuple[RoutingCase, str | None]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of questions routed as expected (0 for an empty set)."""
        return self.correct / self.total if self.total else 0.0


def load_routing_set(path: Path) -> list[RoutingCase]:
    """The cases of one JSON-lines file; a clear error naming the line when one is malformed."""
    cases: list[RoutingCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            cases.append(RoutingCase(str(row["text"]), str(row["lang"]), row["queue"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise RoutingDataError(f"{path}:{number}: not a routing case ({exc})") from None
    return cases


def measure_routing(cases: Sequence[RoutingCase], route: Callable[[str, str], Route]) -> RoutingReport:
    """Route every case with `route(text, lang)` and count the expected outcomes."""
    report = RoutingReport()
    for case in cases:
        got = route(case.text, case.lang).queue
        report.total += 1
        if got == case.queue:
            report.correct += 1
        else:
            report.misses.append((case, got))
    return report
