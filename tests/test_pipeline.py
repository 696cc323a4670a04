"""The message path: nothing is lost when a handler fails, and batches keep each chat in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.core.context import Context
from bot.core.messages import Attachment, IncomingMessage
from bot.db.models import Message, Outbox, StoredFile, table
from bot.settings import Settings
from tests.desk import Desk, start_desk


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings, with_kb=True)
    yield d
    await d.app.stop()


def msg(n: int, text: str, user: str = "u1") -> IncomingMessage:
    return IncomingMessage(channel="telegram", external_id=f"x{n}", user_id=user, chat_id=f"dm-{user}", text=text,
                           language="en")


async def explode_on_boom(ctx: Context) -> bool:
    """A guard with a bug: any message saying "boom" makes it raise."""
    if "boom" in ctx.msg.text:
        raise RuntimeError("handler bug")
    return False


async def test_a_failing_handler_still_stores_the_message_and_apologises(desk: Desk) -> None:
    desk.app.router.guards.insert(0, explode_on_boom)
    outcomes = await asyncio.gather(*(desk.app.submit(msg(i, "boom" if i == 3 else "hello")) for i in range(6)))
    await desk.settle()
    assert [o.failed for o in outcomes] == [False, False, False, True, False, False]
    async with desk.app.engine.connect() as conn:
        rows = {r.external_id: r.status for r in await conn.execute(select(table(Message)))}
    assert rows == {f"x{i}": ("failed" if i == 3 else "done") for i in range(6)}
    sent = [p.text for p in desk.channel("telegram").posts["dm-u1"]]
    assert sum("something went wrong" in t for t in sent) == 1
    assert len(sent) == 6


async def test_a_burst_from_many_chats_is_handled_once_each_in_order(desk: Desk) -> None:
    messages = [msg(i, "hello", user=f"u{i % 7}") for i in range(70)]
    outcomes = await asyncio.gather(*(desk.app.submit(m) for m in messages))
    assert not any(o.duplicate or o.failed for o in outcomes)
    again = await asyncio.gather(*(desk.app.submit(m) for m in messages[:10]))
    assert all(o.duplicate for o in again)
    await desk.settle()
    async with desk.app.engine.connect() as conn:
        rows = list(await conn.execute(select(table(Outbox).c.chat_id, table(Outbox).c.status)))
    assert len(rows) == 70 and {r.status for r in rows} == {"sent"}
    delivered = desk.channel("telegram").posts
    assert sorted(delivered) == sorted(f"dm-u{i}" for i in range(7))
    assert all(len(posts) == 10 for posts in delivered.values())


async def test_a_web_upload_is_described_in_the_transaction_that_stores_its_message(desk: Desk) -> None:
    desk.app.router.guards.insert(0, explode_on_boom)
    plan = Attachment("document", "f-plan", "plan.pdf", 2048, "application/pdf", "web", "/files/f-plan", "ab" * 32)
    sheet = Attachment("document", "f-sheet", "data.csv", 10, "text/csv", "web", "/files/f-sheet", "cd" * 32)
    first = await desk.app.submit(IncomingMessage(channel="web", external_id="w1", user_id="v1", chat_id="v1",
                                                  text="see the plan", attachments=(plan,)))
    failed = await desk.app.submit(IncomingMessage(channel="web", external_id="w2", user_id="v1", chat_id="v1",
                                                   text="boom", attachments=(sheet,)))
    f = table(StoredFile)
    async with desk.app.engine.connect() as conn:  # submit() returned: the message and its file row are committed
        rows = {r.id: r.message_id for r in await conn.execute(select(f.c.id, f.c.message_id))}
    assert failed.failed and rows == {"f-plan": first.message_id, "f-sheet": failed.message_id}


async def test_people_answered_by_one_commit_write_again_in_one_batch(desk: Desk) -> None:
    """Two groups of people who each write again as soon as they are answered: the second group starts
    while the first one's batch runs, and from then on they travel in one batch instead of queueing
    behind each other in two."""
    numbers = iter(range(10_000))

    async def person(user: str) -> None:
        for _ in range(6):
            await desk.app.submit(msg(next(numbers), "hello", user=user))

    first = [asyncio.create_task(person(f"u{i}")) for i in range(8)]
    await asyncio.sleep(0.002)  # the first group's batch is under way
    await asyncio.gather(*first, *(person(f"v{i}") for i in range(8)))
    registry = desk.app.instruments.registry
    assert registry.get_sample_value("helpdesk_batch_messages_sum") == 96
    assert registry.get_sample_value("helpdesk_batch_messages_count") <= 8
