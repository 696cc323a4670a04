"""What the pages show, read from the database: chat history, inbox lists, ticket threads, dashboard figures."""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.channels.web import bot_posts, file_items, with_files
from bot.config import ServiceConfig
from bot.core.reports import ALL, SlaReport, day_start, period_of, sla_report, sla_reports
from bot.core.sla import SlaClock
from bot.core.tickets import OPEN_STATES
from bot.db.models import Identity, Message, Outbox, Person, QueueMember, SlaEvent, Ticket, TriageDecision, table
from bot.db.sql import count_where

M, O, P, QM, T, E, D = (table(Message), table(Outbox), table(Person), table(QueueMember), table(Ticket),  # noqa: E741
                        table(SlaEvent), table(TriageDecision))
HISTORY = 200  # chat items a page loads
PAGE = 50  # tickets per list page
WEEKS = 12  # weeks the charts cover
FIRST_RESPONSE_BUCKETS = ((4, "<4 h"), (8, "4-8 h"), (16, "8-16 h"), (24, "16-24 h"), (48, "24-48 h"),
                          (None, "48 h+"))


async def chat_history(conn: AsyncConnection, chat_id: str) -> list[dict[str, Any]]:
    """A web chat as the browser shows it: the person's messages and the bot's posts (edits applied)."""
    inbound = await conn.execute(select(M.c.id, M.c.text, M.c.attachments, M.c.created_at).where(
        M.c.channel == "web", M.c.chat_id == chat_id, M.c.direction == "in", M.c.kind.in_(("text", "command")))
        .order_by(M.c.id.desc()).limit(HISTORY))
    outbound = await conn.execute(select(O.c.id, O.c.kind, O.c.ref, O.c.text, O.c.buttons, O.c.attachments,
                                         O.c.created_at).where(
        O.c.channel == "web", O.c.chat_id == chat_id).order_by(O.c.id.desc()).limit(HISTORY))
    items: list[tuple[datetime, int, int, dict[str, Any]]] = [
        (r.created_at, 0, r.id, with_files({"id": f"in-{r.id}", "from": "me", "text": r.text, "buttons": []},
                                           r.attachments)) for r in inbound]
    items += [(r.created_at, 1, r.id, post) for r, post in bot_posts(outbound)]
    return [item for *_, item in sorted(items, key=lambda i: i[:3])][-HISTORY:]


@dataclass(frozen=True)
class Scope:
    """Whose tickets a signed-in person sees: every queue for the secretariat, else their queues."""

    person_id: int
    queues: list[str] | None  # None: all

    def allows(self, ticket: Any) -> bool:
        """Whether a ticket row is in scope (their queue or assigned to them)."""
        return self.queues is None or ticket.queue_id in self.queues or ticket.assignee_id == self.person_id


async def scope_of(conn: AsyncConnection, person_id: int, role: str) -> Scope:
    """The queues a person works in."""
    if role == "secretariat":
        return Scope(person_id, None)
    return Scope(person_id, [r.queue_id for r in await conn.execute(
        select(QM.c.queue_id).where(QM.c.person_id == person_id).order_by(QM.c.queue_id))])


_LIST = (T.c.id, T.c.queue_id, T.c.state, T.c.priority, T.c.question, T.c.created_at, T.c.assignee_id,
         T.c.first_response_due, T.c.next_response_due, T.c.resolution_due, T.c.breached, T.c.language)


def next_due(row: Any) -> datetime | None:
    """The nearest SLA deadline of a ticket."""
    dues = [d for d in (row.first_response_due, row.next_response_due, row.resolution_due) if d is not None]
    return min(dues) if dues else None


async def inbox(conn: AsyncConnection, scope: Scope) -> tuple[list[Any], list[Any]]:
    """Unclaimed tickets of the person's queues (most urgent first) and the tickets they hold."""
    unclaimed = select(*_LIST).where(T.c.state == "new")
    if scope.queues is not None:
        unclaimed = unclaimed.where(T.c.queue_id.in_(scope.queues))
    waiting = list(await conn.execute(unclaimed.order_by(T.c.first_response_due, T.c.id).limit(PAGE)))
    mine = list(await conn.execute(select(*_LIST).where(T.c.assignee_id == scope.person_id,
                                                        T.c.state.in_(OPEN_STATES)).order_by(T.c.id)))
    return waiting, mine


