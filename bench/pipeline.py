"""Benchmark: N practitioner messages through the full message path with K concurrent senders.

Each message goes through dedupe, identity (people created on first contact), triage by the FAQ
matcher, outbox, and is delivered by the drainer to an in-memory channel. Prints msg/s, p50/p99
latency (submit → committed) and CPU per message, on SQLite and on PostgreSQL, and the p99 of the
messages after the first 2,000 (when the triage cache has filled: it shows where the tail comes
from). On PostgreSQL it also runs ../shared/bench/pipeline_ceiling.py in the same go and prints
the ratio to raw asyncpg.

Texts are drawn from the KB's own questions and phrasings plus greetings, each practitioner
writing in one language (en, es or fr, the language their channel reports), so the same question
comes back often and the triage cache answers most of them (its hit rate is printed); with
``--unique`` every text is made distinct, so each message is matched afresh.

usage: python bench/pipeline.py [--n 10000] [--senders 16] [--users 1000] [--unique] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pgschema import PG_DSN, pg_settings  # noqa: E402
from bot import event_loop  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.channels.memory import MemoryChannel  # noqa: E402
from bot.cli.progress import progress  # noqa: E402
from bot.core.knowledge import import_entries  # noqa: E402
from bot.core.messages import IncomingMessage  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.memory import tune_gc  # noqa: E402
from bot.settings import Settings  # noqa: E402
from kb.files import load_kb_dir  # noqa: E402

CEILING = ROOT.parent / "shared" / "bench" / "pipeline_ceiling.py"
WARMUP = 2000  # the first messages bring most of the new questions (matched afresh) and new people


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000


LANGUAGES = ("en", "es", "fr")


def questions() -> dict[str, list[str]]:
    """What practitioners of each language ask: the KB's questions and phrasings, and greetings."""
    entries = load_kb_dir(ROOT / "kb" / "content").entries
    greetings = {"en": "hello", "es": "gracias", "fr": "merci"}
    return {lang: [p for e in entries if e.lang == lang for p in (e.question, *e.phrasings)]
            + [greetings[lang]] * 10 for lang in LANGUAGES}


async def run(settings: Settings, n: int, senders: int, users: int, unique: bool = False) -> dict[str, object]:
    channel = MemoryChannel("telegram")
    app = build_app(settings, channels={"telegram": channel})
    await migrate.upgrade(app.engine)
    async with app.engine.begin() as conn:
        await import_entries(conn, load_kb_dir(ROOT / "kb" / "content").entries, app.clock.now())
    await app.start()
    tune_gc()  # as `helpdesk run` does
    pool = questions()
    rng = random.Random(7)
    work = iter(range(n))
    latencies: list[float] = []
    after_warmup: list[float] = []  # messages sent after the first WARMUP: the triage cache has filled

    async def sender() -> None:
        for i in work:
            number = rng.randrange(users)
            user, lang = f"u{number}", LANGUAGES[number % len(LANGUAGES)]
            text = rng.choice(pool[lang])
            if unique:
                text = f"{text} (ref {i})"
            msg = IncomingMessage(channel="telegram", external_id=f"b{i}", user_id=user, chat_id=f"c{user}",
                                  text=text, language=lang)
            start = time.perf_counter()
            await app.submit(msg)
            latencies.append(time.perf_counter() - start)
            if i >= WARMUP:
                after_warmup.append(latencies[-1])
            if len(latencies) % 100 == 0 or len(latencies) == n:
                report(len(latencies), n)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    with progress(f"bench/pipeline on {app.engine.dialect.name}: messages") as report:
        await asyncio.gather(*(sender() for _ in range(senders)))
    wall = time.perf_counter() - wall0
    deadline = time.perf_counter() + 60
    while channel.deliveries < n and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu0
    assert app.services is not None
    hit_rate = app.services.kb.triage_hit_rate
    await app.stop()
    return {"db": app.engine.dialect.name, "messages": n, "senders": senders, "msg_per_s": round(n / wall),
            "p50_ms": round(pct(latencies, 0.5), 2), "p99_ms": round(pct(latencies, 0.99), 2),
            "p99_after_warmup_ms": round(pct(after_warmup or latencies, 0.99), 2),
            "cpu_ms_per_msg": round(cpu * 1000 / n, 3), "triage_cache_hits": round(hit_rate, 3),
            "replies_delivered": channel.deliveries}


def ceiling(n: int, senders: int) -> list[dict[str, object]]:
    if not CEILING.exists():
        print(f"(skipping the raw-asyncpg ceiling: {CEILING} not found)")
        return []
    out = subprocess.run([sys.executable, str(CEILING), "--dsn", PG_DSN, "--n", str(n), "--tasks", str(senders)],
                         capture_output=True, text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


async def postgres(n: int, senders: int, users: int, unique: bool) -> dict[str, object]:
    async with pg_settings() as settings:
        return await run(settings, n, senders, users, unique)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--senders", type=int, default=16)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--unique", action="store_true", help="make every text distinct (no triage cache hits)")
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    a = ap.parse_args()
    if a.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", _env_file=None)  # type: ignore[call-arg]
            print(json.dumps(event_loop.run(run(settings, a.n, a.senders, a.users, a.unique))))
    if a.only != "sqlite":
        ours = event_loop.run(postgres(a.n, a.senders, a.users, a.unique))
        print(json.dumps(ours))
        for row in ceiling(a.n, a.senders):
            print(json.dumps(row))
            if row["path"] == "raw asyncpg":
                print(f"ratio to raw asyncpg: {ours['msg_per_s'] / row['msg_per_s']:.2f}"  # type: ignore[operator]
                      f" (target >= 0.75, p99 < 25 ms: {ours['p99_ms']} ms)")


if __name__ == "__main__":
    main()
