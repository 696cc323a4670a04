"""Offline evaluation of the FAQ matcher on labelled query sets.

Data format (``/work/shared/benchmarks/faq/*/``): ``faq.jsonl`` with one entry a line
``{"id", "question", "answer", "paraphrases", "lang"}``, ``queries.jsonl`` and the
optional ``dev_queries.jsonl`` with ``{"id", "text", "lang", "relevant": [ids]}``;
``relevant: []`` marks an out-of-scope query, on which the bot should escalate.

The bot *answers* when the top score >= ``answer_threshold`` and the gap to the
second score >= ``margin``; it *suggests* the top 3 when the top score >=
``suggest_threshold``, and escalates otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kb.entry import KBEntry
from kb.triage import SUGGESTIONS, is_plausible

FAQ_FILE = "faq.jsonl"
QUERIES_FILE = "queries.jsonl"
DEV_QUERIES_FILE = "dev_queries.jsonl"
DEFAULT_QUEUE = "faq"
RANK_DEPTH = 10
SUGGEST_KEEP = 0.95  # share of useful top-3 suggestions the suggest threshold must keep
MARGINS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
MIN_OOS_SHARE = 0.25  # tuning counts out-of-scope queries as at least this share of all queries
CONFIDENCE_Z = 1.0  # tuning needs the Wilson lower bound (z standard errors) of precision >= target


class EvalDataError(ValueError):
    """A benchmark file is missing or malformed (the message names ``file:line``)."""


class _Scored(Protocol):
    @property
    def entry_id(self) -> str: ...

    @property
    def score(self) -> float: ...


class SearchesFAQ(Protocol):
    """What evaluation needs of a matcher."""

    def search(self, text: str, lang: str | None = None, k: int = 5) -> Sequence[_Scored]: ...


@dataclass(frozen=True)
class EvalQuery:
    """A labelled query; no ``relevant`` ids means out of scope."""

    id: str
    text: str
    lang: str
    relevant: tuple[str, ...]

    @property
    def in_scope(self) -> bool:
        return bool(self.relevant)


@dataclass(frozen=True)
class EvalSet:
    """A knowledge base with its test (and optional dev) queries."""

    name: str
    entries: tuple[KBEntry, ...]
    queries: tuple[EvalQuery, ...]
    dev_queries: tuple[EvalQuery, ...] = ()


@dataclass(frozen=True)
class QueryResult:
    """What the matcher returned for one query."""

    query: EvalQuery
    ranked: tuple[str, ...]
    scores: tuple[float, ...]
    latency_ms: float

    @property
    def top(self) -> float:
        return self.scores[0] if self.scores else 0.0

    @property
    def gap(self) -> float:
        """Top score minus the second one (the top score when alone)."""
        return self.top - (self.scores[1] if len(self.scores) > 1 else 0.0)

    def rank(self) -> int | None:
        """1-based rank of the first relevant entry, None if not retrieved."""
        for i, entry_id in enumerate(self.ranked, 1):
            if entry_id in self.query.relevant:
                return i
        return None


@dataclass(frozen=True)
class Metrics:
    """Ranking and answering figures over one group of queries."""

    queries: int
    in_scope: int
    out_of_scope: int
    p_at_1: float
    mrr_at_10: float
    recall_at_3: float
    answered: int
    answer_precision: float | None  # None when nothing was answered
    coverage: float
    oos_rejection: float | None  # None without out-of-scope queries
    decision_accuracy: float
    suggested: float | None = None  # share of queries shown a suggestion list (None: no suggest threshold)
    suggest_hit: float | None = None  # share of those lists that hold a relevant entry


@dataclass(frozen=True)
class EvalReport:
    """Figures of one matcher on one query set at one operating point."""

    answer_threshold: float
    margin: float
    overall: Metrics
    per_language: dict[str, Metrics]
    latency_p50_ms: float
    latency_p99_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        lines = [
            f"threshold {self.answer_threshold:.3f}  margin {self.margin:.3f}  "
            f"latency p50 {self.latency_p50_ms:.2f} ms  p99 {self.latency_p99_ms:.2f} ms",
            _metrics_line("all", self.overall),
        ]
        if len(self.per_language) > 1:
            lines += [_metrics_line(lang, m) for lang, m in sorted(self.per_language.items())]
        return "\n".join(lines)


@dataclass(frozen=True)
class TuneResult:
    """Operating thresholds chosen on one split."""

    split: str
    target_precision: float
    min_oos_share: float
    confidence_z: float
    reachable: bool
    answer_threshold: float
    margin: float
    answer_precision: float | None
    coverage: float
    suggest_threshold: float
    suggest_recall_at_3: float
    suggest_oos_rejection: float | None
    rules: tuple[str, ...] = field(
        default=(
            "answer: (threshold, margin) with the highest coverage whose answer precision is >= target "
            "with confidence (Wilson lower bound at confidence_z), out-of-scope queries weighted up to "
            "min_oos_share of the split when rarer",
            f"suggest: highest threshold keeping {SUGGEST_KEEP:.0%} of the in-scope queries "
            "whose top 3 holds a relevant entry (capped at the answer threshold)",
        )
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        if not self.reachable:
            head = f"[{self.split}] answer precision {self.target_precision:.2f} not reachable"
        else:
            head = (
                f"[{self.split}] answer at score >= {self.answer_threshold:.3f} and margin >= "
                f"{self.margin:.2f}: precision {_fmt(self.answer_precision)}, coverage {self.coverage:.3f}"
            )
        return (
            f"{head}\n[{self.split}] suggest at score >= {self.suggest_threshold:.3f}: "
            f"recall@3 {self.suggest_recall_at_3:.3f}, oos rejection {_fmt(self.suggest_oos_rejection)}"
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _metrics_line(label: str, m: Metrics) -> str:
    return (
        f"{label:>4}: n={m.queries} (oos {m.out_of_scope})  P@1 {m.p_at_1:.3f}  MRR@10 {m.mrr_at_10:.3f}  "
        f"R@3 {m.recall_at_3:.3f}  answer precision {_fmt(m.answer_precision)}  coverage {m.coverage:.3f}  "
        f"oos rejection {_fmt(m.oos_rejection)}  decision acc {m.decision_accuracy:.3f}"
        + ("" if m.suggested is None else
           f"  suggested {m.suggested:.3f} (right one among them {_fmt(m.suggest_hit)})")
    )


# --- loading -----------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """(``file:line``, object) for each non-blank line of ``path``."""
    if not path.is_file():
        raise EvalDataError(f"{path}: file not found")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{where}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise EvalDataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            yield where, obj


def _field(obj: dict[str, Any], name: str, kind: type, where: str, default: Any = None) -> Any:
    """``obj[name]`` checked to be of ``kind`` (``default`` when absent and not None)."""
    if name not in obj:
        if default is not None:
            return default
        raise EvalDataError(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind):
        raise EvalDataError(f"{where}: field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _strings(obj: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    values = _field(obj, name, list, where, default=[])
    if not all(isinstance(v, str) for v in values):
        raise EvalDataError(f"{where}: field {name!r} must be a list of strings")
    return tuple(values)


def load_faq(path: Path) -> tuple[KBEntry, ...]:
    """The entries of a ``faq.jsonl`` file."""
    entries: dict[str, KBEntry] = {}
    for where, obj in _read_jsonl(path):
        entry_id = _field(obj, "id", str, where)
        if entry_id in entries:
            raise EvalDataError(f"{where}: duplicate id {entry_id!r}")
        entries[entry_id] = KBEntry(
            id=entry_id,
            question=_field(obj, "question", str, where),
            answer=_field(obj, "answer", str, where, default=""),
            queue=DEFAULT_QUEUE,
            lang=_field(obj, "lang", str, where),
            phrasings=_strings(obj, "paraphrases", where),
            origin=where,
        )
    if not entries:
        raise EvalDataError(f"{path}: no entries")
    return tuple(entries.values())


def load_queries(path: Path, known_ids: set[str]) -> tuple[EvalQuery, ...]:
    """The queries of a ``queries.jsonl``-style file; relevant ids must be in ``known_ids``."""
    queries = []
    for where, obj in _read_jsonl(path):
        relevant = _field(obj, "relevant", list, where)
        unknown = [r for r in relevant if r not in known_ids]
        if unknown:
            raise EvalDataError(f"{where}: relevant id(s) not in the FAQ: {unknown[:3]}")
        queries.append(
            EvalQuery(
                id=str(_field(obj, "id", (str, int), where)),  # type: ignore[arg-type]
                text=_field(obj, "text", str, where),
                lang=_field(obj, "lang", str, where),
                relevant=_strings(obj, "relevant", where),
            )
        )
    if not queries:
        raise EvalDataError(f"{path}: no queries")
    return tuple(queries)


def load_eval_dir(path: str | Path, entries: Sequence[KBEntry] | None = None) -> EvalSet:
    """Load ``faq.jsonl``, ``queries.jsonl`` and the optional ``dev_queries.jsonl``.

    With ``entries`` (e.g. the bot's own KB files), those replace ``faq.jsonl``.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise EvalDataError(f"{folder}: not a directory")
    entries = tuple(entries) if entries is not None else load_faq(folder / FAQ_FILE)
    ids = {e.id for e in entries}
    dev_path = folder / DEV_QUERIES_FILE
    return EvalSet(
        name=folder.name,
        entries=entries,
        queries=load_queries(folder / QUERIES_FILE, ids),
        dev_queries=load_queries(dev_path, ids) if dev_path.exists() else (),
    )


# --- running and scoring -----------------------------------------------------------------------


def run(matcher: SearchesFAQ, queries: Sequence[EvalQuery], k: int = RANK_DEPTH,
        progress: Callable[[int, int], None] | None = None) -> list[QueryResult]:
    """Search every query once, timing each search (`progress(done, total)` after each one)."""
    results = []
    for done, query in enumerate(queries, 1):
        start = time.perf_counter()
        found = matcher.search(query.text, query.lang, k=k)
        elapsed = (time.perf_counter() - start) * 1000
        results.append(QueryResult(query, tuple(c.entry_id for c in found), tuple(c.score for c in found), elapsed))
        if progress is not None:
            progress(done, len(queries))
    return results


def _answered(results: Sequence[QueryResult], threshold: float, margin: float) -> list[bool]:
    return [bool(r.ranked) and r.top >= threshold and r.gap >= margin for r in results]


def metrics(results: Sequence[QueryResult], threshold: float, margin: float = 0.0,
            suggest: float | None = None) -> Metrics:
    """Ranking figures over in-scope queries; answering figures over all queries; with ``suggest``, how
    often a suggestion list is shown and how often it holds a relevant entry."""
    ranks = [r.rank() for r in results if r.query.in_scope]
    answered = _answered(results, threshold, margin)
    correct = [a and r.rank() == 1 for a, r in zip(answered, results, strict=True)]
    oos_abstained = [not a for a, r in zip(answered, results, strict=True) if not r.query.in_scope]
    n, n_in = len(results), len(ranks)
    n_answered = sum(answered)
    return Metrics(
        queries=n,
        in_scope=n_in,
        out_of_scope=n - n_in,
        p_at_1=_mean(rank == 1 for rank in ranks),
        mrr_at_10=_mean(1 / rank if rank and rank <= RANK_DEPTH else 0.0 for rank in ranks),
        recall_at_3=_mean(rank is not None and rank <= 3 for rank in ranks),
        answered=n_answered,
        answer_precision=sum(correct) / n_answered if n_answered else None,
        coverage=n_answered / n if n else 0.0,
        oos_rejection=_mean(oos_abstained) if oos_abstained else None,
        decision_accuracy=(sum(correct) + sum(oos_abstained)) / n if n else 0.0,
        **(_suggestion_figures(results, answered, suggest) if suggest is not None else {}),
    )


def _suggestion_figures(results: Sequence[QueryResult], answered: Sequence[bool], suggest: float
                        ) -> dict[str, float | None]:
    """Share of queries shown suggestions (not answered, top score >= ``suggest``) and of those lists
    whose plausible candidates (as the bot shows them, :func:`kb.triage.plausible`) hold a relevant entry."""
    lists = [r for r, a in zip(results, answered, strict=True) if not a and r.ranked and r.top >= suggest]
    hits = [any(entry in r.query.relevant and is_plausible(score, suggest)
                for entry, score in zip(r.ranked[:SUGGESTIONS], r.scores, strict=False)) for r in lists]
    return {"suggested": len(lists) / len(results) if results else 0.0,
            "suggest_hit": _mean(hits) if hits else None}


def _mean(values: Iterable[float | bool]) -> float:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else 0.0


def report(results: Sequence[QueryResult], answer_threshold: float, margin: float = 0.0,
           suggest: float | None = None) -> EvalReport:
    """An :class:`EvalReport` from already computed results."""
    by_lang: dict[str, list[QueryResult]] = {}
    for r in results:
        by_lang.setdefault(r.query.lang, []).append(r)
    latencies = np.array([r.latency_ms for r in results]) if results else np.zeros(1)
    return EvalReport(
        answer_threshold=answer_threshold,
        margin=margin,
        overall=metrics(results, answer_threshold, margin, suggest),
        per_language={lang: metrics(rs, answer_threshold, margin, suggest) for lang, rs in sorted(by_lang.items())},
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p99_ms=float(np.percentile(latencies, 99)),
    )


def evaluate(
    matcher: SearchesFAQ, queries: Sequence[EvalQuery], answer_threshold: float, margin: float = 0.0,
    suggest: float | None = None, progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Run ``matcher`` on ``queries`` and report at the given operating point."""
    return report(run(matcher, queries, progress=progress), answer_threshold, margin, suggest)


# --- tuning ------------------------------------------------------------------------------------


def tune(
    matcher: SearchesFAQ,
    queries: EvalSet | Sequence[EvalQuery],
    target_precision: float = 0.95,
    min_oos_share: float = MIN_OOS_SHARE,
    confidence_z: float = CONFIDENCE_Z,
    progress: Callable[[int, int], None] | None = None,
) -> TuneResult:
    """Choose answer and suggest thresholds; an :class:`EvalSet` is tuned on its dev split if any.

    Precision comes first, so the target must hold for the Wilson lower bound of the
    precision (``confidence_z`` standard errors; 0 for the plain estimate), and since a help
    desk sees an unknown share of off-topic questions that dev splits tend to
    under-represent, out-of-scope queries are weighted up to ``min_oos_share``.
    """
    split, chosen = _tuning_split(queries)
    return tune_results(run(matcher, chosen, progress=progress), target_precision, split, min_oos_share, confidence_z)


def _tuning_split(queries: EvalSet | Sequence[EvalQuery]) -> tuple[str, Sequence[EvalQuery]]:
    if isinstance(queries, EvalSet):
        if queries.dev_queries:
            return DEV_QUERIES_FILE, queries.dev_queries
        return f"{QUERIES_FILE} (no dev split)", queries.queries
    return "given queries", queries


def tune_results(
    results: Sequence[QueryResult],
    target_precision: float,
    split: str,
    min_oos_share: float = MIN_OOS_SHARE,
    confidence_z: float = CONFIDENCE_Z,
    progress: Callable[[int, int], None] | None = None,
) -> TuneResult:
    """:func:`tune` on already computed results."""
    oos_weight = _oos_weight(results, min_oos_share)
    weights = np.array([1.0 if r.query.in_scope else oos_weight for r in results])
    best = _best_answer_point(results, weights, target_precision, confidence_z)
    threshold, margin = best if best else (1.0, 0.0)
    answer = metrics(results, threshold, margin)
    suggest = _suggest_threshold(results, threshold)
    at_suggest = metrics(results, suggest)
    in_scope = [r for r in results if r.query.in_scope]
    kept = _mean(r.top >= suggest and (r.rank() or 99) <= 3 for r in in_scope)
    return TuneResult(
        split=split,
        target_precision=target_precision,
        min_oos_share=min_oos_share,
        confidence_z=confidence_z,
        reachable=best is not None,
        answer_threshold=threshold,
        margin=margin,
        answer_precision=answer.answer_precision,
        coverage=answer.coverage,
        suggest_threshold=suggest,
        suggest_recall_at_3=kept,
        suggest_oos_rejection=at_suggest.oos_rejection,
    )


def _oos_weight(results: Sequence[QueryResult], min_share: float) -> float:
    """Weight of each out-of-scope query so that they make up at least ``min_share``."""
    n_oos = sum(not r.query.in_scope for r in results)
    n_in = len(results) - n_oos
    if not n_oos or n_oos / len(results) >= min_share:
        return 1.0
    return min_share * n_in / ((1 - min_share) * n_oos)


def _wilson_lower(precision: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    """Wilson score lower bound of a proportion observed on ``n`` (effective) samples."""
    if z == 0:
        return precision
    spread = z * np.sqrt(precision * (1 - precision) / n + z * z / (4 * n * n))
    return (precision + z * z / (2 * n) - spread) / (1 + z * z / n)


def _best_answer_point(
    results: Sequence[QueryResult], weights: np.ndarray, target: float, z: float
) -> tuple[float, float] | None:
    """(threshold, margin) of highest coverage whose precision's lower bound >= ``target``."""
    tops = np.array([r.top for r in results])
    gaps = np.array([r.gap for r in results])
    right = np.array([r.rank() == 1 for r in results])
    best: tuple[float, float, float] | None = None  # (coverage, threshold, margin)
    for margin in MARGINS:
        eligible = gaps >= margin
        order = np.argsort(-tops[eligible], kind="stable")
        sorted_tops = tops[eligible][order]
        kept = weights[eligible][order]
        total = np.cumsum(kept)
        precision = np.cumsum(kept * right[eligible][order]) / total
        effective_n = total**2 / np.cumsum(kept**2)
        # only cut between distinct scores: the last position of each score value
        last = np.r_[sorted_tops[1:] != sorted_tops[:-1], True] & (sorted_tops > 0)
        last &= _wilson_lower(precision, effective_n, z) >= target
        if not last.any():
            continue
        pos = int(np.flatnonzero(last)[-1])
        coverage = (pos + 1) / len(results)
        if best is None or coverage > best[0]:
            best = (coverage, float(sorted_tops[pos]), margin)
    return (best[1], best[2]) if best else None


def _suggest_threshold(results: Sequence[QueryResult], cap: float) -> float:
    """Highest score keeping SUGGEST_KEEP of the in-scope queries with a relevant top-3 entry."""
    useful = sorted((r.top for r in results if r.query.in_scope and (r.rank() or 99) <= 3), reverse=True)
    if not useful:
        return cap
    index = min(len(useful) - 1, int(np.ceil(SUGGEST_KEEP * len(useful))) - 1)
    return min(cap, float(useful[index]))
