"""The sweep on PostgreSQL: two sweepers share 1,000 due tickets, and a SIGKILL loses or repeats nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.sla_sweep import sweep
from bot.db.engine import create_engine
from bot.db.models import Outbox, Person, SlaEvent, Ticket, table
from bot.settings import Settings
from tests.desk import Desk, start_desk

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[1]
OPENED = datetime(2026, 3, 4, 9, tzinfo=UTC)  # a Wednesday; MRV works 09:00-17:00 UTC
NOW = OPENED + timedelta(hours=4)  # the unclaimed reminder of every ticket is due, nothing else
T, E, O = table(Ticket), table(SlaEvent), table(Outbox)  # noqa: E741

CHILD = """
import asyncio, sys
from datetime import datetime
from bot.app import build_app
from bot.clock import FakeClock
from bot.core import sla_sweep
from bot.settings import Settings

async def main() -> None:
    now = datetime.fromisoformat(sys.argv[1])
    app = build_app(Settings(_env_file=None), clock=FakeClock(now))
    await app.start(drain=False)
    record = sla_sweep._Round._record

    async def slow(self, owed):  # hold every round open a while, so the kill lands inside one
        inserted = await record(self, owed)
        await asyncio.sleep(0.3)
        return inserted

    sla_sweep._Round._record = slow
    await sla_sweep.sweep(app.engine, app.services, now, batch=50)

asyncio.run(main())
"""


@pytest.fixture
async def desk(pg_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(pg_settings, with_kb=False)
    await seed(d, 1000)
    yield d
    await d.app.stop()


async def seed(desk: Desk, n: int) -> None:
    """`n` unclaimed MRV tickets opened at OPENED, whose first reminder falls due at NOW."""
    services = desk.app.services
    assert services is not None
    deadlines = services.sla.on_open("MRV", "normal", OPENED)
    async with desk.app.engine.begin() as conn:
        person = (await conn.execute(insert(table(Person)).values(
            display_name="Asker", role="practitioner", language="en", timezone="UTC", blocked=False,
            created_at=OPENED).returning(table(Person).c.id))).scalar_one()
        await conn.execute(insert(T), [{
            "queue_id": "MRV", "state": "new", "priority": "normal", "person_id": person, "language": "en",
            "question": f"question {i}", "channel": "telegram", "chat_id": "dm-asker", "created_at": OPENED,
            "updated_at": OPENED, "breached": False, "sla_next_at": NOW, **deadlines} for i in range(n)])


async def counts(engine: AsyncEngine) -> tuple[int, int, int, int]:
    """(events, tickets with an event, outbox rows, tickets with an outbox row)."""
    async with engine.connect() as conn:
        events, fired = (await conn.execute(select(func.count(), func.count(E.c.ticket_id.distinct())))).one()
        rows, told = (await conn.execute(select(func.count(), func.count(O.c.ticket_id.distinct()))
                                         .where(O.c.ticket_id.is_not(None)))).one()
    return int(events), int(fired), int(rows), int(told)


async def test_two_sweepers_fire_each_of_1000_events_exactly_once(desk: Desk, pg_settings: Settings) -> None:
    other = create_engine(pg_settings.database_url, schema=pg_settings.database_schema)
    services = desk.app.services
    assert services is not None
    try:
        first, second = await asyncio.gather(sweep(desk.app.engine, services, NOW, batch=100),
                                             sweep(other, services, NOW, batch=100))
    finally:
        await other.dispose()
    assert first.events + second.events == 1000
    assert first.tickets > 0 and second.tickets > 0  # the work was shared
    assert await counts(desk.app.engine) == (1000, 1000, 1000, 1000)
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(func.min(T.c.sla_next_at)))).scalar_one() > NOW
    assert (await sweep(desk.app.engine, services, NOW)).events == 0


async def test_a_sweeper_killed_mid_sweep_loses_nothing_and_repeats_nothing(desk: Desk,
                                                                           pg_settings: Settings) -> None:
    env = os.environ | {"DATABASE_URL": pg_settings.database_url, "DATABASE_SCHEMA": pg_settings.database_schema or "",
                        "LOG_LEVEL": "WARNING"}
    env.pop("HELPDESK_CONFIG", None)
    child = subprocess.Popen([sys.executable, "-c", CHILD, NOW.isoformat()], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (await counts(desk.app.engine))[0] < 100:  # two rounds of 50 committed
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else "child exited"
            assert time.monotonic() < deadline, "the child never swept"
            await asyncio.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    events, fired, rows, told = await counts(desk.app.engine)
    assert 100 <= events < 1000 and events % 50 == 0  # only whole rounds survive the kill
    assert (events, fired, rows, told) == (events, events, events, events)

    services = desk.app.services
    assert services is not None
    deadline = time.monotonic() + 30
    while (await counts(desk.app.engine))[0] < 1000:  # the restarted process: ticks until all is done
        assert time.monotonic() < deadline, await counts(desk.app.engine)
        await sweep(desk.app.engine, services, NOW)
        await asyncio.sleep(0.05)
    assert await counts(desk.app.engine) == (1000, 1000, 1000, 1000)
