"""The SLA sweep: every due reminder, warning, escalation and breach fires exactly once.

A round locks a batch of due tickets (`sla_next_at <= now`, open states; FOR UPDATE SKIP LOCKED on
PostgreSQL so several processes share the work, SQLite has one writer), records what fell due as
`sla_event` rows (INSERT … ON CONFLICT DO NOTHING on the unique key), writes messages only for the
rows it inserted — outbox rows, or digest lines for experts — applies claim expiry and auto-close,
and stores each ticket's next check: all in ONE transaction, so a crash before the commit leaves
nothing behind and one after it leaves nothing to redo. After downtime a ticket gets one message
per audience, not one per missed tick (see `bot.core.sla_due`). A round that fails is redone ticket
by ticket; a ticket that still fails is logged and looked at again after `RETRY`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.config import Space
from bot.core import tickets
from bot.core.context import Context, Effects
from bot.core.reminders import reminder_row
from bot.core.services import Services
from bot.core.sla import local_time
from bot.core.sla_due import TARGETS, UNCLAIMED, WAITING, Due, EventKey, next_check, pending
from bot.core.spaces import queue_spaces, secretariat_spaces
from bot.db.models import QueueMember, SlaEvent, SlaReminder, Ticket, table
from bot.db.sql import insert_ignore, skip_locked
from bot.faults import log_failure, recoverable
from bot.i18n import t

log = logging.getLogger(__name__)
T, E, QM = table(Ticket), table(SlaEvent), table(QueueMember)
BATCH = 500
RETRY = timedelta(minutes=10)


@dataclass
class SweepResult:
    """What a sweep did."""

    tickets: int = 0  # tickets looked at
    events: int = 0  # sla_event rows written: each reminder, warning, escalation or breach fired
    messages: int = 0  # outbox rows written
    reminders: int = 0  # lines queued for experts' digests
    failed: list[int] = field(default_factory=list)  # tickets skipped after an error

    def add(self, other: SweepResult) -> None:
        """Count another round in."""
        self.tickets += other.tickets
        self.events += other.events
        self.messages += other.messages
        self.reminders += other.reminders
        self.failed += other.failed


async def sweep(engine: AsyncEngine, services: Services, now: datetime, batch: int = BATCH) -> SweepResult:
    """Fire everything due at `now`, in rounds of `batch` tickets, until nothing due is left to this process."""
    total = SweepResult()
    while True:
        try:
            async with engine.begin() as conn:
                done = await _Round(conn, services, now).run(batch)
        except Exception as exc:
            if recoverable(exc):  # the database is away: every ticket would fail the same way
                log_failure(log, "SLA sweep round failed", exc, "the next round tries again")
                return total
            log.exception("SLA sweep round failed; going ticket by ticket")
            done = await _one_by_one(engine, services, now, batch)
        total.add(done)
        if done.tickets + len(done.failed) < batch:
            return total


async def sweep_on(conn: AsyncConnection, services: Services, now: datetime, batch: int = BATCH) -> SweepResult:
    """`sweep` in the caller's transaction (what `helpdesk sla preview` runs and rolls back)."""
    total = SweepResult()
    while True:
        done = await _Round(conn, services, now).run(batch)
        total.add(done)
        if done.tickets < batch:
            return total


async def _one_by_one(engine: AsyncEngine, services: Services, now: datetime, batch: int) -> SweepResult:
    """A failed round again, one transaction per ticket: a ticket that fails is logged and postponed."""
    result = SweepResult()
    async with engine.connect() as conn:
        ids = list((await conn.execute(_due(now).with_only_columns(T.c.id).limit(batch))).scalars())
    for ticket_id in ids:
        try:
            async with engine.begin() as conn:
                result.add(await _Round(conn, services, now).run(1, only=ticket_id))
        except Exception:
            log.exception("SLA sweep: ticket %s failed; skipped until %s", ticket_id, now + RETRY)
            result.failed.append(ticket_id)
            async with engine.begin() as conn:
                await conn.execute(update(T).where(T.c.id == ticket_id).values(sla_next_at=now + RETRY))
    return result


def _due(now: datetime) -> Any:
    """Tickets the sweep must look at, earliest first."""
    return select(T).where(T.c.sla_next_at <= now, T.c.state.in_(tickets.OPEN_STATES)).order_by(T.c.sla_next_at)


