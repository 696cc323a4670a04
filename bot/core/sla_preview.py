"""The operator's clock: what the SLA job would send at a given time, without sending it.

The preview runs the real sweep and digest flush (`sla_round`'s two halves) at that time in ONE transaction,
reads the outbox rows they wrote and rolls everything back: nothing is sent, no event is recorded, and the
listing is exactly what the job writes when it runs at that time on the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.reminders import flush_digests_on
from bot.core.services import Services
from bot.core.sla_sweep import sweep_on
from bot.db.models import Outbox, Person, table

O, P = table(Outbox), table(Person)  # noqa: E741


@dataclass(frozen=True)
class PlannedMessage:
    """A message the SLA job would send."""

    channel: str
    chat_id: str
    to: str  # the person's handle or name, or "" for a group space (queue, secretariat)
    ticket_id: int | None
    kind: str  # "send", or "edit" of an earlier post (a ticket's card)
    text: str


async def preview(engine: AsyncEngine, services: Services, at: datetime) -> list[PlannedMessage]:
    """The messages `sla_round` would write at `at`, in the order it writes them; the database is unchanged."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            before = (await conn.execute(select(func.coalesce(func.max(O.c.id), 0)))).scalar_one()
            await sweep_on(conn, services, at)
            await flush_digests_on(conn, services, at)
            rows = await conn.execute(
                select(O.c.channel, O.c.chat_id, func.coalesce(P.c.handle, P.c.display_name, "").label("to"),
                       O.c.ticket_id, O.c.kind, O.c.text)
                .outerjoin(P, P.c.id == O.c.person_id).where(O.c.id > before).order_by(O.c.id))
            return [PlannedMessage(*r) for r in rows]
        finally:
            await transaction.rollback()
