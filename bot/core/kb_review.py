"""Remind the owners of FAQ entries past their review-by date, through the experts' digests (weekly)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.kb_metrics import StaleEntry, stale_entries
from bot.core.knowledge import load_entries
from bot.core.reminders import reminder_row
from bot.core.services import Services
from bot.core.tickets import reachable
from bot.db.models import AppSetting, Person, QueueMember, SlaReminder, table
from bot.db.sql import insert_ignore

S, P, QM, R = table(AppSetting), table(Person), table(QueueMember), table(SlaReminder)
REMINDED_KEY = "kb_review_reminded_at"
EVERY = timedelta(days=7)


async def owners(conn: AsyncConnection, entry: StaleEntry, secretariat: list[str]) -> list[int]:
    """Who answers for an entry: the person whose handle is its owner, else its queue's leads
    (owners like "energy-lead" name that role), else the secretariat."""
    person = (await conn.execute(select(P.c.id).where(P.c.handle == entry.owner))).scalar()
    if person is not None:
        return [int(person)]
    leads = [int(r.person_id) for r in await conn.execute(
        select(QM.c.person_id).where(QM.c.queue_id == entry.queue, QM.c.is_lead.is_(True),
                                     reachable(QM.c.person_id)))]
    if leads:
        return leads
    return [int(r.id) for r in await conn.execute(select(P.c.id).where(P.c.handle.in_(secretariat), reachable(P.c.id)))]


async def remind_stale_owners(engine: AsyncEngine, services: Services, now: datetime) -> int:
    """Add one digest line per stale entry to its owners, at most once a week across processes."""
    async with engine.begin() as conn:
        await conn.execute(insert_ignore(conn, S, ["key"]).values(key=REMINDED_KEY, value=""))
        claimed = await conn.execute(update(S).where(S.c.key == REMINDED_KEY, S.c.value < (now - EVERY).isoformat())
                                     .values(value=now.isoformat()))
        if not claimed.rowcount:
            return 0
        rows = []
        for entry in stale_entries(await load_entries(conn), now.date()):
            for person in await owners(conn, entry, services.config.service.secretariat):
                rows.append(reminder_row(person, None, "kb.stale_line", now, entry=entry.entry_id,
                                         days=entry.days_overdue))
        if rows:
            await conn.execute(insert(R), rows)
    return len(rows)
