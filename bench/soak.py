"""Soak: practitioner messages through the fake Telegram server into `helpdesk run`, under faults.

Faults: 429 storms and 5xx from the Bot API, slow answers, `kill -9` of the app (restarted each
time), and, on PostgreSQL, database outages (a TCP proxy in front of the server is cut for a few
seconds). Every message is a greeting whose answer is one reply, so each chat must end with
exactly as many replies as it sent messages. Prints messages sent, stored, replies delivered,
lost, duplicated, replies sent after a later reply of their chat (out of order), latency p50/p99
(a chat's k-th message to its k-th reply), the most posts one chat got in a second, and throughput.

usage: python bench/soak.py [--n 100000] [--users 5000] [--kills 5] [--storms 3] [--db sqlite|postgres]
       [--outages 2] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from bench.delivery import Deliveries, out_of_order, pct  # noqa: E402
from bench.pgschema import PG_DSN, PG_URL  # noqa: E402
from bot import event_loop  # noqa: E402
from bot.cli.progress import progress  # noqa: E402
from tests.fakes.desk_process import HELPDESK, DeskProcess  # noqa: E402
from tests.fakes.proxy import CuttableProxy  # noqa: E402
from tests.fakes.telegram import FakeTelegram, RateLimits  # noqa: E402

GREETINGS = ("hello", "hola", "bonjour", "thanks", "gracias", "merci")


def _admin(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(HELPDESK), *args], env={**os.environ, **env}, check=True, capture_output=True)


async def _stored(database_url: str, schema: str | None) -> int:
    from sqlalchemy import func, select

    from bot.db.engine import create_engine
    from bot.db.models import Message, table

    engine = create_engine(database_url, schema=schema)
    try:
        async with engine.connect() as conn:
            m = table(Message)
            return int((await conn.execute(select(func.count()).select_from(m).where(m.c.direction == "in")))
                       .scalar_one())
    finally:
        await engine.dispose()


async def soak(n: int, users: int, kills: int, storms: int, outages: int, db: str, rate: float,
               lease: float = 3.0, settle_timeout: float = 120.0, errors_in_storm: int = 100,
               throttled_in_storm: int = 300) -> dict[str, Any]:
    """Run the soak and return its figures (lost and duplicated must be 0)."""
    rng = random.Random(11)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    proxy: CuttableProxy | None = None
    schema = None
    if db == "postgres":
        import asyncpg

        url = make_url(PG_URL)
        schema = f"soak_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_DSN)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.close()
        proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        database_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'soak.db'}"
    # Per-chat limits as on Telegram; the global 30/s lifted (as Telegram does for paid broadcasts),
    # otherwise the soak only measures that limit.
    tg = FakeTelegram(rate_limits=RateLimits(global_per_second=1_000_000))
    deliveries = Deliveries()
    tg.on_send = deliveries
    asked: dict[int, list[float]] = {}
    await tg.start()
    env = {"DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.api_url,
           "OUTBOX_LEASE_SECONDS": str(lease), "LOG_LEVEL": "WARNING", "TELEGRAM_MAX_PER_SECOND": "100000"}
    if schema:
        env["DATABASE_SCHEMA"] = schema
    direct = {**env, "DATABASE_URL": PG_URL} if proxy is not None else env  # the proxy runs in this event loop
    _admin(direct, "db", "upgrade")
    _admin(direct, "kb", "import", str(ROOT / "kb" / "content"))
    app = DeskProcess({**env, "PTB_TIMEDELTA": "1"}, workdir, probe="/healthz")
    await app.start()
    expected: dict[int, int] = {}
    kill_at = sorted(rng.sample(range(n // 10, n), kills)) if kills else []
    storm_at = sorted(rng.sample(range(n // 10, n), storms)) if storms else []
    outage_at = sorted(rng.sample(range(n // 10, n), outages)) if outages and proxy else []
    started = time.monotonic()
    try:
        with progress("bench/soak: messages sent") as report:
            for i in range(n):
                chat = 10_000 + rng.randrange(users)
                tg.user_sends(chat, rng.choice(GREETINGS))
                asked.setdefault(chat, []).append(time.perf_counter())
                expected[chat] = expected.get(chat, 0) + 1
                if i in storm_at:
                    tg.inject(method="sendMessage", status=429, times=throttled_in_storm, retry_after=1)
                    tg.inject(method="sendMessage", status=502, times=errors_in_storm)
                if i in kill_at:
                    await app.kill()
                    await app.start()
                if i in outage_at and proxy is not None:
                    await proxy.cut()
                    await asyncio.sleep(3)
                    await proxy.restore()
                await asyncio.sleep(1 / rate)
                report(i + 1, n)
        with progress("bench/soak: replies arrived") as report:
            deadline = time.monotonic() + settle_timeout
            while time.monotonic() < deadline:
                sent = tg.sent_counts()
                report(sum(min(sent[chat], count) for chat, count in expected.items()), n)
                if all(sent[chat] >= count for chat, count in expected.items()):
                    break
                await asyncio.sleep(0.25)
        await asyncio.sleep(lease + 1)  # anything re-sent after a crash would arrive by now
        wall = time.monotonic() - started
        sent = tg.sent_counts()
        replies = {chat: sent[chat] for chat in expected}
        stored = await _stored(database_url, schema)
        late = await out_of_order(direct["DATABASE_URL"], schema)
    finally:
        await app.stop()
        await tg.stop()
        if proxy is not None:
            await proxy.cut()
    lost = sum(max(0, count - replies[chat]) for chat, count in expected.items())
    duplicated = sum(max(0, replies[chat] - count) for chat, count in expected.items())
    return {"db": db, "messages_sent": n, "stored": stored, "replies_delivered": sum(replies.values()),
            "lost": lost, "duplicated": duplicated, "out_of_order": late,
            "p50_ms": pct(deliveries.latencies(asked), 0.5), "p99_ms": pct(deliveries.latencies(asked), 0.99),
            "most_posts_per_chat_second": deliveries.most_per_chat_second(), "kills": kills, "storms": storms,
            "db_outages": len(outage_at),
            "msg_per_s": round(n / wall, 1), "seconds": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--storms", type=int, default=3)
    ap.add_argument("--outages", type=int, default=2)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--rate", type=float, default=300.0, help="messages offered per second")
    a = ap.parse_args()
    print(json.dumps(event_loop.run(soak(a.n, a.users, a.kills, a.storms, a.outages, a.db, a.rate))))


if __name__ == "__main__":
    main()
