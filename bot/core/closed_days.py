"""Custom closed days per queue (holidays the secretariat adds), kept in the database.

Public holidays come from the calendar's country; these are the extra ones (`helpdesk calendar
add-holiday`). The help desk loads them into its SlaClock when it starts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.models import ClosedDay, table
from bot.db.sql import insert_ignore

CD = table(ClosedDay)


async def closed_days_by_queue(conn: AsyncConnection) -> dict[str, list[date]]:
    """Every custom closed day, by queue (what SlaClock takes as `extra_closed`)."""
    found: dict[str, list[date]] = defaultdict(list)
    for r in await conn.execute(select(CD.c.queue_id, CD.c.day).order_by(CD.c.day)):
        found[r.queue_id].append(r.day)
    return found


async def list_closed_days(conn: AsyncConnection, queue_id: str | None = None) -> Sequence[Any]:
    """(queue_id, day, name) rows, by queue and date."""
    query = select(CD.c.queue_id, CD.c.day, CD.c.name).order_by(CD.c.queue_id, CD.c.day)
    if queue_id is not None:
        query = query.where(CD.c.queue_id == queue_id)
    return list(await conn.execute(query))


async def add_closed_day(conn: AsyncConnection, queue_id: str, day: date, name: str, now: datetime) -> bool:
    """Close a queue on `day`; False when it was closed already."""
    stmt = insert_ignore(conn, CD, ["queue_id", "day"]).values(queue_id=queue_id, day=day, name=name, created_at=now)
    return bool((await conn.execute(stmt)).rowcount)


async def remove_closed_day(conn: AsyncConnection, queue_id: str, day: date) -> bool:
    """Open a queue again on `day`; False when it was not a custom closed day."""
    return bool((await conn.execute(delete(CD).where(CD.c.queue_id == queue_id, CD.c.day == day))).rowcount)
