"""Abuse controls: floods, too many open tickets, the blocklist."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.db.models import Message, Ticket, table
from tests.desk import Desk


async def scalar(desk: Desk, query: object) -> int:
    async with desk.app.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())  # type: ignore[call-overload]


async def test_a_flood_gets_one_notice_then_is_stored_but_not_processed(desk: Desk) -> None:
    mallory = desk.practitioner("mallory", lang="en")
    for n in range(30):
        await mallory.says(f"hello {n}")
    notices = [p for p in mallory.posts if "slow down" in p.text]
    assert len(notices) == 1
    m = table(Message)
    assert await scalar(desk, select(func.count()).select_from(m)) == 30
    assert await scalar(desk, select(func.count()).select_from(m).where(m.c.status == "throttled")) == 10
    await desk.advance(timedelta(minutes=2))
    await mallory.says("hello")
    mallory.sees("Type your question")


async def test_too_many_open_tickets(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    for n in range(6):
        await alice.says("/new")
        await alice.says(f"Advice on solar irrigation pumping tariffs for remote farms, variant {n}")
    alice.sees("already have 5 open questions")
    assert await scalar(desk, select(func.count()).select_from(table(Ticket))) == 5


async def test_secretariat_blocks_and_unblocks(desk: Desk) -> None:
    sam = await desk.staff("sam", role="secretariat")
    spam = desk.practitioner("spam", lang="en")
    await spam.says("We need advice on solar irrigation pumping tariffs for remote farms")
    await sam.says("/block 1")
    sam.sees("blocked")
    await spam.says("/help")
    spam.sees_nothing()
    await sam.says("/unblock #1")
    await spam.says("/help")
    spam.sees("/mytickets")
    await sam.says("/block @nobody")
    sam.sees("found nobody")


async def test_staff_are_not_throttled(desk: Desk) -> None:
    amina = await desk.staff("amina")
    for _ in range(30):
        await amina.says("/queue")
        amina.sees("unclaimed")
