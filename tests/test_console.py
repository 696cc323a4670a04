"""`helpdesk console`: a whole exchange typed at the terminal, roles switched with /as, buttons by number."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli.main import app as cli

KB = Path(__file__).resolve().parents[1] / "kb" / "content"
SCRIPT = [
    "What does a Biennial Transparency Report contain?",
    "1",  # "This helped", numbered first although the profile offer came after it
    "Which wind curtailment compensation rules suit a mini-grid tariff in our province?",
    "/as expert:amina",
    "/claim 1",
    "What is the installed capacity of the mini-grid?",
    "/as practitioner",
    "About 5 MW, diesel backup",
    "/as expert:amina",
    "/resolve 1 Use a deemed-energy compensation clause in the PPA.",
    "/quit",
]


def test_console_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "LOG_LEVEL": "WARNING",
           "HELPDESK_HTTP_PORT": "1"}  # a port that cannot be bound: the console goes on without the web pages
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(cli, ["kb", "import", str(KB)], env=env).exit_code == 0
    lines = iter(SCRIPT)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    out = io.StringIO()
    monkeypatch.setattr("bot.channels.console.Console", lambda **kw: Console(file=out, width=200, **kw))
    monkeypatch.setattr("bot.cli.console_chat.console", Console(file=out, width=200))
    result = runner.invoke(cli, ["console"], env=env)
    text = out.getvalue()
    assert result.exit_code == 0, result.output + text
    assert "Source: https://unfccc.int" in text
    assert "Thank you! Glad it helped." in text
    assert "ticket #1 in the ENERGY queue" in text
    assert "── ENERGY queue ──" in text and "Status: unclaimed" in text
    assert "You are now amina (expert)." in text
    assert "Ticket #1 is yours" in text
    assert "Ticket #1 — Amina:\nWhat is the installed capacity" in text
    assert "You wrote:\nAbout 5 MW" in text
    assert "is resolved:\nUse a deemed-energy compensation clause" in text