class _Round:
    """One transaction of the sweep."""

    def __init__(self, conn: AsyncConnection, services: Services, now: datetime) -> None:
        self.conn = conn
        self.services = services
        self.sla = services.sla
        self.now = now
        self.lang = services.config.service.default_language
        self.ctx = Context.system(services, conn, Effects(), now)
        self.reminders: list[dict[str, Any]] = []
        self._spaces: dict[str, list[Space]] = {}
        self._leads: dict[str, list[int]] | None = None

    async def run(self, limit: int, only: int | None = None) -> SweepResult:
        """Lock up to `limit` due tickets (or just `only`), fire what is due, reschedule them."""
        query = _due(self.now).limit(limit).with_for_update(**skip_locked(self.conn))
        if only is not None:
            query = query.where(T.c.id == only)
        rows = [dict(r._mapping) for r in await self.conn.execute(query)]
        if not rows:
            return SweepResult()
        fired = await self._fired([r["id"] for r in rows])
        owed = {r["id"]: [d for d in pending(r, self.sla, self.now, fired[r["id"]]) if d.at <= self.now]
                for r in rows}
        new = await self._record(owed)
        updates = [await self._settle(row, owed[row["id"]], new, fired[row["id"]]) for row in rows]
        await self.conn.execute(update(T).where(T.c.id == bindparam("t_id")).values(
            sla_next_at=bindparam("t_next"), sla_level=bindparam("t_level"), breached=bindparam("t_breached")),
            updates)
        if self.reminders:
            await self.conn.execute(table(SlaReminder).insert(), self.reminders)
        for u in updates:  # the sweep's own next check (it knows what has fired) wins over a refresh's
            self.ctx.effects.next_checks.pop(u["t_id"], None)
        await self.ctx.effects.write(self.conn)
        return SweepResult(tickets=len(rows), events=len(new), messages=len(self.ctx.effects.outbox),
                           reminders=len(self.reminders))

    async def _fired(self, ids: list[int]) -> dict[int, set[EventKey]]:
        """Warnings and breaches already fired, per ticket."""
        found: dict[int, set[EventKey]] = defaultdict(set)
        for r in await self.conn.execute(select(E.c.ticket_id, E.c.kind, E.c.level, E.c.deadline).where(
                E.c.ticket_id.in_(ids), E.c.kind.in_(("warning", "breach")))):
            found[r.ticket_id].add((r.kind, r.level, r.deadline))
        return found

    async def _record(self, owed: dict[int, list[Due]]) -> set[tuple[int, str, int, datetime]]:
        """Insert the event rows; return the keys inserted now (the others had fired already)."""
        rows = [{"ticket_id": ticket_id, "kind": d.kind, "level": d.level, "deadline": d.deadline,
                 "fired_at": self.now} for ticket_id, due in owed.items() for d in due]
        if not rows:
            return set()
        stmt = insert_ignore(self.conn, E, ["ticket_id", "kind", "level", "deadline"]).values(rows)
        inserted = await self.conn.execute(stmt.returning(E.c.ticket_id, E.c.kind, E.c.level, E.c.deadline))
        return {(r.ticket_id, r.kind, r.level, r.deadline) for r in inserted}

    async def _settle(self, row: dict[str, Any], due: list[Due], new: set[tuple[int, str, int, datetime]],
                      fired: set[EventKey]) -> dict[str, Any]:
        """Act on a ticket's due items and tell people; return its row update."""
        changes: dict[str, Any] = {}
        for d in due:
            if d.kind in ("unclaimed", "waiting"):
                changes["sla_level"] = d.level
            elif d.kind == "breach":
                changes["breached"] = True
        acted = await self._act(row, due)
        notices: dict[str, list[str]] = defaultdict(list)
        for d in due:
            if (row["id"], *d.key) in new:
                await self._notice(row, d, notices)
        await self._send(row, notices)
        if acted:
            row = dict((await self.conn.execute(select(T).where(T.c.id == row["id"]))).one()._mapping)
        after = row | changes
        at = None
        if after["state"] in tickets.OPEN_STATES:
            at = next_check(after, self.sla, self.now, fired | {d.key for d in due})
        return {"t_id": row["id"], "t_next": at, "t_level": after["sla_level"], "t_breached": after["breached"]}

    async def _act(self, row: dict[str, Any], due: Iterable[Due]) -> bool:
        """Claim expiry puts the ticket back in its queue; the end of the waiting ladder closes it."""
        kinds = {(d.kind, d.level) for d in due}
        if ("claim_expired", 0) in kinds:
            view = await self._view(row["id"])
            await tickets.release(self.ctx, view, t("sla.claim_expired_reason", self.lang))
            return True
        if ("waiting", len(WAITING)) in kinds:
            view = await self._view(row["id"])
            await tickets.transition(self.ctx, view, "closed", closed_at=self.now, **self.sla.on_resolve())
            self.ctx.audit("ticket.auto_close", ticket_id=row["id"])
            await tickets.refresh(self.ctx, row["id"])
            return True
        return False

    async def _notice(self, row: dict[str, Any], d: Due, notices: dict[str, list[str]]) -> None:
        """Word one fired item for its audience: 'queue', 'secretariat', 'practitioner' or an expert's digest."""
        ticket_id, queue_id, assignee = row["id"], row["queue_id"], row["assignee_id"]
        ids = {"id": ticket_id, "queue": queue_id}
        if d.kind == "unclaimed":
            after = self.sla.describe(queue_id, row["priority"], UNCLAIMED[d.level - 1], self.lang)
            leads = (await self._queue_leads()).get(queue_id, [])
            if d.level == 1:
                notices["queue"].append(t("sla.unclaimed_reminder", self.lang, after=after, **ids))
            elif d.level == 2 and leads:
                self._remind(leads, ticket_id, "sla.lead_escalation", **ids)
            elif d.level == 2:
                notices["secretariat"].append(t("sla.lead_escalation_no_lead", self.lang, after=after, **ids))
            else:
                notices["secretariat"].append(t("sla.secretariat_escalation", self.lang, after=after, **ids))
        elif d.kind == "claim_expired":
            self._remind([assignee], ticket_id, "sla.claim_expired", **ids)
        elif d.kind == "warning" and assignee is not None:
            self._remind([assignee], ticket_id, f"sla.warning.{TARGETS[d.level - 1]}", due_at=d.deadline, **ids)
        elif d.kind in ("warning", "breach"):
            audience = "queue" if d.kind == "warning" else "secretariat"
            key = f"sla.{d.kind}.{TARGETS[d.level - 1]}"
            notices[audience].append(t(key, self.lang, due=self._local(queue_id, d.deadline), **ids))
        elif d.level == 1:  # waiting on the practitioner: a reminder
            notices["practitioner"].append(t("sla.waiting_reminder", row["language"], id=ticket_id))
        else:  # waiting on the practitioner: closed
            days = self.services.config.service.reopen_days
            notices["practitioner"].append(t("sla.auto_closed", row["language"], id=ticket_id, days=days))
            if assignee is not None:
                self._remind([assignee], ticket_id, "sla.auto_closed_expert", **ids)

    async def _send(self, row: dict[str, Any], notices: dict[str, list[str]]) -> None:
        """One message per audience for the ticket, however many items fired."""
        for audience, lines in notices.items():
            text = "\n\n".join(lines)
            if audience == "practitioner":
                tickets.tell_practitioner(self.ctx, await self._view(row["id"]), text)
            elif audience == "secretariat":
                for space in secretariat_spaces(self.services.config):
                    self.ctx.send(space.channel, space.chat, text, ticket_id=row["id"])
            else:  # the queue, under the ticket's card (as tickets.post_in_queue posts)
                for space in await self._queue_spaces(row["queue_id"]):
                    self.ctx.send(space.channel, space.chat, text, ticket_id=row["id"], thread_ref="card")

    def _remind(self, people: Iterable[int], ticket_id: int, key: str, due_at: datetime | None = None,
                **params: Any) -> None:
        self.reminders += [reminder_row(p, ticket_id, key, self.now, due_at, **params) for p in people]

    def _local(self, queue_id: str, moment: datetime) -> str:
        return local_time(moment, self.sla.timezone(queue_id))

    async def _view(self, ticket_id: int) -> tickets.TicketView:
        view = await tickets.load(self.conn, ticket_id)
        assert view is not None
        return view

    async def _queue_spaces(self, queue_id: str) -> list[Space]:
        if queue_id not in self._spaces:
            self._spaces[queue_id] = await queue_spaces(self.conn, self.services.config, queue_id)
        return self._spaces[queue_id]

    async def _queue_leads(self) -> dict[str, list[int]]:
        if self._leads is None:
            self._leads = defaultdict(list)
            for r in await self.conn.execute(select(QM.c.queue_id, QM.c.person_id)
                                             .where(QM.c.is_lead.is_(True), tickets.reachable(QM.c.person_id))
                                             .order_by(QM.c.person_id)):
                self._leads[r.queue_id].append(r.person_id)
        return self._leads
