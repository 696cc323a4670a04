"""Hostile bytes at the terminal: invalid UTF-8 and NUL are stored replaced, escape sequences are written out."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from typer.testing import CliRunner

from bot.channels.console import ConsoleChannel
from bot.cli.main import app as cli
from bot.core.messages import Attachment, Button, IncomingMessage, OutgoingMessage, clean_incoming
from bot.core.pipeline import Pipeline
from bot.db.models import Message, table
from bot.logging_setup import configure_logging
from bot.settings import Settings
from bot.terminal import SafeConsole, terminal_safe
from tests.desk import Desk, start_desk

HELPDESK = Path(sys.executable).with_name("helpdesk")
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31mfake prompt\r\x9b"


@pytest.fixture
async def desk(any_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(any_settings)
    yield d
    await d.app.stop()


def test_invalid_utf8_piped_into_the_console_is_stored_replaced(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "LOG_LEVEL": "WARNING",
           "HELPDESK_HTTP_PORT": "1", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"}
    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    done = subprocess.run([str(HELPDESK), "console"], input=b"hello \xff there\n", env=env, cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    with sqlite3.connect(db) as conn:
        assert ("hello \ufffd there",) in conn.execute("select text from message where direction = 'in'").fetchall()


async def test_undecodable_text_and_nul_from_any_channel_are_stored_replaced(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    outcome = await alice.says("hello \udcff there\x00, about solar pumps")
    assert not outcome.failed and alice.replies()
    async with desk.app.engine.connect() as conn:
        stored = (await conn.execute(select(table(Message).c.text).where(
            table(Message).c.id == outcome.message_id))).scalar()
    assert stored == "hello \ufffd there\ufffd, about solar pumps"


def test_clean_incoming_keeps_clean_messages_as_they_are() -> None:
    clean = IncomingMessage("web", "e1", "u", "c", text="ça va ✓\n\tok")
    assert clean_incoming(clean) is clean
    dirty = IncomingMessage("web", "e2", "u", "c", attachments=(Attachment("document", "f", name="a\udcffb.pdf"),))
    assert clean_incoming(dirty).attachments[0].name == "a\ufffdb.pdf"


async def test_a_failure_while_storing_a_failure_is_logged_and_reaches_the_sender(
        desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(Pipeline, "_transaction", broken)
    monkeypatch.setattr(Pipeline, "_store_failed", broken)
    with pytest.raises(RuntimeError, match="on fire"):  # webhooks answer 500 and their platform sends it again
        await desk.practitioner("bob").says("hello")
    assert any("could not be stored as failed either" in r.getMessage() for r in caplog.records)


def test_the_console_goes_on_when_a_message_cannot_be_handled(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "LOG_LEVEL": "CRITICAL",
           "HELPDESK_HTTP_PORT": "1"}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    lines = iter(["hello", "/as secretariat", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))

    async def broken(self: object, msg: IncomingMessage) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("bot.app.HelpDesk.submit", broken)
    out = io.StringIO()
    monkeypatch.setattr("bot.cli.console_chat.console", Console(file=out, width=200))
    result = runner.invoke(cli, ["console"], env=env)
    assert result.exit_code == 0, result.output
    assert "not sent: database on fire" in out.getvalue() and "Now at the keyboard: sam" in out.getvalue()


def raw_sequences(text: str) -> list[str]:
    """The hostile sequences that reached the output unescaped."""
    return [s for s in ("\x1b]", "\x07", "\x1b[2J", "\x1b[31m", "\r", "\x9b") if s in text]


async def test_escape_sequences_from_a_message_are_written_out_by_the_console_channel() -> None:
    out = io.StringIO()
    channel = ConsoleChannel(Console(file=out, force_terminal=True, width=200, highlight=False))
    await channel.send(OutgoingMessage(1, "console", f"queue:EN{HOSTILE}", f"Ticket #1 from web: {HOSTILE}",
                                       (Button(f"Claim{HOSTILE}", "a"),)))
    shown = out.getvalue()
    assert raw_sequences(shown) == []
    assert "\\x1b]0;owned\\x07\\x1b[2J" in shown and "fake prompt" in shown


def test_cli_tables_and_text_logs_write_control_characters_out(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    table = Table("question")
    table.add_row(f"tariffs {HOSTILE}")
    console = SafeConsole(file=out, force_terminal=True, width=200, highlight=False)
    console.print(table)
    console.print(f"[bold]draft[/bold] {HOSTILE}\n\tnext line")
    assert raw_sequences(out.getvalue()) == [] and "\\x1b[2J" in out.getvalue()
    assert "\n        next line" in out.getvalue()  # newline and tab stay (rich expands the tab)

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(log_format="text", _env_file=None))  # type: ignore[call-arg]
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("bot.test").warning("message from %s\nsecond line", HOSTILE)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert raw_sequences(stream.getvalue()) == [] and "\nsecond line" in stream.getvalue()
    assert terminal_safe("a\tb\nc\x00") == "a\tb\nc\\x00"


@pytest.mark.parametrize("args", [["report", "sla", "--since", "0001-01-01"],
                                  ["report", "sla", "--until", "9999-12-31"],
                                  ["kb", "approve", "9" * 25], ["kb", "reject", "0"]])
def test_out_of_range_command_arguments_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2 and "Invalid value" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
