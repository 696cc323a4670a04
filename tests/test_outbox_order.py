"""Per-chat order under pacing, two replicas and a replica that dies, and the take-over of a dead replica's
rows: drainers over real time on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

from bot.channels.pacing import Budget, Pacer
from bot.clock import SystemClock
from bot.core.messages import OutgoingMessage
from bot.core.outbox import OutboxDrainer, RetryLater
from bot.db import migrate
from bot.db.engine import create_engine
from bot.db.models import Outbox, table
from bot.settings import Settings

O = table(Outbox)  # noqa: E741
CHATS = 12
PER_CHAT = 8


class PacedChannel:
    """Paces each chat like the Telegram adapter (one post, then 4 a second) and records deliveries."""

    name = "paced"

    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log
        self.pacer = Pacer(Budget(1, 4), Budget(1, 4), Budget(1000, 1000))

    async def send(self, message: OutgoingMessage) -> str | None:
        wait = self.pacer.chat_wait(message.chat_id, False)
        if wait > 0:
            raise RetryLater(wait, "pacing this chat", rate_limited=True)
        await self.pacer.take(message.chat_id, False)
        await asyncio.sleep(0.002)
        for line in message.text.split("\n\n"):  # a merged backlog carries several rows
            self.log.append((message.chat_id, int(line)))
        return f"ext-{message.outbox_id}"


async def write_replies(drainer: OutboxDrainer, engine: Any, chat: str, seq: int) -> None:
    """What the message path does: lease the new row to its drainer, insert, commit, hand over."""
    now = SystemClock().now()
    rows = [{"channel": "paced", "chat_id": chat, "person_id": None, "ticket_id": None, "kind": "send", "ref": None,
             "thread_ref": None, "text": str(seq), "buttons": None, "attachments": None, "status": "pending",
             "attempts": 0, "next_attempt_at": now, "created_at": now}]
    drainer.lease(rows)
    async with engine.begin() as conn:
        ids = (await conn.execute(O.insert().returning(O.c.id, sort_by_parameter_order=True), rows)).scalars()
        for row, outbox_id in zip(rows, ids, strict=True):
            row["id"] = outbox_id
    drainer.hand_over(rows)


def out_of_order(log: list[tuple[str, int]]) -> int:
    """Rows delivered (the first time) after a later row of their chat."""
    seen: dict[str, int] = defaultdict(lambda: -1)
    firsts: set[tuple[str, int]] = set()
    late = 0
    for chat, seq in log:
        if (chat, seq) in firsts:
            continue
        firsts.add((chat, seq))
        late += seq < seen[chat]
        seen[chat] = max(seen[chat], seq)
    return late


async def kill(drainer: OutboxDrainer) -> None:
    """The drainer's process dies: its loop and heartbeat stop at once, nothing more is sent or recorded."""
    for task in (drainer._task, drainer._beating):
        assert task is not None
        while not task.done():  # a cancel can be swallowed by a wait that finished at the same moment
            task.cancel()
            await asyncio.wait([task], timeout=0.01)


async def run_replicas(settings: Settings, script: list[tuple[int, str, float]]) -> tuple[list[tuple[str, int]], int]:
    """Two drainers on their own engines write rows as scripted: (replica, chat, pause after), replica -1
    killing the first one (its rows handed over but unsent stay leased to it). Returns the deliveries."""
    engines = [create_engine(settings.database_url, schema=settings.database_schema) for _ in range(2)]
    await migrate.upgrade(engines[0])
    log: list[tuple[str, int]] = []
    drainers = [OutboxDrainer(e, {"paced": PacedChannel(log)}, SystemClock(), lease=timedelta(seconds=3))
                for e in engines]
    for d in drainers:
        await d.start()
    counts: dict[str, int] = defaultdict(int)
    try:
        for replica, chat, pause in script:
            if replica < 0:
                await kill(drainers[0])
                continue
            await write_replies(drainers[replica], engines[replica], chat, counts[chat])
            counts[chat] += 1
            await asyncio.sleep(pause)
        written = sum(counts.values())
        for _ in range(300):
            if len(set(log)) >= written:
                break
            await asyncio.sleep(0.05)
    finally:
        await drainers[1].stop()
        if drainers[0]._task is not None and not drainers[0]._task.done():
            await drainers[0].stop()
        for e in engines:
            await e.dispose()
    return log, written


def random_traffic(rng: random.Random, replicas: list[int], n: int) -> list[tuple[int, str, float]]:
    """n rows into CHATS chats at random, from random replicas."""
    return [(rng.choice(replicas), f"chat{rng.randrange(CHATS)}", rng.choice((0, 0.005, 0.02))) for _ in range(n)]


# A chat's second row waits for pacing on replica 0 when its third comes through replica 1.
PACED_THEN_OTHER_REPLICA = [(0, "x", 0.05), (0, "x", 0.05), (1, "x", 0.05)]


async def test_two_replicas_deliver_every_chat_in_the_order_it_was_written(pg_settings: Settings) -> None:
    script = PACED_THEN_OTHER_REPLICA + random_traffic(random.Random(7), [0, 1], CHATS * PER_CHAT)
    log, written = await run_replicas(pg_settings, script)
    assert len(set(log)) == written and len(log) == written  # all delivered, none twice
    assert out_of_order(log) == 0


async def test_a_replica_that_dies_leaves_every_chat_in_order(pg_settings: Settings) -> None:
    rng = random.Random(8)
    script = [*random_traffic(rng, [0, 1], CHATS * PER_CHAT // 2),
              (0, "y", 0), (-1, "", 0), (1, "y", 0.01), (1, "y", 0),  # "y" 0 is leased to the dead replica
              *random_traffic(rng, [1], CHATS * PER_CHAT // 2)]
    log, written = await run_replicas(pg_settings, script)
    assert len(set(log)) == written  # nothing lost (a row in flight at the kill may come twice)
    assert out_of_order(log) == 0
    assert [seq for chat, seq in log if chat == "y"] == [0, 1, 2]


async def test_rows_of_a_killed_instance_are_taken_back_within_seconds_not_after_the_lease(
        pg_settings: Settings) -> None:
    engine = create_engine(pg_settings.database_url, schema=pg_settings.database_schema)
    await migrate.upgrade(engine)
    log: list[tuple[str, int]] = []
    dead = OutboxDrainer(engine, {"paced": PacedChannel(log)}, SystemClock(), lease=timedelta(seconds=60))
    await dead.start()
    await kill(dead)  # killed right after its heartbeat; the row below stays leased to it for 60 s
    await write_replies(dead, engine, "z", 0)
    restarted = OutboxDrainer(engine, {"paced": PacedChannel(log)}, SystemClock(), lease=timedelta(seconds=60))
    started = time.monotonic()
    await restarted.start()
    try:
        await write_replies(restarted, engine, "z", 1)
        while len(log) < 2 and time.monotonic() - started < 20:
            await asyncio.sleep(0.05)
        taken_back = time.monotonic() - started
    finally:
        await restarted.stop()
        await engine.dispose()
    assert log == [("z", 0), ("z", 1)]
    assert taken_back <= 5.5  # the dead instance silent for DEAD_AFTER (3 s), then the next claim
