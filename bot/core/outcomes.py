""""Did you apply it?": some time after a ticket is resolved, or after an FAQ answer was marked "This helped",
the practitioner is asked once whether they used the advice in their work.

The scheduler's SLA round calls `ask_due`. A question is asked by inserting its `knowledge_outcome` row
(INSERT … ON CONFLICT DO NOTHING on source, source id and the resolve or answer it follows) and writing the
message only for rows inserted now, in one transaction: each question goes out once across restarts and
replicas. People who cannot be reached (blocked, unreachable, erased, in their quiet hours) are skipped and
picked up by a later round while the question is still within `outcome_window_days` of falling due. A person
gets at most one such question a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.context import Context, Effects
from bot.core.followups import ENDED_STATES
from bot.core.reminders import quiet_hours
from bot.core.services import Services
from bot.core.spaces import private_chat
from bot.core.tickets import notify_person, reachable
from bot.db.models import KBDraft, KnowledgeOutcome, Person, Ticket, TriageDecision, table
from bot.db.sql import insert_ignore
from bot.i18n import t

KO, T, TD, P, D = table(KnowledgeOutcome), table(Ticket), table(TriageDecision), table(Person), table(KBDraft)
ANSWERS = ("applied", "partly", "not_yet", "no")
ONE_A_DAY = timedelta(days=1)
BATCH = 200
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Due:
    """A question that may be asked now."""

    person_id: int
    source: str
    source_id: int
    basis_at: datetime
    ticket_id: int | None
    entry_id: str | None
    queue_id: str | None
    subject: str  # the ticket's question, or the FAQ entry's id (worded in the person's language when asked)

    def row(self, now: datetime) -> dict[str, Any]:
        return {"person_id": self.person_id, "source": self.source, "source_id": self.source_id,
                "basis_at": self.basis_at, "ticket_id": self.ticket_id, "entry_id": self.entry_id,
                "queue_id": self.queue_id, "asked_at": now}


def _asked(source: str, source_id: Any, basis: Any) -> Any:
    return exists().where(KO.c.source == source, KO.c.source_id == source_id, KO.c.basis_at == basis)


def askable(person_id: Any) -> Any:
    """The person may be asked things now: a practitioner, not blocked, reachable (used by the digests too)."""
    return exists().where(P.c.id == person_id, P.c.blocked.is_(False), P.c.unreachable_at.is_(None),
                          P.c.role == "practitioner") & reachable(person_id)


async def due(conn: AsyncConnection, services: Services, now: datetime, limit: int = BATCH) -> list[Due]:
    """Questions fallen due at `now` and not asked yet, oldest first (before the quiet-hours and daily limits)."""
    learning = services.config.learning
    latest = now - timedelta(days=learning.outcome_days)
    earliest = latest - timedelta(days=learning.outcome_window_days)
    draft_entry = (select(D.c.entry_id).where(D.c.ticket_id == T.c.id, D.c.status == "approved")
                   .order_by(D.c.id.desc()).limit(1).scalar_subquery())
    resolved = await conn.execute(
        select(T.c.id, T.c.person_id, T.c.resolved_at, T.c.queue_id, T.c.question, draft_entry.label("entry_id"))
        .where(T.c.state.in_(ENDED_STATES), T.c.resolved_at <= latest, T.c.resolved_at > earliest,
               ~_asked("ticket", T.c.id, T.c.resolved_at), askable(T.c.person_id))
        .order_by(T.c.resolved_at).limit(limit))
    found = [Due(r.person_id, "ticket", r.id, r.resolved_at, r.id, r.entry_id, r.queue_id, r.question)
             for r in resolved]
    helped = await conn.execute(
        select(TD.c.message_id, TD.c.person_id, TD.c.created_at, TD.c.top_entry_id, TD.c.queue_id)
        .where(TD.c.feedback == "helped", TD.c.top_entry_id.is_not(None), TD.c.created_at <= latest,
               TD.c.created_at > earliest, ~_asked("faq", TD.c.message_id, TD.c.created_at),
               askable(TD.c.person_id))
        .order_by(TD.c.created_at).limit(limit))
    found += [Due(r.person_id, "faq", r.message_id, r.created_at, None, r.top_entry_id, r.queue_id,
                  r.top_entry_id) for r in helped]
    return sorted(found, key=lambda d: d.basis_at)


async def ask_due(engine: AsyncEngine, services: Services, now: datetime) -> int:
    """Ask every question due at `now` that may go now; return the messages written."""
    async with engine.begin() as conn:
        return await ask_due_on(conn, services, now)


async def ask_due_on(conn: AsyncConnection, services: Services, now: datetime) -> int:
    """`ask_due` in the caller's transaction."""
    candidates = await due(conn, services, now)
    if not candidates:
        return 0
    people = {d.person_id for d in candidates}
    busy = set((await conn.execute(select(KO.c.person_id).where(
        KO.c.person_id.in_(people), KO.c.asked_at > now - ONE_A_DAY))).scalars())
    info = {r.id: r for r in await conn.execute(select(P.c.id, P.c.timezone, P.c.quiet_hours)
                                                .where(P.c.id.in_(people)))}
    chosen: dict[int, Due] = {}
    for d in candidates:
        person = info[d.person_id]
        if d.person_id in busy or d.person_id in chosen:
            continue
        if quiet_hours(person.quiet_hours, person.timezone, services.config.service_levels).is_quiet(now):
            continue
        chosen[d.person_id] = d
    if not chosen:
        return 0
    stmt = insert_ignore(conn, KO, ["source", "source_id", "basis_at"]).values([d.row(now) for d in chosen.values()])
    inserted = {(r.source, r.source_id): r.id for r in await conn.execute(stmt.returning(KO.c.id, KO.c.source,
                                                                                       KO.c.source_id))}
    ctx = Context.system(services, conn, Effects(), now)
    for d in chosen.values():
        outcome_id = inserted.get((d.source, d.source_id))
        if outcome_id is not None:
            await _ask(ctx, d, outcome_id)
    await ctx.effects.write(conn)
    return len(ctx.effects.outbox)


