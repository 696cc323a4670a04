"""The conversation's states are declared in one table, the docs draw that table, and the code uses it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.core.conversation import TRANSITIONS, Waiting, diagram
from handlers import build_router

ROOT = Path(__file__).resolve().parents[1]


def test_every_state_but_idle_has_one_row_in_the_table() -> None:
    assert [t.state for t in TRANSITIONS] == [s for s in Waiting if s is not Waiting.NOTHING]


def test_the_architecture_doc_draws_the_table() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawn = re.search(r"```mermaid\n(.*?)\n```", doc, re.S)
    assert drawn is not None and drawn.group(1) == diagram()
    for t in TRANSITIONS:
        assert f"| `{t.state.value}` | {t.who} | {t.entered_by} | {t.expects} | {t.ended_by} |" in doc


def test_handlers_register_free_text_handlers_only_for_declared_states() -> None:
    router = build_router()
    assert set(router.states) <= {t.state for t in TRANSITIONS}


def test_no_handler_names_a_state_by_its_string() -> None:
    names = "|".join(s.value for s in Waiting if s.value)
    for path in (*(ROOT / "handlers").glob("*.py"), ROOT / "bot" / "core" / "tickets.py"):
        code = path.read_text(encoding="utf-8")
        assert not re.search(rf"(expect|state)\((\"|')({names})\2", code), path
        assert not re.search(r"conversation\.state [!=]= (\"|')", code), path
