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
    "Que contient un rapport biennal de transparence ?",  # French in the console: the French entry, in French
    "Which wind curtailment compensation rules suit a mini-grid tariff in our province?",
    "/as expert:amina",
    "/claim 1",
    "What is the installed capacity of the mini-grid?",
    "/as practitioner",
    "About 5 MW, diesel backup",
    "/as expert:amina",
    "/resolve 1 Use a deemed-energy compensation clause in the PPA.",
    "/as practitioner:pat",  # back to the practitioner: the stars wait for her
    "4",
    "Très utile, merci",
    "Merci !",  # thanks, not a question (and no buttons under the reply)
    "4",  # a number with no choices waiting: a hint on how to ask, in her language
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
    assert "Now at the keyboard: amina (expert)." in text and "You are now" not in text
    assert "Ticket #1 is yours" in text
    assert "Ticket #1 — Amina:\nWhat is the installed capacity" in text
    assert "Pat wrote:\nAbout 5 MW" in text
    assert "is resolved:\nUse a deemed-energy compensation clause" in text
    assert "From: Pat" in text and "From: You" not in text
    resolved = text.index("is resolved:")
    assert "(★ · ★★ · ★★★ · ★★★★ · ★★★★★ · Reopen: for pat, after /as practitioner:pat)" in text[resolved:]
    waiting = text.rindex("Now at the keyboard: pat (practitioner).")
    assert "[4] ★★★★" in text[waiting:] and "(the choices above are waiting for you: type a number)" in text
    assert "Thank you for rating the answer 4/5." in text[waiting:]
    assert "Merci pour votre commentaire." in text[waiting:]  # the comment was in French: so is the reply
    assert "Source :" in text[:resolved] and "Les rapports biennaux de transparence" in text[:resolved]
    assert "Bonjour ! Écrivez votre question" in text[waiting:]  # "Merci !"
    assert "Un nombre seul n'est pas une question" in text[waiting:]
