"""Send budgets shared by every replica, in the database: a chat's posts per second across all processes.

Each key (channel and chat) keeps a theoretical arrival time (GCRA, the token bucket's twin): a post
is allowed when that time is at most `burst - 1` intervals ahead of now, and moves it one interval on.
One UPDATE per post; used on PostgreSQL, where several replicas may post to one chat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Float, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import SendBudget, table
from bot.db.sql import insert_ignore

B = table(SendBudget)
_NOW, _TOLERANCE, _INTERVAL = (bindparam(name, type_=Float) for name in ("now", "tolerance", "interval"))
_TAKE = (update(B).where(B.c.key == bindparam("k"), B.c.tat <= _NOW + _TOLERANCE)
         .values(tat=func.greatest(B.c.tat, _NOW) + _INTERVAL).returning(B.c.tat))


@dataclass(frozen=True)
class Budget:
    """`burst` posts at once, refilled at `per_second`."""

    burst: float
    per_second: float


class SharedBudgets:
    """Per-key budgets every replica takes from."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def take(self, key: str, budget: Budget) -> float:
        """Use one post of `key`'s budget: 0 when taken, else the seconds to wait (nothing taken)."""
        interval = 1.0 / budget.per_second
        tolerance = (budget.burst - 1) * interval
        now = time.time()
        params = {"k": key, "now": now, "tolerance": tolerance, "interval": interval}
        async with self._engine.begin() as conn:
            if (await conn.execute(_TAKE, params)).first() is not None:
                return 0.0
            added = await conn.execute(insert_ignore(conn, B, ["key"]).values(key=key, tat=now + interval))
            if added.rowcount:
                return 0.0
            tat = (await conn.execute(select(B.c.tat).where(B.c.key == key))).scalar_one()
        return max(0.001, tat - tolerance - now)
