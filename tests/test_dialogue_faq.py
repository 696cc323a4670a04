"""Transcripts of the practitioner's first contact: FAQ answers, suggestions, tickets, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.settings import Settings
from tests.desk import Desk, start_desk


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings)
    yield d
    await d.app.stop()


async def test_greeting_gets_help_not_a_ticket(desk: Desk) -> None:
    alice = desk.practitioner("alice")
    await alice.says("hello")
    alice.sees("Type your question")
    assert not desk.queue("STRATEGY").posts


async def test_unknown_question_becomes_ticket_in_energy(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says("Our ministry wants a solar tariff for rural mini-grid operators in the north, any advice?")
    print(alice.replies_text())
