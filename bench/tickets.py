"""Benchmark: claim / reply / practitioner reply / resolve cycles with K concurrent experts.

Creates N tickets (one practitioner each), then K experts work through them concurrently. Prints
operations/s and p50/p99 latency per action, and counts relayed messages lost or doubled.

usage: python bench/tickets.py [--n 2000] [--experts 16] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.pgschema import pg_settings  # noqa: E402
from bot import event_loop  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.channels.memory import MemoryChannel  # noqa: E402
from bot.cli.progress import progress  # noqa: E402
from bot.core.messages import IncomingMessage  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.db.models import Identity, Person, QueueMember, Ticket, table  # noqa: E402
from bot.memory import tune_gc  # noqa: E402
from bot.settings import Settings  # noqa: E402

QUESTION = "Which wind curtailment compensation rules suit a mini-grid tariff in our province, case {n}?"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 2) if values else 0.0


async def run(settings: Settings, n: int, experts: int) -> dict[str, object]:
    channel = MemoryChannel("telegram")
    app = build_app(settings, channels={"telegram": channel})
    await migrate.upgrade(app.engine)
    await app.start()
    tune_gc()  # as `helpdesk run` does
    now = app.clock.now()
    async with app.engine.begin() as conn:
        for e in range(experts):
            pid = (await conn.execute(insert(table(Person)).values(
                handle=f"x{e}", display_name=f"Expert {e}", role="expert", language="en", timezone="UTC",
                blocked=False, created_at=now).returning(table(Person).c.id))).scalar_one()
            await conn.execute(insert(table(Identity)).values(
                person_id=pid, channel="telegram", external_user_id=f"x{e}", chat_id=f"dx{e}", created_at=now))
            await conn.execute(insert(table(QueueMember)).values(queue_id="ENERGY", person_id=pid, is_lead=False))
    ids = itertools.count()

    async def say(user: str, chat: str, text: str, lang: str = "en") -> float:
        start = time.perf_counter()
        await app.submit(IncomingMessage(channel="telegram", external_id=f"e{next(ids)}", user_id=user, chat_id=chat,
                                         text=text, language=lang))
        return time.perf_counter() - start

    opened = await asyncio.gather(*(say(f"p{i}", f"dp{i}", QUESTION.format(n=i)) for i in range(n)))
    latency: dict[str, list[float]] = defaultdict(list, {"open": list(opened)})
    T, I = table(Ticket), table(Identity)  # noqa: E741
    async with app.engine.connect() as conn:
        owner = {r.id: int(r.external_user_id[1:]) for r in await conn.execute(
            select(T.c.id, I.c.external_user_id).join(I, I.c.person_id == T.c.person_id))}
    work = iter(sorted(owner))

    async def expert(e: int) -> None:
        for ticket in work:
            practitioner = owner[ticket]
            for action, user, chat, text in (
                ("claim", f"x{e}", f"dx{e}", f"/claim {ticket}"),
                ("reply", f"x{e}", f"dx{e}", f"/reply {ticket} What is the pump size for case {ticket}?"),
                ("practitioner reply", f"p{practitioner}", f"dp{practitioner}", f"Five kW for case {ticket}."),
                ("resolve", f"x{e}", f"dx{e}", f"/resolve {ticket} Block tariff with prepaid meters, case {ticket}."),
            ):
                latency[action].append(await say(user, chat, text))
            done[0] += 1
            report(done[0], len(owner))

    done = [0]  # tickets worked through
    t0 = time.perf_counter()
    with progress("bench/tickets: tickets claimed, answered and resolved") as report:
        await asyncio.gather(*(expert(e) for e in range(experts)))
    wall = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    while await app.drainer.drain_once() if app.drainer else 0:
        pass
    await app.stop()
    lost = doubled = 0
    for ticket, i in owner.items():
        to_practitioner = [p for p in channel.posts[f"dp{i}"] if f"pump size for case {ticket}?" in p.text]
        lost += not to_practitioner
        doubled += len(to_practitioner) > 1
    actions = sum(len(v) for k, v in latency.items() if k != "open")
    return {"db": app.engine.dialect.name, "tickets": n, "experts": experts, "actions_per_s": round(actions / wall),
            **{f"{k} p50/p99 ms": f"{pct(v, .5)}/{pct(v, .99)}" for k, v in latency.items()},
            "relayed_lost": lost, "relayed_doubled": doubled}


async def postgres(n: int, experts: int) -> dict[str, object]:
    async with pg_settings() as settings:
        return await run(settings, n, experts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--experts", type=int, default=16)
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    a = ap.parse_args()
    if a.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            s = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/b.db", _env_file=None)  # type: ignore[call-arg]
            print(json.dumps(event_loop.run(run(s, a.n, a.experts))))
    if a.only != "sqlite":
        print(json.dumps(event_loop.run(postgres(a.n, a.experts))))


if __name__ == "__main__":
    main()
