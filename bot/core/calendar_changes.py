"""Calendar changes that apply at once.

Adding or removing a closed day, or changing a queue's working hours in the config, moves the deadlines
already stored on the queue's open tickets (in the transaction of the change, one audit row per ticket
moved), and every running process picks up the new calendars at its next SLA sweep (`follow_calendars`,
through the `calendar_version` setting the change bumps).

A stored deadline keeps the business time it had left: counted from now (from the pause, for a ticket
waiting on the practitioner) under the old calendar, and laid out again from the same moment under the new
one. Deadlines already passed stay as they are. The escalation ladder and pre-breach warnings are computed
from the calendar at each check, so they follow by themselves.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import CalendarConfig, ServiceConfig
from bot.core.calendar import add_business_time, business_time_between
from bot.core.closed_days import add_closed_day, closed_days_by_queue, remove_closed_day
from bot.core.services import Services
from bot.core.sla import SlaClock
from bot.core.sla_due import next_check
from bot.core.tickets import OPEN_STATES
from bot.db.models import AppSetting, Audit, Ticket, table
from bot.db.sql import insert_ignore

S, T, A = table(AppSetting), table(Ticket), table(Audit)
VERSION_KEY = "calendar_version"  # changes whenever a calendar does: processes reload theirs
SNAPSHOT_KEY = "calendar_snapshot"  # each queue's calendar as the config last had it
DEADLINES = ("first_response_due", "next_response_due", "resolution_due", "claim_expires_at")


def moved_deadlines(ticket: Mapping[str, Any], old: SlaClock, new: SlaClock, now: datetime) -> dict[str, datetime]:
    """The stored deadlines of an open ticket that move from the `old` calendars to the `new` ones."""
    queue_id, priority = ticket["queue_id"], ticket["priority"]
    before, after = old.calendar(queue_id, priority), new.calendar(queue_id, priority)
    start = ticket["sla_paused_at"] or now
    moved = {}
    for column in DEADLINES:
        due = ticket[column]
        if due is None or due <= start:
            continue
        again = add_business_time(start, business_time_between(start, due, before), after)
        if again != due:
            moved[column] = again
    return moved


async def apply_calendar_change(conn: AsyncConnection, old: SlaClock, new: SlaClock, now: datetime,
                                queues: Collection[str], reason: str) -> int:
    """Move the stored deadlines of the open tickets of `queues` to the new calendars, audit each ticket moved,
    and tell every process to reload its calendars; returns how many tickets moved."""
    rows = await conn.execute(select(T).where(T.c.queue_id.in_(list(queues)), T.c.state.in_(OPEN_STATES))
                              .order_by(T.c.id).with_for_update())
    audits = []
    for row in (dict(r._mapping) for r in rows):
        moved = moved_deadlines(row, old, new, now)
        if not moved:
            continue
        check = next_check(row | moved, new, now)
        await conn.execute(update(T).where(T.c.id == row["id"]).values(**moved, sla_next_at=check, updated_at=now))
        audits.append({"at": now, "actor_id": None, "action": "sla.calendar_change", "ticket_id": row["id"],
                       "allowed": True, "detail": {"reason": reason, "moved": {
                           column: [row[column].isoformat(), at.isoformat()] for column, at in moved.items()}}})
    if audits:
        await conn.execute(insert(A), audits)
    await _set(conn, VERSION_KEY, uuid.uuid4().hex)
    return len(audits)


async def change_closed_day(conn: AsyncConnection, config: ServiceConfig, queue_id: str, day: date, now: datetime,
                            name: str | None = None) -> int | None:
    """Close a queue on `day` (with a `name`) or open it again (`name` None), moving the deadlines of its open
    tickets; returns how many moved, or None when nothing changed (closed already / not a closed day)."""
    old = SlaClock(config, await closed_days_by_queue(conn))
    if name is None:
        changed = await remove_closed_day(conn, queue_id, day)
    else:
        changed = await add_closed_day(conn, queue_id, day, name, now)
    if not changed:
        return None
    new = SlaClock(config, await closed_days_by_queue(conn))
    what = f"closed day {day} {'removed' if name is None else 'added'}"
    return await apply_calendar_change(conn, old, new, now, [queue_id], what)


def _snapshot(config: ServiceConfig) -> dict[str, Any]:
    return {q.id: config.calendars[q.calendar].model_dump(mode="json") for q in config.queues}


async def follow_config_calendars(conn: AsyncConnection, config: ServiceConfig, now: datetime) -> int:
    """At start: when the config's calendars (working days, hours, time zone…) differ from those it had at
    the last start, move the stored deadlines of the changed queues' open tickets; returns how many moved.

    Replicas starting at once with the new config: the first to store the new snapshot does the work.
    """
    current = _snapshot(config)
    text = json.dumps(current, sort_keys=True)
    await conn.execute(insert_ignore(conn, S, ["key"]).values(key=SNAPSHOT_KEY, value=text))
    stored = (await conn.execute(select(S.c.value).where(S.c.key == SNAPSHOT_KEY))).scalar_one()
    if stored == text:
        return 0
    won = await conn.execute(update(S).where(S.c.key == SNAPSHOT_KEY, S.c.value == stored).values(value=text))
    if not won.rowcount:
        return 0
    before = json.loads(stored)
    changed = [q for q in config.queue_ids if q in before and before[q] != current[q]]
    if not changed:
        return 0
    calendars = dict(config.calendars) | {f"previous:{q}": CalendarConfig.model_validate(before[q]) for q in changed}
    queues = [q.model_copy(update={"calendar": f"previous:{q.id}"}) if q.id in changed else q for q in config.queues]
    previous = config.model_copy(update={"calendars": calendars, "queues": queues})
    closed = await closed_days_by_queue(conn)
    return await apply_calendar_change(conn, SlaClock(previous, closed), SlaClock(config, closed), now, changed,
                                       "working calendar changed in the config")


async def follow_calendars(engine: AsyncEngine, services: Services) -> bool:
    """Reload the calendars (custom closed days) when another process changed them; True when reloaded."""
    async with engine.connect() as conn:
        version = (await conn.execute(select(S.c.value).where(S.c.key == VERSION_KEY))).scalar() or ""
        if version == services.calendar_version:
            return False
        closed = await closed_days_by_queue(conn)
    services.sla = SlaClock(services.config, closed)
    services.calendar_version = version
    return True


async def _set(conn: AsyncConnection, key: str, value: str) -> None:
    await conn.execute(insert_ignore(conn, S, ["key"]).values(key=key, value=value))
    await conn.execute(update(S).where(S.c.key == key).values(value=value))
