"""Benchmark: the web pages on 100,000 tickets over two years, on PostgreSQL.

Seeds a fresh schema (tickets, SLA events, FAQ triage decisions), signs the secretariat in, then prints the
server time (in-process ASGI, median of 5, and the first of the 5) of the dashboard overview, the charts, the
ticket list, a search, and each CSV export, then the all-time sla.csv again after one more ticket is answered
(reports keep first-response times measured and re-measure only what changed: the first request after a
start measures them); then web chat FAQ questions: message posted → reply pushed to the browser's stream
(p50/p99). Targets: overview < 300 ms, charts < 200 ms, all-time sla.csv < 300 ms, chat reply p99 < 100 ms.

usage: python bench/web.py [--tickets 100000] [--chats 200]   (BENCH_PG overrides the server)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402
from sqlalchemy import insert, select, text, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402

from bench.pgschema import pg_settings  # noqa: E402
from bot import event_loop  # noqa: E402
from bot.app import build_app, sync_config  # noqa: E402
from bot.channels.web import WebChannel  # noqa: E402
from bot.cli.progress import progress  # noqa: E402
from bot.core.knowledge import import_entries  # noqa: E402
from bot.core.login import new_login_token  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.db.models import Person, SlaEvent, Ticket, table  # noqa: E402
from bot.http import create_http_app  # noqa: E402
from bot.web.app import web_routes  # noqa: E402
from kb.files import load_kb_dir  # noqa: E402
from tests.webdesk import FAQ_QUESTION, csrf_of  # noqa: E402

P, T, E = table(Person), table(Ticket), table(SlaEvent)
STAFF = ("lena", "omar", "amina", "lucas", "sofia")
FAQ = [FAQ_QUESTION, "¿Qué implica actualizar una NDC?", "Que contient un rapport biennal de transparence ?",
       "How do we build and interpret a marginal abatement cost curve (MACC)?"]


async def seed(c: AsyncConnection, tickets: int, now: datetime, queues: list[str]) -> None:
    """People, `tickets` tickets over two years (older ones resolved), breaches and warnings."""
    rng = random.Random(8)
    named = {r.handle: r.id for r in await c.execute(select(P.c.handle, P.c.id).where(P.c.handle.in_((*STAFF, "sam"))))}
    staff = [named[handle] for handle in (*STAFF, "sam")]  # the config's staff: people since sync_config
    await c.execute(update(P).where(P.c.id.in_(staff)).values(timezone="Europe/Paris"))
    people = [{"display_name": f"Practitioner {n}", "role": "practitioner", "language": "en", "timezone": "UTC",
               "blocked": False, "created_at": now} for n in range(2000)]
    await c.execute(insert(P), people)
    practitioners = [r.id for r in await c.execute(select(P.c.id).where(P.c.role == "practitioner"))]
    rows = []
    for _ in range(tickets):
        created = now - timedelta(seconds=rng.uniform(0, 730 * 86400))
        age = (now - created).days
        responded = created + timedelta(hours=rng.expovariate(1 / 30)) if age > 2 or rng.random() < 0.5 else None
        resolved = created + timedelta(days=rng.uniform(1, 16)) if age > 20 and rng.random() < 0.97 else None
        state = "closed" if resolved else ("open" if responded else "new")
        due = created + timedelta(days=2)
        rows.append({
            "queue_id": rng.choice(queues), "state": state, "priority": "normal",
            "person_id": rng.choice(practitioners),
            "assignee_id": rng.choice(staff[:-1]) if responded else None, "language": "en",
            "question": f"Question about {rng.choice(['solar', 'MRV', 'NDC', 'buses', 'REDD+', 'GCF'])} {rng.random()}",
            "channel": "web", "chat_id": "bench", "created_at": created, "updated_at": created,
            "first_response_at": responded, "resolved_at": resolved, "closed_at": resolved,
            "first_response_due": due, "resolution_due": created + timedelta(days=14),
            "breached": bool(responded and responded > due), "sla_level": 0})
    with progress("bench/web: tickets seeded") as report:
        for start in range(0, len(rows), 10_000):
            await c.execute(insert(T), rows[start:start + 10_000])
            report(min(start + 10_000, len(rows)), len(rows))
    ids = [r.id for r in await c.execute(select(T.c.id, T.c.breached).where(T.c.breached))]
    events = [{"ticket_id": i, "kind": kind, "level": 0, "deadline": now,
               "fired_at": now - timedelta(days=rng.uniform(0, 700))} for i in ids for kind in ("warning", "breach")]
    for start in range(0, len(events), 10_000):
        await c.execute(insert(E), events[start:start + 10_000])


def timed_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.1f} ms"


async def main(tickets: int, chats: int) -> None:
    async with pg_settings() as settings:
        app = build_app(settings, channels={"web": WebChannel()})
        await migrate.upgrade(app.engine)
        now = app.clock.now()
        began = time.perf_counter()
        async with app.engine.begin() as conn:
            await import_entries(conn, load_kb_dir(ROOT / "kb" / "content").entries, now)
            await sync_config(conn, app.config, app.clock)
            await seed(conn, tickets, now, app.config.queue_ids)
        async with app.engine.begin() as conn:  # autovacuum's job
            await conn.execute(text("ANALYZE ticket, sla_event, person"))
        print(f"seeded {tickets:,} tickets over two years in {time.perf_counter() - began:.1f} s "
              f"(schema {settings.database_schema})")
        await app.start()
        http = create_http_app(app, web_routes(app))
        async with app.engine.begin() as conn:
            sam = (await conn.execute(select(P.c.id).where(P.c.handle == "sam"))).scalar_one()
            token = await new_login_token(conn, sam, now)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=http), base_url="http://bench")
        csrf = csrf_of((await client.get(f"/login?token={token}")).text)
        await client.post("/login", data={"token": token, "csrf": csrf})
        since = (now - timedelta(days=365)).date()
        for label, path in (("dashboard overview", "/dashboard"), ("charts (12 weeks)", "/dashboard/charts"),
                            ("ticket list, page 1", "/dashboard/tickets"),
                            ("ticket list, search", "/dashboard/tickets?q=solar&state=closed"),
                            ("sla.csv, all time", "/dashboard/sla.csv"),
                            ("sla.csv, last year", f"/dashboard/sla.csv?since={since}"),
                            ("tickets.csv, one queue", "/dashboard/tickets.csv?queue=ENERGY")):
            samples = []
            for _ in range(5):
                start = time.perf_counter()
                response = await client.get(path)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            print(f"{label:<26} {timed_ms(samples)}  (first {samples[0]:.0f} ms; {len(response.content):,} bytes)")
        async with app.engine.begin() as conn:  # one more answer: its block of tickets is measured again
            ticket = (await conn.execute(select(T.c.id).where(T.c.state == "new").limit(1))).scalar_one()
            await conn.execute(update(T).where(T.c.id == ticket).values(
                state="open", first_response_at=now, updated_at=now))
        start = time.perf_counter()
        assert (await client.get("/dashboard/sla.csv")).status_code == 200
        print(f"{'sla.csv, after an answer':<26} {(time.perf_counter() - start) * 1000:7.1f} ms")
        channel = app.channels["web"]
        assert isinstance(channel, WebChannel)
        cookie = URLSafeTimedSerializer(app.secret_key, salt="helpdesk-web")
        latencies = []
        for n in range(chats):  # a new browser (and address) each time: the chat limit is per address
            transport = httpx.ASGITransport(app=http, client=(f"10.0.{n // 250}.{n % 250}", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as browser:
                page = await browser.get("/chat")
                stream = channel.subscribe(cookie.loads(browser.cookies["hd_chat"]))
                start = time.perf_counter()
                response = await browser.post("/chat/send", data={"text": FAQ[n % len(FAQ)]},
                                              headers={"X-CSRF-Token": csrf_of(page.text)})
                assert response.status_code == 202
                assert '"from": "bot"' in await asyncio.wait_for(stream.get(), 5)
                latencies.append((time.perf_counter() - start) * 1000)
        latencies.sort()
        print(f"web chat FAQ question -> answer on the browser's stream, {chats} questions: "
              f"p50 {latencies[len(latencies) // 2]:.1f} ms, p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")
        await app.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=200)
    args = parser.parse_args()
    event_loop.run(main(args.tickets, args.chats))
