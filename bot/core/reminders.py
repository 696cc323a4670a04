"""Reminders to experts: queued by the SLA sweep, sent as one digest per expert, never in quiet hours.

An expert's quiet hours are their own (`person.quiet_hours`, in `person.timezone`) or the service
default (`[service_levels]` in the config: 20:00-08:00 and weekends). A digest lists every line waiting
for the expert and goes out at most once per `digest_minutes`; lines that fall in quiet hours wait
for the next allowed moment. Escalations to the secretariat never come here: they are sent at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import ServiceLevels, parse_quiet_hours
from bot.core.calendar import CalendarError, QuietHours
from bot.core.context import Context, Effects
from bot.core.services import Services
from bot.core.sla import local_time
from bot.core.tickets import notify_person
from bot.db.models import Person, SlaReminder, table
from bot.db.sql import skip_locked
from bot.i18n import t

log = logging.getLogger(__name__)
R, P = table(SlaReminder), table(Person)


def reminder_row(person_id: int, ticket_id: int | None, key: str, now: datetime, due_at: datetime | None = None,
                 **params: Any) -> dict[str, Any]:
    """A line for an expert's next digest: the locale key `key` filled with `params` (and `due`)."""
    return {"person_id": person_id, "ticket_id": ticket_id, "text_key": key, "params": params, "due_at": due_at,
            "created_at": now, "sent_at": None}


def quiet_hours(own: str | None, timezone: str, defaults: ServiceLevels) -> QuietHours:
    """A person's quiet hours (their own span, else the service default) in their time zone."""
    start, end = parse_quiet_hours(own or defaults.quiet_hours)
    try:
        return QuietHours(timezone, start, end, defaults.quiet_weekends)
    except CalendarError:
        log.warning("unknown time zone %r; quiet hours counted in UTC", timezone)
        return QuietHours("UTC", start, end, defaults.quiet_weekends)


async def flush_digests(engine: AsyncEngine, services: Services, now: datetime) -> int:
    """Send every expert whose digest may go now one message listing all their waiting lines."""
    async with engine.begin() as conn:
        return await flush_digests_on(conn, services, now)


async def flush_digests_on(conn: AsyncConnection, services: Services, now: datetime) -> int:
    """`flush_digests` in the caller's transaction."""
    defaults = services.config.service_levels
    waiting = list(await conn.execute(select(R).where(R.c.sent_at.is_(None)).order_by(R.c.person_id, R.c.id)
                                      .with_for_update(**skip_locked(conn))))
    if not waiting:
        return 0
    people = {r.person_id for r in waiting}
    last = dict((await conn.execute(select(R.c.person_id, func.max(R.c.sent_at))
                                    .where(R.c.person_id.in_(people), R.c.sent_at.is_not(None))
                                    .group_by(R.c.person_id))).all())
    info = {r.id: r for r in await conn.execute(select(P.c.id, P.c.language, P.c.timezone, P.c.quiet_hours)
                                                .where(P.c.id.in_(people)))}
    ctx = Context.system(services, conn, Effects(), now)
    sent: list[int] = []
    for person_id, rows in groupby(waiting, key=lambda r: r.person_id):
        lines = list(rows)
        person = info[person_id]
        if person_id in last and now < last[person_id] + timedelta(minutes=defaults.digest_minutes):
            continue
        quiet = quiet_hours(person.quiet_hours, person.timezone, defaults)
        if quiet.is_quiet(now):
            continue
        items = "\n".join("• " + t(r.text_key, person.language, **r.params,
                                   due=local_time(r.due_at, quiet.timezone) if r.due_at else "")
                          for r in lines)
        if not await notify_person(ctx, person_id, "sla.digest", None, count=len(lines), items=items):
            log.warning("person %s has no private chat; reminders dropped: %d", person_id, len(lines))
        sent += [r.id for r in lines]
    if sent:
        await conn.execute(update(R).where(R.c.id.in_(sent)).values(sent_at=now))
    await ctx.effects.write(conn)
    return len(ctx.effects.outbox)
