"""Send budgets shared by replicas: two processes posting to one chat stay within its limit together."""

from __future__ import annotations

import asyncio
import time

from bot.channels.pacing import Budget
from bot.core.budgets import SharedBudgets
from bot.db import migrate
from bot.db.engine import create_engine
from bot.settings import Settings

PRIVATE = Budget(burst=3, per_second=4.0)  # Telegram's shape (a burst, then a steady rate), faster for the test


async def test_two_replicas_together_stay_within_one_chats_budget(pg_settings: Settings) -> None:
    engines = [create_engine(pg_settings.database_url, schema=pg_settings.database_schema) for _ in range(2)]
    await migrate.upgrade(engines[0])
    granted: list[float] = []

    async def replica(budgets: SharedBudgets, until: float) -> None:
        while time.monotonic() < until:
            wait = await budgets.take("telegram:42", PRIVATE)
            if wait == 0:
                granted.append(time.monotonic())
            await asyncio.sleep(min(wait, 0.01) if wait else 0.005)

    try:
        started = time.monotonic()
        await asyncio.gather(*(replica(SharedBudgets(e), started + 2.0) for e in engines))
        assert await SharedBudgets(engines[0]).take("telegram:other", PRIVATE) == 0  # keys are apart
    finally:
        for e in engines:
            await e.dispose()
    # Alone, each replica would have had its own 3 + 4/s; together they get one chat's worth.
    assert 3 + 4 * 2 - 1 <= len(granted) <= 3 + 4 * 2 + 1
    for i, moment in enumerate(granted):  # never more than the burst plus the rate within any second
        assert sum(1 for later in granted[i:] if later - moment <= 1.0) <= 3 + 4
