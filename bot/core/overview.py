"""What a person has going on: their open questions; for staff, their queues' waiting tickets and their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.models import Identity, Person, QueueMember, Ticket, table

P, I, T, QM = table(Person), table(Identity), table(Ticket), table(QueueMember)  # noqa: E741
OPEN = ("new", "open", "waiting")
LIMIT = 20


@dataclass(frozen=True)
class TicketLine:
    """One ticket in a list, with its nearest SLA due time."""

    id: int
    queue_id: str
    state: str
    question: str
    due: datetime | None


@dataclass(frozen=True)
class Overview:
    """A person's tickets as a home screen shows them."""

    role: str
    language: str
    timezone: str
    questions: list[TicketLine] = field(default_factory=list)
    waiting: list[TicketLine] = field(default_factory=list)
    claimed: list[TicketLine] = field(default_factory=list)


def _lines(rows: Any) -> list[TicketLine]:
    lines = []
    for r in rows:
        dues = [d for d in (r.first_response_due, r.next_response_due, r.resolution_due) if d is not None]
        lines.append(TicketLine(r.id, r.queue_id, r.state, r.question, min(dues) if dues else None))
    return lines


async def load_overview(conn: AsyncConnection, channel: str, external_user_id: str) -> Overview | None:
    """The overview of the person behind a channel account (None for someone the bot has not met)."""
    person = (await conn.execute(
        select(P.c.id, P.c.role, P.c.language, P.c.timezone).join(I, I.c.person_id == P.c.id)
        .where(I.c.channel == channel, I.c.external_user_id == external_user_id))).first()
    if person is None:
        return None
    columns = (T.c.id, T.c.queue_id, T.c.state, T.c.question, T.c.first_response_due, T.c.next_response_due,
               T.c.resolution_due)
    mine = await conn.execute(select(*columns).where(T.c.person_id == person.id, T.c.state.in_(OPEN))
                              .order_by(T.c.id.desc()).limit(LIMIT))
    overview = Overview(person.role, person.language, person.timezone or "UTC", _lines(mine))
    if person.role == "practitioner":
        return overview
    queues = select(QM.c.queue_id).where(QM.c.person_id == person.id)
    in_queues = T.c.queue_id.in_(queues) if person.role != "secretariat" else T.c.id.is_not(None)
    waiting = await conn.execute(select(*columns).where(in_queues, T.c.state == "new")
                                 .order_by(T.c.first_response_due, T.c.id).limit(LIMIT))
    claimed = await conn.execute(select(*columns).where(T.c.assignee_id == person.id, T.c.state.in_(OPEN))
                                 .order_by(T.c.id).limit(LIMIT))
    overview.waiting.extend(_lines(waiting))
    overview.claimed.extend(_lines(claimed))
    return overview
