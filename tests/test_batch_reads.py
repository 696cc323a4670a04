"""Tickets read once for a whole batch: one query for all its staff commands (or practitioners' replies), and
what an earlier message of the batch changed, a later one sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core import tickets
from bot.settings import Settings
from tests.desk import Actor, Desk, start_desk

PUMPS = "We need advice on solar irrigation pumping tariffs for remote farms"
GRID = "Which grid code rules apply to connecting a 2 MW solar plant to the distribution network?"


@pytest.fixture
async def desk(any_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(any_settings)
    yield d
    await d.app.stop()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[set[Any]]:
    """Each read of staff views: the (ticket, staff member) pairs asked for."""
    asked: list[set[Any]] = []
    read = tickets._read_staff_views

    async def spy(conn: Any, batch_reads: Any, wanted: set[Any]) -> None:
        asked.append(set(wanted))
        await read(conn, batch_reads, wanted)

    monkeypatch.setattr(tickets, "_read_staff_views", spy)
    return asked


async def test_two_claims_of_one_ticket_in_one_batch_the_second_sees_the_first(desk: Desk,
                                                                              reads: list[set[Any]]) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina, lucas = await desk.staff("amina"), await desk.staff("lucas")
    await alice.says(PUMPS)
    desk.queue("ENERGY").sees_new_ticket(from_="Alice")

    await asyncio.gather(amina.says("/claim 1"), lucas.says("/claim 1"))  # handed in together: one batch

    amina.sees("Ticket #1 is yours")
    lucas.sees("already claimed by Amina")
    assert [len(pairs) for pairs in reads] == [2, 1]  # both read at once; Lucas's again after Amina's claim


async def _two_tickets_claimed_by_amina(desk: Desk) -> tuple[Actor, Actor, Actor]:
    """Alice asks about pumps (#1), Bob about the grid (#2); Amina claims both."""
    alice, bob = desk.practitioner("alice", lang="en"), desk.practitioner("bob", lang="en")
    amina = await desk.staff("amina")
    await alice.says(PUMPS)
    await bob.says(GRID)
    await amina.says("/claim 1")
    await amina.says("/claim 2")
    return alice, bob, amina


async def test_replies_of_practitioners_in_one_batch_reach_their_own_tickets(desk: Desk) -> None:
    alice, bob, amina = await _two_tickets_claimed_by_amina(desk)

    await asyncio.gather(alice.says("Our pumps are 5 kW each."), bob.says("The feeder is 11 kV."))

    amina.sees("Alice wrote", "5 kW")
    amina.sees("Bob wrote", "11 kV")
    assert not any("5 kW" in p.text and "Bob" in p.text for p in amina.posts)


async def test_a_message_after_its_ticket_was_resolved_in_the_same_batch_is_not_relayed_to_it(desk: Desk) -> None:
    alice, bob, amina = await _two_tickets_claimed_by_amina(desk)

    await asyncio.gather(amina.says("/resolve 1 Block tariff with prepaid meters."),
                         alice.says("One more thing: the pumps run six hours a day."),
                         bob.says("The feeder is 11 kV."))

    alice.sees("I found nothing about this in our FAQ")  # as when sent after the batch: a new question
    amina.sees("Bob wrote", "11 kV")
    assert not any("six hours" in p.text for p in amina.posts)


async def test_two_resolves_in_one_batch_post_two_drafts_each_with_its_own_number(desk: Desk) -> None:
    _, _, amina = await _two_tickets_claimed_by_amina(desk)

    await asyncio.gather(amina.says("/resolve 1 Block tariff with prepaid meters."),  # one batch: one insert
                         amina.says("/resolve 2 Follow the distribution grid code, annex B."))

    posts = desk.channel("console").posts["secretariat"]
    drafts = {p.text.split(":")[0]: p for p in posts if p.text.startswith("FAQ draft")}
    assert set(drafts) == {"FAQ draft #1 from ticket #1 (ENERGY, en)", "FAQ draft #2 from ticket #2 (ENERGY, en)"}
    assert "Block tariff" in drafts["FAQ draft #1 from ticket #1 (ENERGY, en)"].text
    assert "annex B" in drafts["FAQ draft #2 from ticket #2 (ENERGY, en)"].text
    assert all([label for label, _ in p.buttons] == ["Approve", "Reject"] for p in drafts.values())
