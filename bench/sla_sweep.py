"""Benchmark: one SLA sweep over 100,000 open tickets of which 1,000 are due, on PostgreSQL.

Two mixes of due tickets, each in a fresh schema:
  reminders  1,000 unclaimed tickets whose queue reminder is due (the common case);
  mixed        700 queue reminders, 200 pre-breach warnings to assignees (digest lines),
               100 claim expiries with their first-response breach (the ticket goes back to its
               queue, the secretariat hears of the breach: the heaviest path).
Prints the sweep time, the rows it touched and an idle sweep right after; then the time to
compute 100,000 first-response deadlines with the business calendar (Nairobi hours, Kenyan
holidays). Target: one sweep < 1 s.

usage: python bench/sla_sweep.py [--tickets 100000] [--due 1000]   (BENCH_PG overrides the server)
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from bench.pgschema import pg_settings  # noqa: E402
from bot import event_loop  # noqa: E402
from bot.app import HelpDesk, build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.core.sla import SlaClock  # noqa: E402
from bot.core.sla_sweep import sweep  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.db.models import Identity, Person, table  # noqa: E402

NOW = datetime(2026, 3, 4, 13, tzinfo=UTC)  # Wednesday; MRV works 09:00-17:00 UTC
QUEUES = ["STRATEGY", "MRV", "ENERGY", "TRANSPORT", "AFOLU", "FINANCE", "SUBNATIONAL"]
INSERT = text("""
INSERT INTO ticket (queue_id, state, priority, person_id, assignee_id, language, question, channel, chat_id,
                    created_at, updated_at, claimed_at, queued_at, first_response_due, resolution_due,
                    claim_expires_at, sla_next_at, breached, sla_level)
SELECT CASE WHEN CAST(:queue AS text) = '*' THEN (CAST(:queues AS text[]))[1 + g % 7] ELSE :queue END,
       :state, 'normal', :person, CAST(:assignee AS bigint), 'en', 'question ' || g, 'telegram', 'dm-asker',
       CAST(:opened AS timestamptz), CAST(:opened AS timestamptz), CAST(:claimed AS timestamptz),
       CAST(:opened AS timestamptz), CAST(:first_due AS timestamptz), CAST(:resolution_due AS timestamptz),
       CAST(:claim_expires AS timestamptz), CAST(:next_at AS timestamptz), false, 0
FROM generate_series(1, CAST(:n AS integer)) AS g
""")


async def seed_group(app: HelpDesk, n: int, opened: datetime, *, queue: str = "MRV", expert: int | None = None,
                     claim_expires: datetime | None = None, next_at: datetime = NOW) -> None:
    """`n` tickets opened at `opened` (unclaimed, or claimed by `expert`) that the sweep looks at `next_at`."""
    assert app.services is not None
    sla = app.services.sla
    due = sla.on_open("MRV", "normal", opened)
    async with app.engine.begin() as conn:
        person = (await conn.execute(select(table(Person).c.id).where(table(Person).c.handle == "asker"))).scalar_one()
        await conn.execute(INSERT, {
            "queue": queue, "queues": QUEUES, "state": "open" if expert else "new", "person": person,
            "assignee": expert, "opened": opened, "claimed": opened if expert else None,
            "first_due": due["first_response_due"], "resolution_due": due["resolution_due"],
            "claim_expires": claim_expires, "next_at": next_at, "n": n})


async def people(app: HelpDesk) -> int:
    """The asker and one MRV expert (with a chat, so digest lines can be sent); returns the expert's id."""
    P, I = table(Person), table(Identity)  # noqa: E741
    async with app.engine.begin() as conn:
        ids = []
        for handle, role in (("asker", "practitioner"), ("omar", "expert")):
            pid = (await conn.execute(select(P.c.id).where(P.c.handle == handle))).scalar()  # omar: the config's
            if pid is None:
                pid = (await conn.execute(insert(P).values(
                    handle=handle, display_name=handle, role=role, language="en", timezone="UTC", blocked=False,
                    created_at=NOW).returning(P.c.id))).scalar_one()
            await conn.execute(insert(I).values(person_id=pid, channel="telegram", external_user_id=handle,
                                                chat_id=f"dm-{handle}", created_at=NOW))
            ids.append(pid)
    await app.sync_config()
    return int(ids[1])


async def scenario(name: str, tickets: int, due: int) -> None:
    async with pg_settings() as settings:
        app = build_app(settings, clock=FakeClock(NOW))
        await migrate.upgrade(app.engine)
        await app.start(drain=False)
        expert = await people(app)
        later = NOW + timedelta(days=3)
        started = time.perf_counter()
        await seed_group(app, tickets - due, NOW - timedelta(hours=1), queue="*", next_at=later)
        if name == "reminders":
            await seed_group(app, due, NOW - timedelta(hours=4))
        else:
            await seed_group(app, due * 7 // 10, NOW - timedelta(hours=4))
            await seed_group(app, due * 2 // 10, NOW - timedelta(hours=28), expert=expert, claim_expires=later)
            await seed_group(app, due - due * 9 // 10, NOW - timedelta(days=3), expert=expert,
                             claim_expires=NOW - timedelta(minutes=1))
        async with app.engine.begin() as conn:
            await conn.execute(text("ANALYZE ticket"))
        seeded = time.perf_counter() - started
        assert app.services is not None
        started = time.perf_counter()
        result = await sweep(app.engine, app.services, NOW)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        idle = await sweep(app.engine, app.services, NOW)
        idle_elapsed = time.perf_counter() - started
        print(f"{name:>9}: {tickets:,} open tickets ({seeded:.1f} s to seed), {due:,} due: "
              f"one sweep {elapsed * 1000:.0f} ms — rows touched: {result.tickets:,} ticket, "
              f"{result.events:,} sla_event, {result.messages:,} outbox, {result.reminders:,} sla_reminder"
              f"{', FAILED ' + str(len(result.failed)) if result.failed else ''}; "
              f"idle sweep after it {idle_elapsed * 1000:.1f} ms ({idle.tickets} due)")
        await app.stop()


def deadlines(n: int) -> None:
    """Time n first-response deadlines from random moments of a year on the Nairobi calendar."""
    sla = SlaClock(load_config())
    rng = random.Random(7)
    starts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(n)]
    started = time.perf_counter()
    for start in starts:
        sla.due("ENERGY", "normal", "first_response", start)
    elapsed = time.perf_counter() - started
    print(f"deadlines: {n:,} first-response deadlines (Nairobi hours, Kenyan holidays) in {elapsed * 1000:.0f} ms "
          f"({elapsed / n * 1e6:.1f} µs each)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    for name in ("reminders", "mixed"):
        await scenario(name, args.tickets, args.due)
    deadlines(args.tickets)


if __name__ == "__main__":
    event_loop.run(main())