async def _ask(ctx: Context, d: Due, outcome_id: int) -> None:
    """Write the question with its four answer buttons, in the person's language, where they are reached."""
    reach = await private_chat(ctx.conn, d.person_id)
    if reach is None:
        return
    lang = reach[2]
    buttons = [ctx.button(t(f"outcome.answer.{a}", lang), "outcome", outcome_id, a) for a in ANSWERS]
    days = ctx.services.config.learning.outcome_days
    if d.source == "ticket":
        await notify_person(ctx, d.person_id, "outcome.ask_ticket", d.ticket_id, buttons, known_reach=reach,
                            id=d.ticket_id, days=days, question=_short(d.subject))
        return
    kb = ctx.services.kb
    entry = kb.in_language(d.subject, lang) or kb.entries.get(d.subject)
    await notify_person(ctx, d.person_id, "outcome.ask_faq", None, buttons, known_reach=reach, days=days,
                        question=_short(entry.question if entry else d.subject))


def _short(text: str, most: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[:most - 1] + "…"


class Recorded(StrEnum):
    """What became of an answer."""

    saved = "saved"
    already = "already"  # answered before: the first answer counts
    reopened = "reopened"  # the ticket was reopened after the question: not counted, asked again after its resolve
    stale = "stale"  # not the sender's, or unknown


async def record_answer(ctx: Context, outcome_id: int, answer: str) -> tuple[Recorded, str | None]:
    """Store the sender's answer to their question `outcome_id`; also return the earlier answer when there is one."""
    row = (await ctx.conn.execute(select(KO).where(KO.c.id == outcome_id))).first()
    if row is None or row.person_id != ctx.person.id or answer not in ANSWERS:
        return Recorded.stale, None
    if row.answer is not None:
        return Recorded.already, row.answer
    if row.ticket_id is not None:
        ticket = (await ctx.conn.execute(select(T.c.state, T.c.resolved_at).where(T.c.id == row.ticket_id))).one()
        if ticket.state not in ENDED_STATES or ticket.resolved_at != row.basis_at:
            ctx.audit("outcome.reopened", ticket_id=row.ticket_id, outcome=outcome_id)
            return Recorded.reopened, None
    done = await ctx.conn.execute(update(KO).where(KO.c.id == outcome_id, KO.c.answer.is_(None))
                                  .values(answer=answer, answered_at=ctx.now))
    if not done.rowcount:  # another press of the same moment won
        return Recorded.already, None
    ctx.audit("outcome.answer", ticket_id=row.ticket_id, outcome=outcome_id, answer=answer)
    return Recorded.saved, None


async def record_comment(ctx: Context, outcome_id: int, comment: str) -> bool:
    """Store the sender's comment on their answered question; False when it is not theirs."""
    done = await ctx.conn.execute(update(KO).where(and_(KO.c.id == outcome_id, KO.c.person_id == ctx.person.id,
                                                        KO.c.answer.is_not(None)))
                                  .values(comment=comment.strip()[:MAX_COMMENT]))
    if done.rowcount:
        ctx.audit("outcome.comment", outcome=outcome_id)
    return bool(done.rowcount)