@dataclass(frozen=True)
class Entry:
    """One line of a ticket's thread: the practitioner's words, an expert's reply, an internal note or an action."""

    kind: str  # "practitioner" | "reply" | "note" | "action"
    who: str
    at: datetime
    text: str
    files: tuple[dict[str, str], ...] = ()  # see bot.channels.web.file_items


_COMMAND = re.compile(r"^/(\w+)(?:@\S+)?\s+#?\d+\s*(.*)$", re.S)


def thread_entry(row: Any) -> Entry | None:
    """How a stored message reads in the thread (a staff command as what it did; /note commands have a note row)."""
    who, files = row.display_name or "bot", tuple(file_items(row.attachments or ()))
    if row.kind == "note":
        return Entry("note", who, row.created_at, row.text, files)
    match = _COMMAND.match(row.text) if row.kind == "command" else None
    if match is None:
        return Entry("practitioner" if row.role == "practitioner" else "reply", who, row.created_at, row.text, files)
    verb, rest = match.groups()
    if verb == "note":
        return None
    if verb == "reply":
        return Entry("reply", who, row.created_at, rest, files)
    return Entry("action", who, row.created_at, f"/{verb} {rest}".strip())  # the command, the same in every language


async def ticket_page(conn: AsyncConnection, ticket_id: int) -> tuple[Any, Any, Any, list[Entry]] | None:
    """A ticket, its practitioner, its assignee's name and its thread (notes and actions are internal)."""
    ticket = (await conn.execute(select(T).where(T.c.id == ticket_id))).first()
    if ticket is None:
        return None
    person = (await conn.execute(select(P).where(P.c.id == ticket.person_id))).first()
    assignee = (await conn.execute(select(P.c.display_name).where(P.c.id == ticket.assignee_id))).scalar()
    rows = await conn.execute(
        select(M.c.kind, M.c.text, M.c.attachments, M.c.created_at, P.c.display_name, P.c.role)
        .outerjoin(P, P.c.id == M.c.person_id)
        .where(M.c.ticket_id == ticket_id, M.c.kind.in_(("text", "command", "note"))).order_by(M.c.id))
    thread = [entry for r in rows if (entry := thread_entry(r)) is not None]
    return ticket, person, assignee, thread


async def ticket_place(conn: AsyncConnection, ticket_id: int) -> Any:
    """A ticket's queue and assignee (what `Scope.allows` looks at), None when there is no such ticket."""
    return (await conn.execute(select(T.c.queue_id, T.c.assignee_id).where(T.c.id == ticket_id))).first()


def _tickets_of_web_user(user: str) -> Select[Any]:
    identity = table(Identity)
    return select(T.c.id).join(identity, and_(identity.c.person_id == T.c.person_id, identity.c.channel == "web",
                                              identity.c.external_user_id == user))


async def tickets_opened_since(conn: AsyncConnection, user: str, since: datetime) -> list[int]:
    """The tickets of a web chat user opened at or after `since`."""
    return list((await conn.execute(_tickets_of_web_user(user).where(T.c.created_at >= since))).scalars())


async def has_open_ticket(conn: AsyncConnection, user: str) -> bool:
    """Whether a web chat user has a ticket still open (their messages go to it, none is opened)."""
    found = await conn.execute(_tickets_of_web_user(user).where(T.c.state.in_(OPEN_STATES)).limit(1))
    return found.first() is not None


async def bot_answers(conn: AsyncConnection, chat_id: str, after: int) -> list[str]:
    """What the bot answered a staff member's web actions since outbox row `after`."""
    return [r.text for r in await conn.execute(select(O.c.text).where(
        O.c.channel == "web", O.c.chat_id == chat_id, O.c.id > after).order_by(O.c.id).limit(5))]


