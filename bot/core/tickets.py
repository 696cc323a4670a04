"""Tickets: open, announce, claim, release, transfer, wait, resolve, reopen — every change in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.context import Context
from bot.core.spaces import direct_chats, queue_spaces
from bot.db.models import Message, Person, QueueMember, Ticket, TriageDecision, table
from bot.i18n import t

T = table(Ticket)
P = table(Person)
M = table(Message)
QM = table(QueueMember)

OPEN_STATES = ("new", "open", "waiting")
TRANSITIONS: dict[str, set[str]] = {
    "new": {"open", "resolved", "closed"},
    "open": {"new", "waiting", "resolved", "closed"},
    "waiting": {"open", "new", "resolved", "closed"},
    "resolved": {"open", "new", "closed"},
    "closed": {"new", "open"},
}
PRIORITIES = ("low", "normal", "high", "urgent")


class TransitionError(ValueError):
    """A state change the life cycle does not allow."""


@dataclass(frozen=True)
class TicketView:
    """A ticket as handlers and cards need it."""

    id: int
    queue_id: str
    state: str
    priority: str
    person_id: int
    assignee_id: int | None
    assignee_name: str | None
    language: str
    question: str
    channel: str
    chat_id: str
    resolved_at: datetime | None
    first_response_at: datetime | None
    summary: str | None


def check_transition(current: str, new: str) -> None:
    """Raise TransitionError unless the life cycle allows current → new."""
    if new not in TRANSITIONS.get(current, set()):
        raise TransitionError(f"a {current} ticket cannot become {new}")


async def load(conn: AsyncConnection, ticket_id: int) -> TicketView | None:
    """One ticket with its assignee's name."""
    A = P.alias("assignee")
    row = (await conn.execute(
        select(T.c.id, T.c.queue_id, T.c.state, T.c.priority, T.c.person_id, T.c.assignee_id,
               A.c.display_name.label("assignee_name"), T.c.language, T.c.question, T.c.channel,
               T.c.chat_id, T.c.resolved_at, T.c.first_response_at, T.c.summary)
        .outerjoin(A, A.c.id == T.c.assignee_id).where(T.c.id == ticket_id))).first()
    return TicketView(**row._mapping) if row else None


async def set_state(ctx: Context, ticket: TicketView, new: str, **values: Any) -> None:
    """The one way a ticket changes state: checked, timestamped, audited."""
    check_transition(ticket.state, new)
    await ctx.conn.execute(update(T).where(T.c.id == ticket.id)
                           .values(state=new, updated_at=ctx.now, **values))
    ctx.audit(f"state:{ticket.state}->{new}", ticket_id=ticket.id)


async def profile_line(conn: AsyncConnection, person_id: int) -> str:
    """'Kenya · Ministry of Energy · energy' — what experts see of the practitioner."""
    row = (await conn.execute(select(P.c.display_name, P.c.country, P.c.institution, P.c.job_title,
                                     P.c.sector).where(P.c.id == person_id))).one()
    parts = [p for p in (row.country, row.institution, row.job_title, row.sector) if p]
    return f"{row.display_name} ({' · '.join(parts)})" if parts else row.display_name


async def card_text(ctx: Context, ticket: TicketView, lang: str) -> str:
    """The ticket announcement as shown in the queue's space."""
    if ticket.state in ("resolved", "closed"):
        status = t("card.status_resolved", lang)
    elif ticket.assignee_name:
        status = t("card.status_claimed", lang, name=ticket.assignee_name)
    else:
        status = t("card.status_new", lang)
    return t("card.text", lang, id=ticket.id, queue=ticket.queue_id, priority=ticket.priority,
             language=ticket.language, who=await profile_line(ctx.conn, ticket.person_id),
             question=ticket.question, status=status)


async def announce(ctx: Context, ticket: TicketView, *, edit: bool) -> None:
    """Post (or update) the ticket's card in every space of its queue."""
    lang = ctx.services.config.service.default_language
    text = await card_text(ctx, ticket, lang)
    buttons = []
    if ticket.state in ("new",) and ticket.assignee_id is None:
        buttons = [ctx.button(t("card.claim", lang), "claim", ticket.id),
                   ctx.button(t("card.transfer", lang), "xfer", ticket.id),
                   ctx.button(t("card.not_ours", lang), "notours", ticket.id)]
    for space in queue_spaces(ctx.services.config, ticket.queue_id):
        ctx.send(space.channel, space.chat, text, buttons, ticket_id=ticket.id,
                 kind="edit" if edit else "send", ref="card")


async def open_ticket(ctx: Context, question: str, queue_id: str, message_id: int | None,
                      reasons: list[str]) -> TicketView:
    """Create a ticket for the sender's question, announce it and tell them its number."""
    values = {"queue_id": queue_id, "state": "new", "priority": "normal", "person_id": ctx.person.id,
              "language": ctx.lang, "question": question, "channel": ctx.msg.channel,
              "chat_id": ctx.msg.chat_id, "created_at": ctx.now, "updated_at": ctx.now, "breached": False}
    values |= ctx.services.sla.on_open(queue_id, "normal", ctx.now)
    ticket_id = (await ctx.conn.execute(insert(T).values(**values).returning(T.c.id))).scalar_one()
    if message_id is not None:
        await ctx.conn.execute(update(M).where(M.c.id == message_id).values(ticket_id=ticket_id))
        await ctx.conn.execute(update(table(TriageDecision))
                               .where(table(TriageDecision).c.message_id == message_id)
                               .values(ticket_id=ticket_id))
    ctx.audit("ticket.open", ticket_id=ticket_id, queue=queue_id, reasons=reasons)
    ticket = await load(ctx.conn, ticket_id)
    assert ticket is not None
    await announce(ctx, ticket, edit=False)
    promise = ctx.services.sla.promise(queue_id, "normal", ctx.lang)
    ctx.reply(ctx.t("ticket.opened", id=ticket_id, queue=queue_id, promise=promise), ticket_id=ticket_id)
    return ticket


async def open_tickets_of(conn: AsyncConnection, person_id: int) -> list[TicketView]:
    """A practitioner's tickets that are not resolved or closed, newest first."""
    ids = [r.id for r in await conn.execute(
        select(T.c.id).where(T.c.person_id == person_id, T.c.state.in_(OPEN_STATES)).order_by(T.c.id.desc()))]
    return [v for i in ids if (v := await load(conn, i)) is not None]


async def notify_person(ctx: Context, person_id: int, text: str, ticket_id: int | None = None,
                        buttons: list[Any] | None = None) -> bool:
    """Send a private message to a person on their most recent channel; False when unreachable."""
    chats = await direct_chats(ctx.conn, person_id)
    if not chats:
        return False
    channel, chat = chats[0]
    ctx.send(channel, chat, text, buttons or [], person_id=person_id, ticket_id=ticket_id)
    return True


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    """Number of tickets in each state."""
    return {r.state: r.n for r in await conn.execute(
        select(T.c.state, func.count().label("n")).group_by(T.c.state))}


async def is_member(conn: AsyncConnection, person_id: int, queue_id: str, lead: bool = False) -> bool:
    """Is the person an expert (or lead) of the queue?"""
    query = select(QM.c.person_id).where(QM.c.person_id == person_id, QM.c.queue_id == queue_id)
    if lead:
        query = query.where(QM.c.is_lead.is_(True))
    return (await conn.execute(query)).first() is not None
