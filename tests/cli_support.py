"""The `helpdesk` command line on a test desk's database, from async tests."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from bot.cli import main
from bot.settings import Settings


def use_database(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the command line at the desk's database and the shipped configuration."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)


async def helpdesk(*args: str) -> str:
    """Run `helpdesk ARGS` (in a thread: it runs its own event loop); its output, after asserting it succeeded."""
    done = await asyncio.to_thread(CliRunner().invoke, main.app, list(args))
    assert done.exit_code == 0, done.output
    return done.output