async def last_outbox_id(conn: AsyncConnection) -> int:
    """The newest outbox row's id (0 when empty)."""
    return int((await conn.execute(select(func.max(O.c.id)))).scalar() or 0)


async def overview(conn: AsyncConnection, config: ServiceConfig, sla: SlaClock, now: datetime,
                   days: int = 30) -> dict[str, Any]:
    """The dashboard's first screen: service levels of the last `days`, backlog by age, today's SLA events."""
    report = await sla_report(conn, config, sla, now, since=(now - timedelta(days=days)).date())
    today = list(await conn.execute(
        select(E.c.kind, E.c.ticket_id, E.c.deadline, E.c.fired_at, T.c.queue_id)
        .join(T, T.c.id == E.c.ticket_id)
        .where(E.c.fired_at >= day_start(now.date()), E.c.kind.in_(("breach", "warning")))
        .order_by(E.c.fired_at.desc()).limit(100)))
    counts = Counter(r.kind for r in today)
    return {"report": report, "days": days, "today": today, "breaches": counts["breach"],
            "warnings": counts["warning"]}


def week_start(moment: datetime) -> date:
    """The Monday of a moment's week."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


async def chart_data(conn: AsyncConnection, config: ServiceConfig, sla: SlaClock, now: datetime) -> dict[str, Any]:
    """The figures behind the charts, over the last WEEKS weeks: one SLA report per week (computed together),
    FAQ deflection per week and the entries used most. Series are keyed by stable ids; the page names them."""
    first = week_start(now) - timedelta(weeks=WEEKS - 1)
    weeks = [first + timedelta(weeks=n) for n in range(WEEKS)]
    reports = await sla_reports(conn, config, sla, now, weeks)
    per_queue = {q: [float(report.rows[n].tickets) for report in reports] for n, q in enumerate(config.queue_ids)}
    trend: dict[str, list[float | None]] = {"first_response": [r.rows[-1].first_response_pct for r in reports],
                                            "resolution": [r.rows[-1].resolution_pct for r in reports]}
    spread = Counter(next(label for limit, label in FIRST_RESPONSE_BUCKETS if limit is None or h < limit)
                     for report in reports for h in report.rows[-1].first_response_hours)
    answered = D.c.decision == "answer"
    decisions = select(period_of(D.c.created_at, weeks).label("week"), answered.label("answered"),
                       and_(answered, D.c.feedback == "false_deflection").label("misled")).where(
        D.c.created_at >= day_start(first)).subquery()
    asked, deflected, false = [0] * WEEKS, [0] * WEEKS, [0] * WEEKS
    for row in await conn.execute(select(decisions.c.week, func.count().label("asked"),
                                         count_where(decisions.c.answered).label("answered"),
                                         count_where(decisions.c.misled).label("misled")).group_by(decisions.c.week)):
        asked[row.week], deflected[row.week], false[row.week] = int(row.asked), int(row.answered), int(row.misled)
    rates: dict[str, list[float | None]] = {
        "deflected": [100 * d / a if a else None for d, a in zip(deflected, asked, strict=True)],
        "false_deflection": [100 * f / d if d else None for f, d in zip(false, deflected, strict=True)]}
    top = [(r.top_entry_id, float(r.n)) for r in await conn.execute(
        select(D.c.top_entry_id, func.count().label("n")).where(
            answered, D.c.created_at >= day_start(first), D.c.top_entry_id.is_not(None))
        .group_by(D.c.top_entry_id).order_by(func.count().desc(), D.c.top_entry_id).limit(10))]
    return {"labels": [w.strftime("%m-%d") for w in weeks], "per_queue": per_queue, "trend": trend,
            "target": config.service_levels.compliance_target,
            "spread": [(label, float(spread[label])) for _, label in FIRST_RESPONSE_BUCKETS],
            "rates": rates, "top": top}


@dataclass(frozen=True)
class TicketFilter:
    """The ticket list's filters (all optional)."""

    queue: str = ""
    state: str = ""
    search: str = ""
    page: int = 1

    def apply(self, query: Select[Any]) -> Select[Any]:
        """Add the filters to a ticket query."""
        if self.queue:
            query = query.where(T.c.queue_id == self.queue)
        if self.state:
            query = query.where(T.c.state == self.state)
        if self.search:
            needle = f"%{self.search.lower()}%"
            conditions: list[Any] = [func.lower(T.c.question).like(needle)]
            if self.search.lstrip("#").isdigit():
                conditions.append(T.c.id == int(self.search.lstrip("#")))
            query = query.where(or_(*conditions))
        return query


