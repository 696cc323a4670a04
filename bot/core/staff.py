"""What the staff commands need to know and change: the sender's queues and tickets, colleagues by handle,
and their own availability (away, quiet hours)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update

from bot.core import tickets
from bot.core.context import Context
from bot.core.router import SECRETARIAT, STAFF
from bot.core.tickets import TicketView
from bot.db.models import Person, QueueMember, Ticket, table

T, P, QM = table(Ticket), table(Person), table(QueueMember)
HELD = ("open", "waiting")  # states of a ticket someone holds


async def held_ticket_ids(ctx: Context) -> list[int]:
    """The open or waiting tickets assigned to the sender."""
    return [r.id for r in await ctx.conn.execute(
        select(T.c.id).where(T.c.assignee_id == ctx.person.id, T.c.state.in_(HELD)).order_by(T.c.id))]


async def queues_of(ctx: Context) -> list[str]:
    """The queues the sender works in (all of them for the secretariat)."""
    if ctx.person.role == SECRETARIAT:
        return ctx.services.config.queue_ids
    return [r.queue_id for r in await ctx.conn.execute(select(QM.c.queue_id).where(QM.c.person_id == ctx.person.id))]


async def _tickets(ctx: Context, where: ColumnElement[bool]) -> list[TicketView]:
    ids = [r.id for r in await ctx.conn.execute(select(T.c.id).where(where).order_by(T.c.id))]
    return [v for i in ids if (v := await tickets.load(ctx.conn, i)) is not None]


async def unclaimed_tickets(ctx: Context) -> list[TicketView]:
    """The new tickets of the sender's queues."""
    return await _tickets(ctx, T.c.queue_id.in_(await queues_of(ctx)) & (T.c.state == "new"))


async def held_tickets(ctx: Context) -> list[TicketView]:
    """The open or waiting tickets assigned to the sender."""
    return await _tickets(ctx, (T.c.assignee_id == ctx.person.id) & T.c.state.in_(HELD))


async def staff_by_handle(ctx: Context, handle: str) -> int | None:
    """The staff member with this handle (a leading @ ignored)."""
    return (await ctx.conn.execute(select(P.c.id).where(P.c.handle == handle.lstrip("@"),
                                                        P.c.role.in_(STAFF)))).scalar()


async def set_away(ctx: Context, until: datetime | None) -> None:
    """The sender is away until then (None: back)."""
    await ctx.conn.execute(update(P).where(P.c.id == ctx.person.id).values(away_until=until))


async def set_quiet(ctx: Context, changes: dict[str, Any]) -> tuple[str | None, str]:
    """Store the sender's quiet hours / time zone changes; their quiet hours (None: the default) and time zone."""
    if changes:
        await ctx.conn.execute(update(P).where(P.c.id == ctx.person.id).values(**changes))
    row = (await ctx.conn.execute(select(P.c.quiet_hours, P.c.timezone).where(P.c.id == ctx.person.id))).one()
    return row.quiet_hours, row.timezone
