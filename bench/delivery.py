"""Delivery figures the channel benchmarks share: order within a chat, latency, posts per chat per second."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from bot.channels.base import split_post_id
from bot.db.engine import create_engine
from bot.db.models import Outbox, table


def pct(values: list[float], p: float) -> float:
    """The p-quantile of seconds, in ms (0 when there are none)."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else 0.0


class Deliveries:
    """Every post the fake Telegram accepted, by chat, with when (hook it up as `FakeTelegram.on_send`)."""

    def __init__(self) -> None:
        self.at: dict[int, list[float]] = defaultdict(list)

    def __call__(self, message: dict[str, Any]) -> None:
        self.at[message["chat"]["id"]].append(time.perf_counter())

    def most_per_chat_second(self) -> int:
        """The most posts one chat got within any second."""
        most = 0
        for times in self.at.values():
            start = 0
            for end, moment in enumerate(times):
                while moment - times[start] > 1.0:
                    start += 1
                most = max(most, end - start + 1)
        return most

    def latencies(self, asked: dict[int, list[float]]) -> list[float]:
        """Seconds from each message to its reply, the k-th reply of a chat taken as the k-th message's
        (true when every message gets one reply and the chat's replies keep their order)."""
        return [reply - sent for chat, times in asked.items()
                for sent, reply in zip(times, self.at[chat], strict=False)]


async def out_of_order(database_url: str, schema: str | None) -> int:
    """Outbox rows sent to Telegram after a later row of their chat (the fake numbers posts as they come)."""
    from sqlalchemy import select

    o = table(Outbox)
    engine = create_engine(database_url, schema=schema)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(o.c.chat_id, o.c.external_id).where(
                o.c.channel == "telegram", o.c.kind == "send", o.c.status == "sent").order_by(o.c.id))
            newest: dict[str, int] = {}
            late = 0
            for chat, external_id in rows:
                number = int(split_post_id(external_id or "")[1] or 0)
                late += number < newest.get(chat, 0)
                newest[chat] = max(newest.get(chat, 0), number)
            return late
    finally:
        await engine.dispose()