async def ticket_list(conn: AsyncConnection, filters: TicketFilter, limit: int | None = PAGE) -> tuple[list[Any], int]:
    """One page of tickets (newest first) and how many match."""
    total = (await conn.execute(filters.apply(select(func.count()).select_from(T)))).scalar_one()
    query = filters.apply(select(*_LIST, P.c.display_name.label("assignee"))
                          .outerjoin(P, P.c.id == T.c.assignee_id)).order_by(T.c.id.desc())
    if limit is not None:
        query = query.limit(limit).offset((filters.page - 1) * limit)
    return list(await conn.execute(query)), int(total)


async def experts(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Every expert with their queues, open load and away status."""
    load = {r.assignee_id: r.n for r in await conn.execute(
        select(T.c.assignee_id, func.count().label("n")).where(T.c.state.in_(OPEN_STATES),
                                                               T.c.assignee_id.is_not(None))
        .group_by(T.c.assignee_id))}
    queues: dict[int, list[tuple[str, bool]]] = {}  # (queue, whether they lead it)
    for r in await conn.execute(select(QM.c.person_id, QM.c.queue_id, QM.c.is_lead).order_by(QM.c.queue_id)):
        queues.setdefault(r.person_id, []).append((r.queue_id, bool(r.is_lead)))
    people = await conn.execute(select(P.c.id, P.c.display_name, P.c.handle, P.c.role, P.c.timezone, P.c.away_until)
                                .where(P.c.role.in_(("expert", "secretariat"))).order_by(P.c.display_name))
    response: dict[int, list[float]] = {}
    for r in await conn.execute(select(T.c.assignee_id, T.c.claimed_at, T.c.first_response_at)
                                .where(T.c.first_response_at.is_not(None), T.c.claimed_at.is_not(None))):
        response.setdefault(r.assignee_id, []).append((r.first_response_at - r.claimed_at).total_seconds() / 3600)
    return [{"name": r.display_name, "handle": r.handle, "role": r.role, "timezone": r.timezone,
             "queues": queues.get(r.id, []), "load": load.get(r.id, 0),
             "answered": len(response.get(r.id, [])),
             "median_response_h": statistics.median(response[r.id]) if response.get(r.id) else None,
             "away": r.away_until if r.away_until is not None and r.away_until > now else None} for r in people]


async def practitioners(conn: AsyncConnection) -> dict[str, list[tuple[str, int]]]:
    """How many practitioners per country, institution and sector (most frequent first)."""
    out: dict[str, list[tuple[str, int]]] = {}
    for column in (P.c.country, P.c.institution, P.c.sector):
        rows = await conn.execute(select(func.coalesce(column, "—").label("value"), func.count().label("n"))
                                  .where(P.c.role == "practitioner").group_by("value").order_by(func.count().desc())
                                  .limit(30))
        out[column.name] = [(r.value, r.n) for r in rows]
    return out


def compliance_rows(report: SlaReport) -> list[Any]:
    """The report's rows, the overall one last and named."""
    return [r for r in report.rows if r.queue != ALL] + [r for r in report.rows if r.queue == ALL]


def tickets_csv(rows: list[Any]) -> str:
    """Tickets as CSV: one line each, UTC times in ISO format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "queue", "state", "priority", "language", "created_at", "assignee", "breached",
                     "next_due", "question"])
    for r in rows:
        due = next_due(r)
        writer.writerow([r.id, r.queue_id, r.state, r.priority, r.language, r.created_at.isoformat(),
                         r.assignee or "", int(r.breached), due.isoformat() if due else "", r.question])
    return out.getvalue()
