"""Tests of the evaluation helpers: metrics, tuning, loading, and the shared benchmarks."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pytest

from bot.config import load_config
from kb.evaluation import (
    EvalDataError,
    EvalQuery,
    evaluate,
    load_eval_dir,
    metrics,
    run,
    tune,
    tune_results,
)
from kb.files import load_kb_dir
from kb.matcher import Candidate, Matcher

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


class FakeMatcher:
    """Returns canned (entry id, score) lists per query text."""

    def __init__(self, answers: dict[str, list[tuple[str, float]]]) -> None:
        self.answers = answers

    def search(self, text: str, lang: str | None = None, k: int = 5) -> list[Candidate]:
        return [Candidate(e, s, lang or "en", "q", e) for e, s in self.answers[text][:k]]


def _query(qid: str, lang: str, *relevant: str) -> EvalQuery:
    return EvalQuery(id=qid, text=qid, lang=lang, relevant=relevant)


QUERIES = (
    _query("q1", "en", "a"),  # right at rank 1, answered
    _query("q2", "en", "b"),  # rank 2, answered (wrong), gap 0.1
    _query("q3", "es", "c"),  # rank 3, below the threshold
    _query("q4", "es"),  # out of scope, answered (wrong)
    _query("q5", "en"),  # out of scope, nothing found
)
FAKE = FakeMatcher(
    {
        "q1": [("a", 0.9), ("b", 0.3)],
        "q2": [("a", 0.8), ("b", 0.7)],
        "q3": [("a", 0.4), ("b", 0.2), ("c", 0.1)],
        "q4": [("a", 0.6)],
        "q5": [],
    }
)


def test_metrics_on_a_hand_computed_example() -> None:
    report = evaluate(FAKE, QUERIES, answer_threshold=0.5)
    m = report.overall
    assert (m.queries, m.in_scope, m.out_of_scope) == (5, 3, 2)
    assert m.p_at_1 == pytest.approx(1 / 3)
    assert m.mrr_at_10 == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert m.recall_at_3 == pytest.approx(1.0)
    assert m.answered == 3
    assert m.answer_precision == pytest.approx(1 / 3)
    assert m.coverage == pytest.approx(3 / 5)
    assert m.oos_rejection == pytest.approx(1 / 2)
    assert m.decision_accuracy == pytest.approx(2 / 5)
    assert report.latency_p50_ms >= 0 and report.latency_p99_ms >= report.latency_p50_ms


def test_margin_and_per_language_breakdown() -> None:
    report = evaluate(FAKE, QUERIES, answer_threshold=0.5, margin=0.15)
    assert report.overall.answered == 2  # q2's gap of 0.1 is below the margin
    assert report.overall.answer_precision == pytest.approx(1 / 2)
    assert report.overall.coverage == pytest.approx(2 / 5)
    en, es = report.per_language["en"], report.per_language["es"]
    assert (en.queries, en.p_at_1, en.oos_rejection) == (3, pytest.approx(1 / 2), 1.0)
    assert (es.queries, es.p_at_1, es.answer_precision) == (2, 0.0, 0.0)


def test_nothing_answered_gives_no_precision() -> None:
    m = metrics(run(FAKE, QUERIES), threshold=0.99)
    assert (m.answered, m.answer_precision, m.coverage, m.oos_rejection) == (0, None, 0.0, 1.0)


def test_reports_are_json_serialisable_and_readable() -> None:
    report = evaluate(FAKE, QUERIES, answer_threshold=0.5)
    assert json.loads(json.dumps(asdict(report)))["overall"]["answered"] == 3
    assert "P@1 0.333" in report.to_text()
    tuned = tune(FAKE, QUERIES, target_precision=1.0, confidence_z=0.0)
    assert json.loads(json.dumps(tuned.to_dict()))["split"] == "given queries"
    assert "suggest" in tuned.to_text()


def test_tune_picks_the_highest_coverage_at_the_target_precision() -> None:
    tuned = tune(FAKE, QUERIES, target_precision=1.0, confidence_z=0.0)
    assert tuned.reachable
    assert (tuned.answer_threshold, tuned.margin) == (0.9, 0.0)
    assert tuned.answer_precision == 1.0
    assert tuned.coverage == pytest.approx(1 / 5)
    # suggest: 95% of the 3 useful top-3 lists (scores 0.9, 0.8, 0.4) must be kept
    assert tuned.suggest_threshold == pytest.approx(0.4)
    assert tuned.suggest_recall_at_3 == pytest.approx(1.0)
    assert tuned.suggest_oos_rejection == pytest.approx(1 / 2)


def test_tune_weights_rare_out_of_scope_queries_up() -> None:
    queries = [_query(f"in{i}", "en", "a") for i in range(9)] + [_query("out", "en")]
    fake = FakeMatcher({q.text: [("a", 0.8 if q.text == "out" else 0.9)] for q in queries})
    results = run(fake, queries)
    as_is = tune_results(results, 0.9, "dev", min_oos_share=0.0, confidence_z=0.0)
    assert (as_is.answer_threshold, as_is.coverage) == (0.8, 1.0)
    weighted = tune_results(results, 0.9, "dev", min_oos_share=0.5, confidence_z=0.0)
    assert (weighted.answer_threshold, weighted.coverage) == (0.9, 0.9)


def test_tune_asks_for_confidence_in_the_precision() -> None:
    # 19 right answers scored 0.9, then 1 wrong at 0.8: precision 0.95 when answering all
    queries = [_query(f"in{i}", "en", "a") for i in range(20)]
    fake = FakeMatcher(
        {q.text: [("a" if q.text != "in19" else "b", 0.8 if q.text == "in19" else 0.9)] for q in queries}
    )
    results = run(fake, queries)
    assert tune_results(results, 0.95, "dev", confidence_z=0.0).coverage == 1.0
    # with z=1 the Wilson lower bound of 19/19 is 0.95, that of 19/20 only 0.876
    confident = tune_results(results, 0.94, "dev", confidence_z=1.0)
    assert (confident.answer_threshold, confident.coverage) == (0.9, 0.95)


def test_tune_reports_an_unreachable_target() -> None:
    tuned = tune(FakeMatcher({"q4": [("a", 0.6)]}), [_query("q4", "es")])
    assert not tuned.reachable
    assert "not reachable" in tuned.to_text()


# --- loading -----------------------------------------------------------------------------------


def _write(path: Path, rows: Sequence[object]) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


FAQ_ROWS = [
    {"id": "x", "question": "What is an NDC?", "answer": "", "paraphrases": ["define NDC"], "lang": "en"},
    {"id": "y", "question": "¿Qué es un BTR?", "answer": "Un informe.", "paraphrases": [], "lang": "es"},
]
QUERY_ROWS = [
    {"id": "1", "text": "NDC meaning", "lang": "en", "relevant": ["x"]},
    {"id": "2", "text": "pizza", "lang": "en", "relevant": []},
]


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "faq.jsonl", FAQ_ROWS)
    _write(tmp_path / "queries.jsonl", QUERY_ROWS)
    return tmp_path


def test_load_eval_dir(eval_dir: Path) -> None:
    data = load_eval_dir(eval_dir)
    assert [e.id for e in data.entries] == ["x", "y"]
    assert data.entries[0].phrasings == ("define NDC",)
    assert data.entries[1].lang == "es"
    assert data.entries[0].origin.endswith("faq.jsonl:1")
    assert [q.in_scope for q in data.queries] == [True, False]
    assert data.dev_queries == ()
    _write(eval_dir / "dev_queries.jsonl", QUERY_ROWS[:1])
    assert len(load_eval_dir(eval_dir).dev_queries) == 1


@pytest.mark.parametrize(
    ("file", "rows", "message"),
    [
        ("faq.jsonl", [FAQ_ROWS[0], "{not json"], "faq.jsonl:2: invalid JSON"),
        ("faq.jsonl", [FAQ_ROWS[0], "[1, 2]"], "faq.jsonl:2: expected a JSON object"),
        ("faq.jsonl", [{"id": "x", "lang": "en"}], "faq.jsonl:1: missing field 'question'"),
        ("faq.jsonl", [{**FAQ_ROWS[0], "paraphrases": "oops"}], "faq.jsonl:1: field 'paraphrases' must be list"),
        ("faq.jsonl", [FAQ_ROWS[0], FAQ_ROWS[0]], "faq.jsonl:2: duplicate id 'x'"),
        ("queries.jsonl", [QUERY_ROWS[0], {**QUERY_ROWS[1], "relevant": ["nope"]}], "queries.jsonl:2: relevant id"),
        ("queries.jsonl", [{"id": "1", "text": "t", "lang": "en"}], "queries.jsonl:1: missing field 'relevant'"),
        ("queries.jsonl", [{**QUERY_ROWS[0], "text": 3}], "queries.jsonl:1: field 'text' must be str"),
        ("dev_queries.jsonl", ["", "{"], "dev_queries.jsonl:2: invalid JSON"),
    ],
)
def test_load_errors_name_file_and_line(eval_dir: Path, file: str, rows: list[object], message: str) -> None:
    _write(eval_dir / file, rows)
    with pytest.raises(EvalDataError, match=message):
        load_eval_dir(eval_dir)


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="not a directory"):
        load_eval_dir(tmp_path / "nowhere")
    with pytest.raises(EvalDataError, match=r"faq\.jsonl: file not found"):
        load_eval_dir(tmp_path)
    _write(tmp_path / "faq.jsonl", FAQ_ROWS)
    with pytest.raises(EvalDataError, match=r"queries\.jsonl: file not found"):
        load_eval_dir(tmp_path)
    _write(tmp_path / "queries.jsonl", [])
    with pytest.raises(EvalDataError, match="no queries"):
        load_eval_dir(tmp_path)


# --- the shared benchmarks ---------------------------------------------------------------------


def _benchmark(name: str) -> Path:
    path = SHARED / "benchmarks" / "faq" / name
    if not path.is_dir():
        if os.environ.get("HELPDESK_REQUIRE_SHARED") == "1":
            pytest.fail(f"{path} is missing and HELPDESK_REQUIRE_SHARED=1")
        pytest.skip(f"benchmark data not found at {path} (../shared is absent)")
    return path


# BM25 baselines from each set's README: (P@1, MRR@10).
@pytest.mark.parametrize(("name", "p_at_1", "mrr"), [("clinc150", 0.857, 0.908), ("xquad-es-en", 0.210, 0.299)])
def test_matcher_beats_the_bm25_baseline(name: str, p_at_1: float, mrr: float) -> None:
    data = load_eval_dir(_benchmark(name))
    report = evaluate(Matcher(data.entries), data.queries, answer_threshold=0.5)
    assert report.overall.p_at_1 > p_at_1
    assert report.overall.mrr_at_10 > mrr


SHIPPED = load_config().matcher


@pytest.mark.parametrize(("name", "coverage"), [("clinc150", 0.60), ("xquad-es-en", 0.40)])
def test_shipped_thresholds_answer_with_precision_on_the_shared_sets(name: str, coverage: float) -> None:
    data = load_eval_dir(_benchmark(name))
    report = evaluate(Matcher(data.entries), data.queries, SHIPPED.answer, SHIPPED.margin, SHIPPED.suggest)
    assert report.overall.answer_precision is not None and report.overall.answer_precision >= 0.95
    assert report.overall.coverage >= coverage


def test_shipped_thresholds_stay_honest_on_near_misses_of_the_bots_own_kb() -> None:
    data = load_eval_dir(ROOT / "kb" / "eval" / "near_miss", load_kb_dir(ROOT / "kb" / "content").entries)
    matcher = Matcher(data.entries)
    held_out = evaluate(matcher, data.queries, SHIPPED.answer, SHIPPED.margin).overall
    assert held_out.oos_rejection == 1.0 and held_out.answer_precision == 1.0 and held_out.coverage > 0.3
    looked_at = evaluate(matcher, data.dev_queries, SHIPPED.answer, SHIPPED.margin).overall
    assert looked_at.oos_rejection is not None and looked_at.oos_rejection >= 0.95


def test_kb_eval_reports_how_often_suggestions_hold_the_right_entry() -> None:
    results = run(FAKE, QUERIES)
    # nothing answered; q1-q4 get lists; buttons are the candidates >= 0.175: q1 a,b (hit), q2 a,b (hit),
    # q3 a,b (c at 0.1 is not shown: miss), q4 out of scope (miss)
    m = metrics(results, threshold=0.99, suggest=0.35)
    assert (m.suggested, m.suggest_hit) == (0.8, 0.5)
    assert metrics(results, threshold=0.99).suggested is None
