"""Tickets: open, announce, claim, release, transfer, wait, resolve, reopen — every change in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Update, bindparam, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceInfo, Space
from bot.core.context import Context, Effects, TicketReads
from bot.core.context import Person as Sender
from bot.core.conversation import Waiting
from bot.core.files import relay_to_web
from bot.core.kb_drafts import draft_from_ticket
from bot.core.messages import Attachment, Button, IncomingMessage
from bot.core.router import arguments
from bot.core.sla_due import next_check
from bot.core.spaces import newest_private_chat, private_chat, queue_spaces, secretariat_spaces
from bot.db.driver import mappings
from bot.db.models import Identity, Message, Outbox, Person, Queue, QueueMember, Ticket, TriageDecision, table
from bot.db.sql import one_of, per_dialect
from bot.i18n import t

T = table(Ticket)
P = table(Person)
I = table(Identity)  # noqa: E741
M = table(Message)
QM = table(QueueMember)
Q = table(Queue)
O = table(Outbox)  # noqa: E741

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
    closed_at: datetime | None
    first_response_at: datetime | None
    summary: str | None
    created_at: datetime
    who: str  # the practitioner as experts see them: name (country · institution · job · sector)
    # Where the assignee is reached privately (channel, chat, language), when the query loaded it.
    assignee_reach: tuple[str, str, str] | None = None


def check_transition(current: str, new: str) -> None:
    """Raise TransitionError unless the life cycle allows current → new."""
    if new not in TRANSITIONS.get(current, set()):
        raise TransitionError(f"a {current} ticket cannot become {new}")


_ASSIGNEE = P.alias("assignee")
_ASKER = P.alias("asker")
_ASKER_COLUMNS = tuple(c.label(f"asker_{c.name}") for c in (
    _ASKER.c.display_name, _ASKER.c.country, _ASKER.c.institution, _ASKER.c.job_title, _ASKER.c.sector))


def _with_names(query: Select[Any]) -> Select[Any]:
    """`query` on tickets, with their assignee's name and practitioner's profile columns."""
    return (query.add_columns(_ASSIGNEE.c.display_name.label("assignee_name"), *_ASKER_COLUMNS)
            .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == T.c.assignee_id).outerjoin(_ASKER, _ASKER.c.id == T.c.person_id))


# Built once: these run several times per ticket action, on the hot path.
_VIEWED = _with_names(select(T.c.id, T.c.queue_id, T.c.state, T.c.priority, T.c.person_id, T.c.assignee_id,
                             T.c.language, T.c.question, T.c.channel, T.c.chat_id, T.c.resolved_at,
                             T.c.closed_at, T.c.first_response_at, T.c.summary, T.c.created_at))
_LOAD = _VIEWED.where(T.c.id == bindparam("ticket_id"))
_IN_QUEUE = QM.alias("sender_in_queue")


def _staff_views_statement(dialect: str) -> Select[Any]:
    """Tickets (`tickets`) with the place in their queues of some staff members (`senders`): a row per ticket
    and member of its queue among them, or one without a member (saves a membership query per action)."""
    in_queue = (_IN_QUEUE.c.queue_id == T.c.queue_id) & one_of(_IN_QUEUE.c.person_id, "senders", dialect)
    return (_VIEWED.add_columns(_IN_QUEUE.c.person_id.label("member"), _IN_QUEUE.c.is_lead.label("member_is_lead"))
            .outerjoin(_IN_QUEUE, in_queue).where(one_of(T.c.id, "tickets", dialect)))


_STAFF_VIEWS = per_dialect(_staff_views_statement)
_ROW = _with_names(select(T)).where(T.c.id == bindparam("ticket_id"))
# What an update returns: the same columns as `_ROW`, the names by correlated subqueries.
_RETURNING = (*T.c, select(_ASSIGNEE.c.display_name).where(_ASSIGNEE.c.id == T.c.assignee_id)
              .scalar_subquery().label("assignee_name"),
              *(select(c.element).where(_ASKER.c.id == T.c.person_id).scalar_subquery().label(c.name)
                for c in _ASKER_COLUMNS))
_VIEW_FIELDS = tuple(f.name for f in fields(TicketView) if f.name not in ("who", "assignee_reach"))
# A practitioner's open tickets, with where each assignee is reached (their messages are relayed there):
# what `private_chat` finds for the assignee.
_OPEN_OF = per_dialect(lambda dialect: _VIEWED.add_columns(
    newest_private_chat(T.c.assignee_id, I.c.channel).scalar_subquery().label("reach_channel"),
    newest_private_chat(T.c.assignee_id, I.c.chat_id).scalar_subquery().label("reach_chat"),
    _ASSIGNEE.c.language.label("reach_language"))
    .where(one_of(T.c.person_id, "people", dialect), T.c.state.in_(OPEN_STATES)).order_by(T.c.id.desc()))
_IS_MEMBER = select(QM.c.person_id).where(QM.c.person_id == bindparam("person_id"),
                                          QM.c.queue_id == bindparam("queue_id"))
_IS_LEAD = _IS_MEMBER.where(QM.c.is_lead.is_(True))
_OPEN_COUNT = select(func.count()).select_from(T).where(T.c.person_id == bindparam("person_id"),
                                                        T.c.state.in_(OPEN_STATES))
_NEW_TICKET = insert(T).returning(T.c.id)


def _view(m: Mapping[str, Any]) -> TicketView:
    """A TicketView from a row of `_LOAD`, `_ROW` or `_OPEN_OF`."""
    who = _profile_text(m["asker_display_name"], m["asker_country"], m["asker_institution"], m["asker_job_title"],
                        m["asker_sector"])
    reach = (m["reach_channel"], m["reach_chat"], m["reach_language"]) if m.get("reach_chat") else None
    return TicketView(**{name: m[name] for name in _VIEW_FIELDS}, who=who, assignee_reach=reach)


async def ticket_of_reply(ctx: Context) -> int | None:
    """The ticket of the bot message the sender replied to (Telegram reply, Slack thread), if any."""
    if ctx.msg.reply_to is None:
        return None
    return (await ctx.conn.execute(select(O.c.ticket_id).where(
        O.c.channel == ctx.msg.channel, O.c.external_id == ctx.msg.reply_to))).scalar()


async def load(conn: AsyncConnection, ticket_id: int) -> TicketView | None:
    """One ticket with its assignee's name and its practitioner's profile."""
    rows = await mappings(conn, _LOAD, {"ticket_id": ticket_id})
    return _view(rows[0]) if rows else None


UNCLAIMED = (T.c.assignee_id.is_(None), T.c.state == "new")  # the condition of a claim
_CHANGES: dict[tuple[tuple[str, ...], tuple[Any, ...]], Update] = {}


def _change(columns: tuple[str, ...], conditions: tuple[Any, ...]) -> Update:
    """The update of these columns under these conditions, built once (its SQL and cache key are reused)."""
    key = (columns, conditions)
    if key not in _CHANGES:
        _CHANGES[key] = (update(T).where(T.c.id == bindparam("ticket_id"), *conditions)
                         .values({c: bindparam(f"new_{c}") for c in columns}).returning(*_RETURNING))
    return _CHANGES[key]


async def change(ctx: Context, ticket_id: int, conditions: tuple[Any, ...] = (), /,
                 **values: Any) -> Mapping[str, Any] | None:
    """Update a ticket (when `conditions`, a module constant such as UNCLAIMED, hold); its whole new row, or
    None when nothing matched."""
    stmt = _change(tuple(sorted(values)), conditions)
    params = {"ticket_id": ticket_id} | {f"new_{c}": v for c, v in values.items()}
    rows = await mappings(ctx.conn, stmt, params)
    if not rows:
        return None
    ctx.effects.reads.forget(ticket_id, rows[0]["person_id"])
    return rows[0]


async def transition(ctx: Context, ticket: TicketView, new: str, **values: Any) -> Mapping[str, Any]:
    """The one way a ticket changes state: checked, timestamped, audited; returns the new row."""
    check_transition(ticket.state, new)
    row = await change(ctx, ticket.id, state=new, updated_at=ctx.now, **values)
    assert row is not None
    ctx.audit(f"state:{ticket.state}->{new}", ticket_id=ticket.id)
    return row


def _profile_text(name: str | None, *details: str | None) -> str:
    """'Amina (Kenya · Ministry of Energy · energy)' — what experts see of the practitioner."""
    name = name or "?"
    parts = [p for p in details if p]
    return f"{name} ({' · '.join(parts)})" if parts else name


async def card_text(ctx: Context, ticket: TicketView, lang: str) -> str:
    """The ticket announcement as shown in the queue's space."""
    if ticket.state in ("resolved", "closed"):
        status = t("card.status_resolved", lang)
    elif ticket.assignee_name:
        status = t("card.status_claimed", lang, name=ticket.assignee_name)
    else:
        status = t("card.status_new", lang)
    return t("card.text", lang, id=ticket.id, queue=ticket.queue_id, priority=ticket.priority,
             language=ticket.language, who=ticket.who,
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
    for space in await spaces_of(ctx, ticket.queue_id):
        ctx.send(space.channel, space.chat, text, buttons, ticket_id=ticket.id,
                 kind="edit" if edit else "send", ref="card")


async def spaces_of(ctx: Context, queue_id: str) -> list[Space]:
    """Where a queue's tickets are announced (read once per batch)."""
    if queue_id not in ctx.effects.spaces:
        ctx.effects.spaces[queue_id] = await queue_spaces(ctx.conn, ctx.services.config, queue_id)
    return ctx.effects.spaces[queue_id]


async def post_in_queue(ctx: Context, ticket: TicketView, key: str, attachments: Sequence[Attachment] = (),
                        **values: object) -> None:
    """Post a text about a ticket in every space of its queue, in the thread of the ticket's card."""
    lang = ctx.services.config.service.default_language
    for space in await spaces_of(ctx, ticket.queue_id):
        ctx.send(space.channel, space.chat, t(key, lang, id=ticket.id, **values), ticket_id=ticket.id,
                 thread_ref="card", attachments=attachments)


async def open_ticket(ctx: Context, question: str, queue_id: str, message_id: int | None,
                      reasons: list[str]) -> TicketView | None:
    """Create a ticket for the sender's question, announce it and tell them its number.

    None when the practitioner already has the maximum number of open tickets (they are told).
    """
    limit = ctx.services.config.service.max_open_tickets
    open_now = (await ctx.conn.execute(_OPEN_COUNT, {"person_id": ctx.person.id})).scalar_one()
    if open_now >= limit:
        ctx.reply(ctx.t("ticket.too_many", limit=limit))
        ctx.audit("ticket.too_many", open=open_now)
        return None
    values = {"queue_id": queue_id, "state": "new", "priority": "normal", "person_id": ctx.person.id,
              "language": ctx.lang, "question": question, "channel": ctx.msg.channel,
              "chat_id": ctx.msg.chat_id, "created_at": ctx.now, "updated_at": ctx.now, "breached": False}
    values |= ctx.services.sla.on_open(queue_id, "normal", ctx.now)
    values |= await auto_assignee(ctx, queue_id, ctx.lang)
    ticket_id = (await ctx.conn.execute(_NEW_TICKET, values)).scalar_one()
    ctx.effects.reads.forget(ticket_id, ctx.person.id)
    ticket = await reschedule(ctx, ticket_id)
    if message_id == ctx.message_id:
        ctx.effects.join_thread(message_id, ticket_id, internal=False)
    elif message_id is not None:  # a question asked earlier (e.g. "talk to an expert" under suggestions)
        await ctx.conn.execute(update(M).where(M.c.id == message_id).values(ticket_id=ticket_id))
    if message_id is not None and not ctx.effects.link_triage(message_id, ticket_id):  # decided earlier: stored
        await ctx.conn.execute(update(table(TriageDecision))
                               .where(table(TriageDecision).c.message_id == message_id)
                               .values(ticket_id=ticket_id))
    ctx.audit("ticket.open", ticket_id=ticket_id, queue=queue_id, reasons=reasons)
    await announce(ctx, ticket, edit=False)
    files = await opening_files(ctx, message_id)
    if files:
        await post_in_queue(ctx, ticket, "card.files", files)
    promise = ctx.services.sla.promise(queue_id, "normal", ctx.lang)
    ctx.reply(ctx.t("ticket.opened", id=ticket_id, queue=queue_id, promise=promise), ticket_id=ticket_id)
    if ticket.assignee_id is not None:
        ctx.audit("ticket.auto_assign", ticket_id=ticket_id, to=ticket.assignee_id)
        await notify_person(ctx, ticket.assignee_id, "ticket.assigned_to_you", ticket_id, attachments=files,
                            id=ticket_id, question=question, reason="auto")
    return ticket


async def opening_files(ctx: Context, message_id: int | None) -> tuple[Attachment, ...]:
    """The files that came with the question a ticket was opened for."""
    if message_id is None:
        return ()
    if message_id == ctx.message_id:
        return ctx.msg.attachments
    stored = (await ctx.conn.execute(select(M.c.attachments).where(M.c.id == message_id))).scalar()
    return tuple(Attachment(**a) for a in stored or ())


def reopen_since(service: ServiceInfo, now: datetime) -> datetime:
    """Tickets resolved or closed after this are reopened by the practitioner's next message."""
    return now - timedelta(days=service.reopen_days)


def within_reopen_window(service: ServiceInfo, ticket: TicketView, now: datetime) -> bool:
    """Was the ticket resolved (or closed) recently enough to reopen?"""
    ended = ticket.closed_at if ticket.state == "closed" else ticket.resolved_at
    return ended is None or ended >= reopen_since(service, now)


# A ticket the practitioner's next message reopens; `since` is `reopen_since`.
REOPENABLE = (((T.c.state == "closed") & (T.c.closed_at >= bindparam("since")))
              | ((T.c.state == "resolved") & (T.c.resolved_at >= bindparam("since"))))
_RECENTLY_ENDED = (select(T.c.id).where(T.c.person_id == bindparam("person_id"), REOPENABLE)
                   .order_by(T.c.id.desc()).limit(5))


async def recently_ended(ctx: Context) -> list[TicketView]:
    """The sender's tickets resolved or closed within the reopen window, newest first (at most five)."""
    found = (await ctx.conn.execute(_RECENTLY_ENDED, {
        "person_id": ctx.person.id, "since": reopen_since(ctx.services.config.service, ctx.now)})).scalars()
    return [view for ticket_id in found if (view := await load(ctx.conn, ticket_id)) is not None]


async def open_tickets_of(ctx: Context) -> list[TicketView]:
    """The sender's tickets that are not resolved or closed, newest first (read with the batch's, if it was)."""
    if ctx.person.id not in ctx.effects.reads.open_of:
        await _read_open_tickets(ctx.conn, ctx.effects.reads, {ctx.person.id})
    return list(ctx.effects.reads.open_of[ctx.person.id])


async def _read_open_tickets(conn: AsyncConnection, reads: TicketReads, people: set[int]) -> None:
    for person_id in people:
        reads.open_of[person_id] = []
    for row in await mappings(conn, _OPEN_OF(conn), {"people": sorted(people)}):
        reads.open_of[row["person_id"]].append(_view(row))


async def _read_staff_views(conn: AsyncConnection, reads: TicketReads, wanted: set[tuple[int, int]]) -> None:
    """Read (ticket, staff member) pairs: the ticket's view and the member's place in its queue."""
    found: dict[int, list[Mapping[str, Any]]] = {}
    for row in await mappings(conn, _STAFF_VIEWS(conn), {"tickets": sorted({ticket for ticket, _ in wanted}),
                                                         "senders": sorted({member for _, member in wanted})}):
        found.setdefault(row["id"], []).append(row)
    for ticket_id, member in wanted:
        rows = found.get(ticket_id)
        is_lead = next((r["member_is_lead"] for r in rows or () if r["member"] == member), None)
        reads.staff[(ticket_id, member)] = (_view(rows[0]), is_lead) if rows else None


# How a command names a ticket: "/claim 12 …" (or "#12"); at most 12 digits, which a BIGINT holds.
TICKET_ARG = re.compile(r"^#?(\d{1,12})\b\s*(.*)$", re.S)


async def prefetch(conn: AsyncConnection, effects: Effects, senders: Sequence[tuple[IncomingMessage, Sender]]) -> None:
    """Read at once, before a batch is handled, the tickets its messages will ask for: the ticket each staff
    command names and the open tickets of practitioners who have one and write text (one query each, instead
    of one per message; with a single such message it is read when asked, as before)."""
    named: set[tuple[int, int]] = set()
    askers: set[int] = set()
    for msg, person in senders:
        if person.is_staff and msg.text.startswith("/"):
            match = TICKET_ARG.match(arguments(msg.text))  # as the command's handler will read it
            if match:
                named.add((int(match.group(1)), person.id))
        elif person.role == "practitioner" and person.has_ticket and msg.action is None and msg.text:
            askers.add(person.id)
    if len(named) > 1:
        await _read_staff_views(conn, effects.reads, named)
    if len(askers) > 1:
        await _read_open_tickets(conn, effects.reads, askers)


async def notify_person(ctx: Context, person_id: int, key: str, ticket_id: int | None = None,
                        buttons: Sequence[Button] = (), attachments: Sequence[Attachment] = (),
                        known_reach: tuple[str, str, str] | None = None, **values: object) -> bool:
    """Send a text privately to a person, in their language, on their most recent channel.

    Returns False when the person has no private chat the bot can reach. The sender, writing in a
    private chat, is answered there; `known_reach` is where the person is reached, when already loaded.
    """
    here = person_id == ctx.person.id and ctx.msg.chat_type == "private" and ctx.msg.chat_id
    reach = (ctx.msg.channel, ctx.msg.chat_id, ctx.lang) if here else known_reach
    if reach is None:
        reach = await private_chat(ctx.conn, person_id)
    if reach is None:
        return False
    channel, chat, lang = reach
    ctx.send(channel, chat, t(key, lang, **values), buttons, person_id=person_id, ticket_id=ticket_id,
             attachments=attachments)
    return True


def tell_practitioner(ctx: Context, ticket: TicketView, text: str, buttons: Sequence[Button] = (),
                      attachments: Sequence[Attachment] = ()) -> None:
    """Write to the practitioner in the chat where they asked."""
    ctx.send(ticket.channel, ticket.chat_id, text, buttons, person_id=ticket.person_id, ticket_id=ticket.id,
             attachments=attachments)


def tell_secretariat(ctx: Context, key: str, **values: object) -> None:
    """Post a text to the chats the secretariat watches, in the service's default language."""
    text = t(key, ctx.services.config.service.default_language, **values)
    for space in secretariat_spaces(ctx.services.config):
        ctx.send(space.channel, space.chat, text)


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    """Number of tickets in each state."""
    return {r.state: r.n for r in await conn.execute(
        select(T.c.state, func.count().label("n")).group_by(T.c.state))}


async def is_member(conn: AsyncConnection, person_id: int, queue_id: str, lead: bool = False) -> bool:
    """Is the person an expert (or lead) of the queue?"""
    query = _IS_LEAD if lead else _IS_MEMBER
    return (await conn.execute(query, {"person_id": person_id, "queue_id": queue_id})).first() is not None


async def _sender_in_queue(ctx: Context, queue_id: str, lead: bool) -> bool:
    """Is the sender an expert (or lead) of the queue? Known without a query for the queue of a fetched ticket."""
    if queue_id not in ctx.queue_roles:
        return await is_member(ctx.conn, ctx.person.id, queue_id, lead)
    is_lead = ctx.queue_roles[queue_id]
    return is_lead is not None and (is_lead or not lead)


async def may_work(ctx: Context, ticket: TicketView) -> bool:
    """Experts of the ticket's queue and the secretariat may claim and handle it."""
    return ctx.person.role == "secretariat" or await _sender_in_queue(ctx, ticket.queue_id, lead=False)


async def may_lead(ctx: Context, ticket: TicketView) -> bool:
    """The queue's leads and the secretariat may assign, reprioritise and take over."""
    return ctx.person.role == "secretariat" or await _sender_in_queue(ctx, ticket.queue_id, lead=True)


async def may_handle(ctx: Context, ticket: TicketView) -> bool:
    """The assignee, the queue's leads and the secretariat may answer, resolve or release it."""
    return ticket.assignee_id == ctx.person.id or await may_lead(ctx, ticket)


def refuse(ctx: Context, ticket_id: int | None, key: str, **values: object) -> None:
    """Tell the sender why not, and audit the refusal."""
    ctx.reply(ctx.t(key, id=ticket_id, **values))
    ctx.audit(f"refused:{key}", ticket_id=ticket_id, allowed=False)


async def fetch(ctx: Context, ticket_id: int) -> TicketView | None:
    """The ticket a staff command is about (the command joins the ticket's internal thread), or a clear refusal:
    an expert who is neither in its queue nor its assignee hears "no such ticket", as for a ticket that is not.

    The same query tells whether the sender is an expert or lead of the ticket's queue.
    """
    key = (ticket_id, ctx.person.id)
    if key not in ctx.effects.reads.staff:
        await _read_staff_views(ctx.conn, ctx.effects.reads, {key})
    found = ctx.effects.reads.staff[key]
    if found is None:
        refuse(ctx, ticket_id, "ticket.unknown")
        return None
    ticket, is_lead = found
    if is_lead is None and ctx.person.role != "secretariat" and ticket.assignee_id != ctx.person.id:
        refuse(ctx, ticket_id, "ticket.unknown")  # another queue's ticket: told apart from none by nothing
        return None
    ctx.queue_roles[ticket.queue_id] = is_lead
    ctx.effects.join_thread(ctx.message_id, ticket_id, internal=True, only_if_unlinked=True)
    return ticket


def expert_name(ctx: Context, name: str | None) -> str:
    """How the practitioner sees the expert (their name, or 'an expert' when configured)."""
    if ctx.services.config.service.expert_display == "anonymous" or not name:
        return ctx.t("relay.anonymous")
    return name


async def reschedule(ctx: Context, ticket_id: int, row: Mapping[str, Any] | None = None) -> TicketView:
    """Recompute when the SLA sweep must next look at a ticket whose state or deadlines changed.

    `row` is the ticket's row as `change` returned it (else it is read). Returns the ticket as it now is;
    the next check is written with the batch, when it moved.
    """
    if row is None:
        row = (await mappings(ctx.conn, _ROW, {"ticket_id": ticket_id}))[0]
    at = next_check(dict(row), ctx.services.sla, ctx.now) if row["state"] in OPEN_STATES else None
    if at != ctx.effects.next_checks.get(ticket_id, row["sla_next_at"]):
        ctx.effects.next_checks[ticket_id] = at  # written with the batch
    return _view(row)


async def refresh(ctx: Context, ticket_id: int, row: Mapping[str, Any] | None = None) -> TicketView:
    """After a change (`row`: the ticket's new row, else it is read), reschedule its SLA checks and update
    its card in the queue."""
    ticket = await reschedule(ctx, ticket_id, row)
    await announce(ctx, ticket, edit=True)
    return ticket


async def claim(ctx: Context, ticket_id: int) -> None:
    """Take an unclaimed ticket; exactly one of several simultaneous claims wins."""
    ticket = await fetch(ctx, ticket_id)
    if ticket is None:
        return
    if not await may_work(ctx, ticket):
        refuse(ctx, ticket_id, "ticket.not_your_queue", queue=ticket.queue_id)
        return
    sla = ctx.services.sla.on_claim(ticket.queue_id, ticket.priority, ctx.now)
    won = await change(ctx, ticket_id, UNCLAIMED,
                       assignee_id=ctx.person.id, state="open", claimed_at=ctx.now, updated_at=ctx.now, **sla)
    if won is None:
        ctx.audit("ticket.claim", ticket_id=ticket_id, allowed=False, won=False)
        ticket = await load(ctx.conn, ticket_id) or ticket  # see the winner's committed claim
        if ticket.state in ("resolved", "closed"):
            ctx.reply(ctx.t("ticket.not_claimable", id=ticket_id, state=ctx.t(f"state.{ticket.state}")))
        elif ticket.assignee_id == ctx.person.id:
            ctx.reply(ctx.t("ticket.already_yours", id=ticket_id))
        elif ticket.assignee_name:
            ctx.reply(ctx.t("ticket.claimed_by", id=ticket_id, name=ticket.assignee_name))
        else:
            ctx.reply(ctx.t("ticket.not_claimable", id=ticket_id, state=ctx.t(f"state.{ticket.state}")))
        return
    ctx.audit("ticket.claim", ticket_id=ticket_id, won=True)
    ticket = await refresh(ctx, ticket_id, won)
    ctx.expect(Waiting.TICKET, id=ticket_id)
    await notify_person(ctx, ctx.person.id, "ticket.you_claimed", ticket_id, id=ticket_id, question=ticket.question,
                        who=ticket.who)
    tell_practitioner(ctx, ticket, t("ticket.expert_on_it", ticket.language, id=ticket_id,
                                     name=expert_name(ctx, ctx.person.display_name)))


async def assign(ctx: Context, ticket: TicketView, expert_id: int, reason: str = "") -> None:
    """Give a ticket to an expert (lead, secretariat, transfer or auto-assignment)."""
    sla = ctx.services.sla.on_claim(ticket.queue_id, ticket.priority, ctx.now)
    state = "open" if ticket.state == "new" else ticket.state
    row = await change(ctx, ticket.id, assignee_id=expert_id, state=state, claimed_at=ctx.now, updated_at=ctx.now,
                       **sla)
    ctx.audit("ticket.assign", ticket_id=ticket.id, to=expert_id, reason=reason)
    fresh = await refresh(ctx, ticket.id, row)
    name = fresh.assignee_name or "?"
    await notify_person(ctx, expert_id, "ticket.assigned_to_you", ticket.id, id=ticket.id, question=ticket.question,
                        reason=reason or "-")
    tell_practitioner(ctx, fresh, t("ticket.expert_on_it", ticket.language, id=ticket.id, name=expert_name(ctx, name)))


async def resumed(ctx: Context, ticket: TicketView) -> dict[str, Any]:
    """The SLA values of a waiting ticket that stops waiting: its deadlines move by the business time waited."""
    if ticket.state != "waiting":
        return {}
    row = dict((await ctx.conn.execute(select(T).where(T.c.id == ticket.id))).one()._mapping)
    return ctx.services.sla.on_resume(row, ctx.now)


async def release(ctx: Context, ticket: TicketView, reason: str = "") -> None:
    """Put a claimed ticket back in its queue."""
    sla = await resumed(ctx, ticket) | ctx.services.sla.on_release(ctx.now)
    row = await change(ctx, ticket.id, assignee_id=None, state="new", updated_at=ctx.now, **sla)
    ctx.audit("ticket.release", ticket_id=ticket.id, reason=reason)
    await refresh(ctx, ticket.id, row)
    await post_in_queue(ctx, ticket, "card.released", reason=reason or "-")


async def move(ctx: Context, ticket: TicketView, queue_id: str, reason: str) -> None:
    """Send a ticket to another queue, unclaimed, and announce it there."""
    sla = await resumed(ctx, ticket) | ctx.services.sla.on_release(ctx.now)
    row = await change(ctx, ticket.id, queue_id=queue_id, assignee_id=None,
                       state="new" if ticket.state in OPEN_STATES else ticket.state, updated_at=ctx.now, **sla)
    ctx.audit("ticket.move", ticket_id=ticket.id, source=ticket.queue_id, to=queue_id, reason=reason)
    old = await reschedule(ctx, ticket.id, row)
    lang = ctx.services.config.service.default_language
    for space in await spaces_of(ctx, ticket.queue_id):
        ctx.send(space.channel, space.chat, t("card.moved", lang, id=ticket.id, queue=queue_id, reason=reason),
                 ticket_id=ticket.id, kind="edit", ref="card")
    await announce(ctx, old, edit=False)
    tell_practitioner(ctx, old, t("ticket.moved_for_practitioner", ticket.language, id=ticket.id, queue=queue_id))


async def record_message(ctx: Context, ticket_id: int, internal: bool = False) -> None:
    """Attach the current inbound message to a ticket (internal notes are never shown to practitioners)."""
    ctx.effects.join_thread(ctx.message_id, ticket_id, internal)


async def relay_to_practitioner(ctx: Context, ticket: TicketView, text: str,
                                attachments: Sequence[Attachment] = ()) -> None:
    """The assignee's reply reaches the practitioner; the first one stops the first-response clock."""
    await record_message(ctx, ticket.id)
    name = expert_name(ctx, ctx.person.display_name)
    if ticket.channel == "web" and attachments:  # a platform's file becomes a downloadable web chat file
        attachments = await relay_to_web(ctx.conn, attachments, ctx.person.id, ctx.message_id, ctx.now,
                                         ctx.services.web_url)
    tell_practitioner(ctx, ticket, t("relay.from_expert", ticket.language, id=ticket.id, name=name, text=text),
                      attachments=attachments)
    values: dict[str, Any] = {"updated_at": ctx.now, "next_response_due": None}
    if ticket.first_response_at is None:
        values["first_response_at"] = ctx.now
    values |= ctx.services.sla.on_expert_reply(ticket.queue_id, ticket.priority, ctx.now)
    await reschedule(ctx, ticket.id, await change(ctx, ticket.id, **values))
    ctx.audit("ticket.reply", ticket_id=ticket.id)


async def relay_to_experts(ctx: Context, ticket: TicketView, text: str,
                           attachments: Sequence[Attachment] = ()) -> None:
    """The practitioner's message reaches the assignee (or the queue while unclaimed)."""
    await record_message(ctx, ticket.id)
    values: dict[str, Any] = {"updated_at": ctx.now}
    if ticket.state == "waiting":
        check_transition("waiting", "open")
        values |= {"state": "open"} | await resumed(ctx, ticket)
        ctx.audit("state:waiting->open", ticket_id=ticket.id)
    if ticket.assignee_id is not None:
        values |= ctx.services.sla.on_practitioner_reply(ticket.queue_id, ticket.priority, ctx.now)
        sender = ctx.person.display_name
        await notify_person(ctx, ticket.assignee_id, "relay.from_practitioner", ticket.id, attachments=attachments,
                            known_reach=ticket.assignee_reach, id=ticket.id, name=sender, text=text)
    else:
        await post_in_queue(ctx, ticket, "relay.added_to_unclaimed", attachments, name=ctx.person.display_name,
                            text=text)
    await reschedule(ctx, ticket.id, await change(ctx, ticket.id, **values))
    ctx.audit("ticket.practitioner_message", ticket_id=ticket.id)


def reachable(person_id: Any) -> ColumnElement[bool]:
    """The person has a channel identity to be told things on. Staff the config names are people from the
    start (`sync_config`); until they first write they get no tickets, reminders or escalations."""
    return exists().where(I.c.person_id == person_id)


async def auto_assignee(ctx: Context, queue_id: str, lang: str) -> dict[str, Any]:
    """Round robin among the queue's available experts who speak the ticket's language (when enabled)."""
    queue = ctx.services.config.queue(queue_id)
    if not queue.auto_assign:
        return {}
    rows = list(await ctx.conn.execute(
        select(P.c.id, P.c.language).join(QM, QM.c.person_id == P.c.id)
        .where(QM.c.queue_id == queue_id, P.c.blocked.is_(False), reachable(P.c.id),
               (P.c.away_until.is_(None)) | (P.c.away_until <= ctx.now))
        .order_by(P.c.id)))
    speakers = [r.id for r in rows if r.language == lang] or [r.id for r in rows]
    if not speakers:
        return {}
    last = (await ctx.conn.execute(select(Q.c.last_assigned_id).where(Q.c.id == queue_id))).scalar()
    chosen = next((pid for pid in speakers if last is None or pid > last), speakers[0])
    await ctx.conn.execute(update(Q).where(Q.c.id == queue_id).values(last_assigned_id=chosen))
    return {"assignee_id": chosen, "state": "open", "claimed_at": ctx.now} | ctx.services.sla.on_claim(
        queue_id, "normal", ctx.now)


async def wait_for_practitioner(ctx: Context, ticket: TicketView) -> None:
    """Pause the clock until the practitioner answers."""
    row = await transition(ctx, ticket, "waiting",
                           **ctx.services.sla.on_wait(ticket.queue_id, ticket.priority, ctx.now))
    tell_practitioner(ctx, ticket, t("ticket.waiting_for_you", ticket.language, id=ticket.id))
    await refresh(ctx, ticket.id, row)


async def resolve(ctx: Context, ticket: TicketView, summary: str, *, out_of_scope: bool = False) -> None:
    """Close the question with the expert's summary and ask the practitioner to rate the answer.

    A summary becomes an FAQ draft for the secretariat, unless the question was outside what the service
    covers (`out_of_scope`): then the practitioner is told so and nothing is drafted.
    """
    row = await transition(ctx, ticket, "resolved", resolved_at=ctx.now, summary=summary,
                          **ctx.services.sla.on_resolve())
    lang = ticket.language
    stars = [ctx.button("★" * n, "rate", ticket.id, n) for n in range(1, 6)]
    stars.append(ctx.button(t("ticket.reopen_button", lang), "reopen", ticket.id))
    key = "ticket.out_of_scope_for_practitioner" if out_of_scope else "ticket.resolved_for_practitioner"
    text = t(key, lang, id=ticket.id, summary=summary, days=ctx.services.config.service.reopen_days)
    tell_practitioner(ctx, ticket, text, stars)
    await refresh(ctx, ticket.id, row)
    if out_of_scope:
        ctx.audit("ticket.out_of_scope", ticket_id=ticket.id)
    elif summary.strip():
        await draft_from_ticket(ctx, ticket.id, ticket.queue_id, ticket.language, ticket.question, summary.strip(),
                                resolved_before=ticket.summary is not None)


async def reopen(ctx: Context, ticket: TicketView, question: str | None = None) -> TicketView | None:
    """Reopen a resolved or closed ticket within the reopen window; after it, open a new ticket linked to the old
    one (for `question`, the sender's current message, else the old question)."""
    if not within_reopen_window(ctx.services.config.service, ticket, ctx.now):
        fresh = await open_ticket(ctx, question or ticket.question, ticket.queue_id,
                                  ctx.message_id if question else None, [f"follow-up of #{ticket.id}"])
        if fresh is not None:
            await change(ctx, fresh.id, linked_ticket_id=ticket.id)
            await post_in_queue(ctx, fresh, "followup.card", old=ticket.id)
        return fresh
    new_state = "open" if ticket.assignee_id is not None else "new"
    row = await transition(ctx, ticket, new_state, resolved_at=None, closed_at=None,
                          **ctx.services.sla.on_reopen(ticket.queue_id, ticket.priority, ctx.now,
                                                       assigned=ticket.assignee_id is not None))
    fresh = await refresh(ctx, ticket.id, row)
    ctx.reply(ctx.t("ticket.reopened", id=ticket.id))
    if ticket.assignee_id is not None:
        await notify_person(ctx, ticket.assignee_id, "ticket.reopened_for_expert", ticket.id, id=ticket.id)
    return fresh


async def add_note(ctx: Context, ticket: TicketView, text: str) -> None:
    """An internal note: experts of the queue and the assignee see it, the practitioner never does."""
    await ctx.conn.execute(insert(M).values(
        channel=ctx.msg.channel, external_id=None, direction="note", person_id=ctx.person.id, chat_id=ctx.msg.chat_id,
        ticket_id=ticket.id, kind="note", text=text, internal=True, status="done", created_at=ctx.now))
    name = ctx.person.display_name
    await post_in_queue(ctx, ticket, "note.posted", name=name, text=text)
    if ticket.assignee_id is not None and ticket.assignee_id != ctx.person.id:
        await notify_person(ctx, ticket.assignee_id, "note.posted", ticket.id, id=ticket.id, name=name, text=text)
    ctx.audit("ticket.note", ticket_id=ticket.id)


async def set_priority(ctx: Context, ticket: TicketView, level: str) -> None:
    """Change the priority; deadlines follow the new priority's policy."""
    row = await change(ctx, ticket.id, priority=level, updated_at=ctx.now,
                       **ctx.services.sla.on_priority(ticket.queue_id, level, ticket.created_at))
    ctx.audit("ticket.priority", ticket_id=ticket.id, source=ticket.priority, to=level)
    await refresh(ctx, ticket.id, row)


async def rate(ctx: Context, ticket: TicketView, score: int) -> None:
    """Store the practitioner's 1–5 rating of the answer."""
    await change(ctx, ticket.id, rating=score, updated_at=ctx.now)
    ctx.audit("ticket.rate", ticket_id=ticket.id, rating=score)


async def comment_rating(ctx: Context, ticket_id: int, comment: str) -> None:
    """Store the practitioner's comment on their rating of their own ticket."""
    await ctx.conn.execute(update(T).where(T.c.id == ticket_id, T.c.person_id == ctx.person.id)
                           .values(rating_comment=comment.strip()[:2000]))
    ctx.effects.reads.forget(ticket_id, ctx.person.id)
    ctx.audit("ticket.rating_comment", ticket_id=ticket_id)
