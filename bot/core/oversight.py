"""What the secretariat's chat commands read and change: ticket counts, the expert roster, blocking people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from bot.core.context import Context
from bot.db.models import Person, QueueMember, Ticket, table

T, P, QM = table(Ticket), table(Person), table(QueueMember)


async def ticket_counts(ctx: Context) -> dict[str, dict[str, int]]:
    """Per queue, how many tickets are in each state."""
    rows = await ctx.conn.execute(select(T.c.queue_id, T.c.state, func.count().label("n"))
                                  .group_by(T.c.queue_id, T.c.state).order_by(T.c.queue_id))
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.queue_id, {})[r.state] = r.n
    return counts


@dataclass(frozen=True)
class Member:
    """A queue member as the roster shows them."""

    display_name: str
    handle: str
    away_until: datetime | None
    queues: tuple[str, ...]  # a lead's queues end in "*"
    load: int  # open or waiting tickets assigned


async def roster(ctx: Context) -> list[Member]:
    """Every queue member, by handle, with their queues and how many tickets they hold."""
    load: dict[int, int] = dict((await ctx.conn.execute(
        select(T.c.assignee_id, func.count()).where(T.c.state.in_(("open", "waiting")))
        .group_by(T.c.assignee_id))).all())
    rows = await ctx.conn.execute(select(P.c.id, P.c.handle, P.c.display_name, P.c.away_until, QM.c.queue_id,
                                         QM.c.is_lead).join(QM, QM.c.person_id == P.c.id).order_by(P.c.handle))
    people: dict[int, Member] = {}
    for r in rows:
        queue = r.queue_id + ("*" if r.is_lead else "")
        known = people.get(r.id)
        people[r.id] = Member(r.display_name, r.handle, r.away_until, (*(known.queues if known else ()), queue),
                              load.get(r.id, 0))
    return list(people.values())


async def person_named(ctx: Context, target: str) -> int | None:
    """The person an '@handle' or a ticket number ('#12', '12', its practitioner) names."""
    if target.startswith("@"):
        return (await ctx.conn.execute(select(P.c.id).where(P.c.handle == target[1:]))).scalar()
    return (await ctx.conn.execute(select(T.c.person_id).where(T.c.id == int(target.lstrip("#"))))).scalar()


async def set_blocked(ctx: Context, person_id: int, blocked: bool) -> None:
    """Block the person (their messages are stored, not processed) or unblock them; audited."""
    await ctx.conn.execute(update(P).where(P.c.id == person_id).values(blocked=blocked))
    ctx.audit("person.block" if blocked else "person.unblock", person=person_id)
