"""Benchmark: N practitioner messages through the fake Telegram Bot API into `helpdesk run` and back.

Each of N chats (one practitioner each) sends one FAQ question; `helpdesk run` (a subprocess, long
polling) stores it, answers (the FAQ answer, or suggestions) and sends the newcomer's profile offer.
The fake enforces Telegram's per-chat limits (1/s with a burst of 3 per private chat, 20/min per
group); its global limit is lifted, as Telegram does for paid broadcasts, and so is the app's
(TELEGRAM_MAX_PER_SECOND). Prints msg/s from the first update to the last answer at the fake,
p50/p99 latency (update queued → first reply stored by the fake), duplicates, losses, 429s, replies
sent after a later reply of their chat (out of order) and the most posts one chat got in a second; then
the message path alone (bench/pipeline.py, in-process, the same N new people) measured in the same
go, and the ratio of the two, since absolute figures drift from day to day on shared machines.

usage: python bench/channels.py [--n 3000] [--rate 0] [--db sqlite|postgres] [--timeout 120] [--profile FILE]
       --rate R offers R messages a second instead of all at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.delivery import Deliveries, out_of_order, pct  # noqa: E402
from bench.pgschema import PG_DSN, PG_URL  # noqa: E402
from bot import event_loop  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.cli.progress import progress  # noqa: E402
from bot.core.knowledge import import_entries  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.settings import Settings  # noqa: E402
from kb.files import load_kb_dir  # noqa: E402
from tests.fakes.desk_process import HELPDESK, free_port, wait_ready  # noqa: E402
from tests.fakes.telegram import FakeTelegram, RateLimits  # noqa: E402

FIRST_CHAT = 10_000_000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def questions() -> list[tuple[str, str]]:
    """FAQ questions the matcher answers at once, in their language."""
    return [(e.question, e.lang) for e in load_kb_dir(ROOT / "kb" / "content").entries]


async def prepare(db: str, workdir: Path) -> dict[str, str]:
    """A migrated database with the starter FAQ; the environment `helpdesk run` needs for it."""
    if db == "sqlite":
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}"}
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        import asyncpg

        conn = await asyncpg.connect(PG_DSN)
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.close()
        env = {"DATABASE_URL": PG_URL, "DATABASE_SCHEMA": schema}
    settings = Settings(database_url=env["DATABASE_URL"], database_schema=env.get("DATABASE_SCHEMA"),
                        _env_file=None)  # type: ignore[call-arg]
    app = build_app(settings, channels={})
    await migrate.upgrade(app.engine)
    async with app.engine.begin() as conn:
        await import_entries(conn, load_kb_dir(ROOT / "kb" / "content").entries, app.clock.now())
    await app.engine.dispose()
    return env


async def run(n: int, rate: float, db: str, timeout: float, profile: str | None = None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-channels-"))
    env = await prepare(db, workdir)
    limits = RateLimits(private_per_second=1.0, private_burst=3, group_per_minute=20, global_per_second=1_000_000)
    answered: dict[int, float] = {}
    texts: dict[int, Counter[str]] = defaultdict(Counter)

    deliveries = Deliveries()

    def delivered(message: dict[str, Any]) -> None:
        deliveries(message)
        chat, text = message["chat"]["id"], message.get("text", "")
        texts[chat][text] += 1
        if chat not in answered:
            answered[chat] = time.perf_counter()

    async with FakeTelegram(rate_limits=limits) as tg:
        tg.on_send = delivered
        port = free_port()
        full_env = {**os.environ, **env, "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.api_url,
                    "TELEGRAM_MAX_PER_SECOND": "100000", "HELPDESK_HTTP_PORT": str(port), "LOG_LEVEL": "WARNING",
                    "PTB_TIMEDELTA": "1"}
        log = (workdir / "run.log").open("w")
        command = [str(HELPDESK), "run"]
        if profile:
            command = [sys.executable, "-m", "cProfile", "-o", profile, *command]
        proc = await asyncio.create_subprocess_exec(*command, env=full_env, stdout=log, stderr=log, cwd=workdir)
        try:
            await wait_ready(proc, port, workdir / "run.log", timeout=30)
            await tg.wait_for(lambda: bool(tg.waiting_polls), 30)  # and polling Telegram
            pool = questions()
            chats = [FIRST_CHAT + i for i in range(n)]
            queued: dict[int, float] = {}
            cpu_start = cpu_seconds(proc.pid)
            start = time.perf_counter()
            for i, chat in enumerate(chats):
                if rate:
                    await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                text, lang = pool[i % len(pool)]
                queued[chat] = time.perf_counter()
                tg.user_sends(chat, text, user={"id": chat, "first_name": f"P{i}", "language_code": lang})
            deadline = time.perf_counter() + timeout
            with progress("bench/channels: answers") as report:
                while len(answered) < n and time.perf_counter() < deadline:
                    report(len(answered), n)
                    await asyncio.sleep(0.05)
                report(len(answered), n)
            cpu = cpu_seconds(proc.pid) - cpu_start
            await asyncio.sleep(1.0)  # late duplicates would show up now
            end = max(answered.values(), default=start)
            too_many = sum(c.status == 429 for c in tg.calls("sendMessage"))
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            log.close()
    late = await out_of_order(env["DATABASE_URL"], env.get("DATABASE_SCHEMA"))
    latencies = [answered[c] - queued[c] for c in answered]
    duplicates = sum(count - 1 for chat in texts.values() for count in chat.values() if count > 1)
    return {"db": db, "messages": n, "offered_per_s": rate or "all at once", "msg_per_s": round(len(answered) /
            (end - start), 1), "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99),
            "app_cpu_ms_per_msg": round(1000 * cpu / n, 2), "answered": len(answered), "lost": n - len(answered),
            "duplicates": duplicates, "out_of_order": late,
            "most_posts_per_chat_second": deliveries.most_per_chat_second(),
            "sent_total": sum(sum(c.values()) for c in texts.values()), "telegram_429": too_many}


def message_path(n: int, db: str) -> dict[str, Any]:
    """bench/pipeline.py with the same number of new people, for comparison."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "pipeline.py"), "--n", str(n), "--users", str(n),
                          "--senders", "100", "--only", db], capture_output=True, text=True, check=True)
    return dict(json.loads(next(line for line in out.stdout.splitlines() if line.startswith("{"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--profile", help="write a cProfile of `helpdesk run` to this file")
    parser.add_argument("--no-compare", action="store_true", help="skip the message-path-only run")
    args = parser.parse_args()
    result = event_loop.run(run(args.n, args.rate, args.db, args.timeout, args.profile))
    print(json.dumps(result))
    if not args.no_compare:
        alone = message_path(args.n, args.db)
        print(json.dumps({"message_path_alone": alone}))
        print(f"end to end / message path alone: {result['msg_per_s'] / alone['msg_per_s']:.2f}")


if __name__ == "__main__":
    main()
