"""The outbox: replies survive rate limits, outages and crashes, in order, exactly once per row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.app import build_app
from bot.channels.memory import MemoryChannel
from bot.clock import FakeClock
from bot.core.messages import IncomingMessage, OutgoingMessage
from bot.core.outbox import OutboxDrainer, PermanentFailure, RetryLater
from bot.db import migrate
from bot.db.models import Outbox, table
from bot.instruments import Instruments
from bot.settings import Settings
from tests.channels_support import ENERGY_QUESTION
from tests.desk import Desk, start_desk

O = table(Outbox)  # noqa: E741


class FlakyChannel:
    """Fails as scripted, then records deliveries."""

    name = "flaky"

    def __init__(self) -> None:
        self.script: list[Exception] = []
        self.delivered: list[str] = []
        self.attempts: list[int] = []  # the attempt number of every call

    async def send(self, message: OutgoingMessage) -> str | None:
        self.attempts.append(message.attempt)
        if self.script:
            raise self.script.pop(0)
        self.delivered.append(message.text)
        return f"ext-{message.outbox_id}"


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings, with_kb=False)
    yield d
    await d.app.stop()


async def queue_rows(desk: Desk, chat: str, texts: list[str]) -> None:
    now = desk.clock.now()
    async with desk.app.engine.begin() as conn:
        await conn.execute(O.insert(), [
            {"channel": "flaky", "chat_id": chat, "kind": "send", "text": t, "status": "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now} for t in texts])


async def statuses(desk: Desk) -> list[tuple[str, str]]:
    async with desk.app.engine.connect() as conn:
        return [(r.text, r.status) for r in await conn.execute(select(O.c.text, O.c.status).order_by(O.c.id))]


async def test_rate_limit_delays_the_chat_in_order_and_drops_nothing(desk: Desk) -> None:
    channel = FlakyChannel()
    instruments = Instruments()
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock, instruments=instruments)
    await queue_rows(desk, "c1", ["one", "two", "three"])
    await queue_rows(desk, "c2", ["other chat"])
    channel.script = [RetryLater(30, "429 retry after 30", rate_limited=True)]
    await drainer.drain_once()
    assert channel.delivered == ["other chat"] or channel.delivered == []
    assert await drainer.drain_once() in (0, 1)
    assert "one" not in channel.delivered
    desk.clock.advance(timedelta(seconds=31))
    while await drainer.drain_once():
        pass
    assert [t for t in channel.delivered if t != "other chat"] == ["one", "two", "three"]
    assert 'helpdesk_send_retries_total{channel="flaky",reason="rate_limited"} 1.0' in instruments.text().decode()
    assert {s for _, s in await statuses(desk)} == {"sent"}


async def test_server_errors_back_off_then_succeed(desk: Desk) -> None:
    channel = FlakyChannel()
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock)
    await queue_rows(desk, "c1", ["hello"])
    channel.script = [ConnectionError("502"), ConnectionError("502")]
    for _ in range(3):
        await drainer.drain_once()
        desk.clock.advance(timedelta(seconds=5))
    assert channel.delivered == ["hello"]


async def test_outages_count_as_attempts_and_a_rate_limit_starts_again(desk: Desk) -> None:
    channel = FlakyChannel()
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock)
    await queue_rows(desk, "c1", ["hello"])
    channel.script = [RetryLater(1, "503"), RetryLater(2, "timeout"), RetryLater(1, "429", rate_limited=True)]
    for _ in range(4):
        await drainer.drain_once()
        desk.clock.advance(timedelta(seconds=3))
    assert channel.delivered == ["hello"]
    assert channel.attempts == [1, 2, 3, 1]  # the adapter's backoff grows; it knows a repeat may be a duplicate


async def test_permanent_failure_stops_only_that_row(desk: Desk) -> None:
    channel = FlakyChannel()
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock)
    await queue_rows(desk, "c1", ["blocked", "next"])
    channel.script = [PermanentFailure("403 bot was blocked by the user", unreachable=True)]
    await drainer.drain_once()
    assert await statuses(desk) == [("blocked", "failed"), ("next", "sent")]


async def test_crash_after_claim_resends_once_after_the_lease(desk: Desk) -> None:
    channel = FlakyChannel()
    await queue_rows(desk, "c1", ["in flight"])
    async with desk.app.engine.begin() as conn:  # a process claimed it, then died before sending
        await conn.execute(update(O).values(status="sending", lease_until=desk.clock.now() + timedelta(seconds=60)))
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock)
    assert await drainer.drain_once() == 0
    desk.clock.advance(timedelta(seconds=61))
    assert await drainer.drain_once() == 1
    assert await drainer.drain_once() == 0
    assert channel.delivered == ["in flight"]


async def test_only_rows_of_own_channels_are_claimed(desk: Desk) -> None:
    await queue_rows(desk, "c1", ["for flaky"])
    drainer = OutboxDrainer(desk.app.engine, {"other": FlakyChannel()}, desk.clock)
    assert await drainer.drain_once() == 0
    assert await statuses(desk) == [("for flaky", "pending")]


async def test_a_database_failure_while_recording_a_delivery_sends_nothing_twice(desk: Desk) -> None:
    channel = FlakyChannel()
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock, lease=timedelta(seconds=1))
    await queue_rows(desk, "c1", ["delivered while the database was away"])
    real_write = drainer._write_marks
    database_away = True

    async def flaky_write(batch: list[Any]) -> None:
        if database_away:
            raise ConnectionError("database unreachable")
        await real_write(batch)

    drainer._write_marks = flaky_write  # type: ignore[method-assign]
    await drainer.drain_once()
    assert await statuses(desk) == [("delivered while the database was away", "sending")]
    database_away = False
    desk.clock.advance(timedelta(seconds=2))  # the lease ran out meanwhile
    await drainer.drain_once()
    assert channel.delivered == ["delivered while the database was away"]
    assert await statuses(desk) == [("delivered while the database was away", "sent")]


async def delivered(channel: MemoryChannel, count: int) -> None:
    for _ in range(200):
        if channel.deliveries >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{channel.deliveries} of {count} replies delivered")


async def test_replies_of_the_message_path_reach_the_drainer_without_being_claimed_back(
        pg_settings: Settings) -> None:
    desk = await start_desk(pg_settings, with_kb=False, drain=True)
    claims: list[str] = []

    def count_claims(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith("UPDATE outbox") and "SKIP LOCKED" in sql:
            claims.append(sql)

    event.listen(desk.app.engine.sync_engine, "before_cursor_execute", count_claims)
    try:
        for n in range(3):
            await desk.app.submit(IncomingMessage(channel="telegram", external_id=f"h{n}", user_id="ana",
                                                  chat_id="dm-ana", text="hello"))
        await delivered(desk.channel("telegram"), 3)
        await desk.app.stop()
        async with desk.app.engine.connect() as conn:
            rows = (await conn.execute(select(O.c.status, O.c.attempts, O.c.external_id))).all()
    finally:
        await desk.app.engine.dispose()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3 and all(r.external_id for r in rows)
    assert len(claims) <= 1  # at most the look at the outbox when the drainer started (poll: 1 s)


async def test_replies_leased_to_a_process_that_dies_are_sent_once_after_the_lease(pg_settings: Settings) -> None:
    desk = await start_desk(pg_settings, with_kb=False, drain=True)
    assert desk.app.drainer is not None
    desk.app.drainer.hand_over = lambda rows: None  # type: ignore[method-assign]  # dies right after commit
    try:
        await desk.app.submit(IncomingMessage(channel="telegram", external_id="d1", user_id="ana",
                                              chat_id="dm-ana", text="hello"))
        survivor = MemoryChannel("telegram")
        other = OutboxDrainer(desk.app.engine, {"telegram": survivor}, desk.clock, lease=timedelta(seconds=60))
        assert await other.drain_once() == 0  # still leased to the process that died
        desk.clock.advance(timedelta(seconds=61))
        assert await other.drain_once() == 1
        assert await other.drain_once() == 0
        assert survivor.deliveries == 1 and desk.channel("telegram").deliveries == 0
    finally:
        await desk.app.stop()


async def test_a_batch_with_replies_for_channels_another_process_sends_is_stored_whole(pg_settings: Settings) -> None:
    """A question that opens a ticket: the practitioner's replies are handed over, the queue card
    (console channel, which this process does not serve) waits in the outbox for whoever does."""
    telegram = MemoryChannel("telegram")
    app = build_app(pg_settings, clock=FakeClock(), channels={"telegram": telegram})
    await migrate.upgrade(app.engine)
    await app.start()
    try:
        outcome = await app.submit(IncomingMessage(
            channel="telegram", external_id="q1", user_id="ana", chat_id="dm-ana",
            text="Which wind curtailment compensation rules suit a mini-grid tariff in our province?"))
        assert not outcome.failed
        await delivered(telegram, 1)
        async with app.engine.connect() as conn:
            rows = {(r.channel, r.status) for r in await conn.execute(select(O.c.channel, O.c.status))}
    finally:
        await app.stop()
    assert ("console", "pending") in rows
    assert {status for channel, status in rows if channel == "telegram"} <= {"sending", "sent"}
    assert "ticket" in " ".join(p.text for p in telegram.posts["dm-ana"]).lower()


async def test_a_card_delivered_but_not_yet_recorded_is_edited_at_once(sqlite_settings: Settings) -> None:
    """Deliveries are recorded every 20 ms; an edit of a post delivered meanwhile finds it in memory."""
    desk = await start_desk(sqlite_settings)
    assert desk.app.drainer is not None
    real_write = desk.app.drainer._write_marks
    database_away = True

    async def flaky_write(batch: list[Any]) -> None:
        if database_away:
            raise ConnectionError("database unreachable")
        await real_write(batch)

    desk.app.drainer._write_marks = flaky_write  # type: ignore[method-assign]
    try:
        amina = await desk.staff("amina")
        await desk.practitioner("alice").says(ENERGY_QUESTION)
        desk.queue("ENERGY").sees_new_ticket(from_="Alice")  # delivered; its record still in memory
        await amina.says("/claim 1")
        assert desk.queue("ENERGY").posts[0].text.endswith("claimed by Amina")  # no wait for the record
        database_away = False
        await desk.settle()
        assert {status for _, status in await statuses(desk)} == {"sent"}
    finally:
        await desk.app.stop()


async def test_a_row_written_after_a_rate_limit_does_not_overtake_the_row_that_waits(desk: Desk) -> None:
    channel = FlakyChannel()
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock)
    await queue_rows(desk, "c1", ["first"])
    channel.script = [RetryLater(30, "pacing this chat", rate_limited=True)]
    await drainer.drain_once()
    desk.clock.advance(timedelta(seconds=1))
    await queue_rows(desk, "c1", ["second"])  # due now; "first" waits 29 s more
    await queue_rows(desk, "c2", ["another chat"])
    await drainer.drain_once()
    assert channel.delivered == ["another chat"]
    desk.clock.advance(timedelta(seconds=30))
    while await drainer.drain_once():
        pass
    assert channel.delivered == ["another chat", "first", "second"]


async def test_a_row_waits_while_an_older_row_of_its_chat_is_leased_elsewhere(desk: Desk) -> None:
    channel = FlakyChannel()
    await queue_rows(desk, "c1", ["leased by a replica that died"])
    async with desk.app.engine.begin() as conn:
        await conn.execute(update(O).values(status="sending", lease_until=desk.clock.now() + timedelta(seconds=60)))
    await queue_rows(desk, "c1", ["written after it"])
    drainer = OutboxDrainer(desk.app.engine, {"flaky": channel}, desk.clock)
    assert await drainer.drain_once() == 1  # looked at, held back
    assert channel.delivered == []
    desk.clock.advance(timedelta(seconds=61))
    while await drainer.drain_once():
        pass
    assert channel.delivered == ["leased by a replica that died", "written after it"]
    assert {s for _, s in await statuses(desk)} == {"sent"}
