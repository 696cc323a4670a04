"""Two help desks on one PostgreSQL database: every message handled once, every reply sent once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.app import build_app
from bot.core.messages import IncomingMessage
from bot.db import migrate
from bot.db.models import Outbox, Ticket, table
from bot.settings import Settings
from tests.channels_support import ENERGY_QUESTION
from tests.desk import start_desk


def message(n: int, text: str = "hello") -> IncomingMessage:
    return IncomingMessage(channel="telegram", external_id=f"r{n}", user_id=f"p{n % 40}", chat_id=f"c{n % 40}",
                           text=text, language="en")


async def test_two_replicas_share_the_work_without_doubles(pg_settings: Settings) -> None:
    one = await start_desk(pg_settings)
    two = await start_desk(pg_settings, with_kb=False)  # same schema: the KB is already there
    try:
        # Both replicas receive every delivery (e.g. a webhook retried to the other replica).
        msgs = [message(n) for n in range(200)]
        await asyncio.gather(*(desk.app.submit(m) for m in msgs for desk in (one, two)))
        await asyncio.gather(one.settle(), two.settle())
        delivered = [p for desk in (one, two) for posts in desk.channel("telegram").posts.values() for p in posts]
        assert len(delivered) == 200  # one reply per message, whichever replica sent it
        async with one.app.engine.connect() as conn:
            o = table(Outbox)
            assert (await conn.execute(select(func.count()).select_from(o).where(o.c.status == "sent"))).scalar() == 200
        # Claims stay atomic across replicas.
        alice = one.practitioner("alice", lang="en")
        await alice.says(ENERGY_QUESTION)
        alice.sees("ticket #1")
        amina_1, amina_2 = await one.staff("amina"), await two.staff("lucas")
        await asyncio.gather(amina_1.says("/claim 1"), amina_2.says("/claim 1"))
        async with one.app.engine.connect() as conn:
            assert (await conn.execute(select(table(Ticket).c.assignee_id))).scalar() is not None
        refused = [a for a in (amina_1, amina_2) if any("already claimed" in p.text for p in a.posts)]
        assert len(refused) == 1
    finally:
        await one.app.stop()
        await two.app.stop()


async def test_restart_mid_conversation_keeps_the_dialogue(sqlite_settings: Settings) -> None:
    first = await start_desk(sqlite_settings)
    zoe = first.practitioner("zoe", lang="en")
    await zoe.says("/profile")
    zoe.sees("Which country")
    await first.app.stop()  # graceful: in-flight messages finish, state is in the database

    second = await start_desk(sqlite_settings, with_kb=False)
    try:
        zoe = second.practitioner("zoe", lang="en")
        await zoe.says("Kenya")
        zoe.sees("Which institution")
    finally:
        await second.app.stop()


async def test_replicas_starting_at_once_on_a_new_database_agree_on_everything(pg_settings: Settings) -> None:
    one, two = build_app(pg_settings, channels={}), build_app(pg_settings, channels={})
    await migrate.upgrade(one.engine)
    try:
        await asyncio.gather(one.start(drain=False), two.start(drain=False))  # both insert queues and the key
        assert one.secret_key == two.secret_key  # a button signed by one replica verifies on the other
    finally:
        await one.stop()
        await two.stop()
