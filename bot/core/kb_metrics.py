"""Knowledge-base figures for the CLI and the dashboard: stale entries, use per entry, gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.models import Message, Ticket, TriageDecision, table
from kb.entry import KBEntry
from kb.gaps import Cluster, Question, cluster_questions

TD, M, T = table(TriageDecision), table(Message), table(Ticket)
GAP_FEEDBACK = ("escalated", "false_deflection")


@dataclass(frozen=True)
class StaleEntry:
    """An entry past its review-by date."""

    entry_id: str
    queue: str
    lang: str
    owner: str
    review_by: date
    days_overdue: int


def stale_entries(entries: Sequence[KBEntry], today: date) -> list[StaleEntry]:
    """Entries whose review-by date has passed, most overdue first."""
    stale = [StaleEntry(e.id, e.queue, e.lang, e.owner, e.review_by, (today - e.review_by).days)
             for e in entries if e.review_by is not None and e.review_by < today]
    return sorted(stale, key=lambda s: (-s.days_overdue, s.entry_id))


@dataclass
class EntryStats:
    """How one FAQ entry was used (over the triage decisions since a date)."""

    entry_id: str
    matched: int = 0  # among the candidates of a question
    answered: int = 0  # given as the answer at once
    suggested: int = 0  # among the suggestions
    clicked: int = 0  # picked from the suggestions
    helped: int = 0  # "this helped"
    false_deflections: int = 0  # answered, and the practitioner asked for an expert
    tickets: int = 0  # tickets opened after it was the top match
    rated: int = 0
    rating_sum: int = 0

    @property
    def mean_rating(self) -> float | None:
        """Mean rating of the tickets opened after it (None without ratings)."""
        return self.rating_sum / self.rated if self.rated else None


async def entry_stats(conn: AsyncConnection, entry_ids: Sequence[str],
                      since: datetime | None = None) -> list[EntryStats]:
    """Use figures of every entry in ``entry_ids`` (and any other entry the decisions name)."""
    query = (select(TD.c.decision, TD.c.top_entry_id, TD.c.candidates, TD.c.feedback, TD.c.ticket_id, T.c.rating)
             .outerjoin(T, T.c.id == TD.c.ticket_id))
    if since is not None:
        query = query.where(TD.c.created_at >= since)
    stats = {i: EntryStats(i) for i in entry_ids}

    def of(entry_id: str) -> EntryStats:
        return stats.setdefault(entry_id, EntryStats(entry_id))

    for row in await conn.execute(query):
        names = list(dict.fromkeys(c["entry_id"] for c in row.candidates or ()))
        for name in names:
            of(name).matched += 1
            if row.decision == "suggest":
                of(name).suggested += 1
        top = row.top_entry_id
        if top is None:
            continue
        feedback = row.feedback or ""
        top_stats = of(top)
        top_stats.answered += row.decision == "answer"
        top_stats.clicked += feedback.startswith("picked:")
        top_stats.helped += feedback == "helped"
        top_stats.false_deflections += feedback == "false_deflection"
        if row.ticket_id is not None:
            top_stats.tickets += 1
            if row.rating is not None:
                top_stats.rated += 1
                top_stats.rating_sum += row.rating
    return sorted(stats.values(), key=lambda s: (-s.matched, s.entry_id))


async def gap_questions(conn: AsyncConnection, since: datetime | None = None) -> list[Question]:
    """Questions the FAQ did not answer: escalated at once, or after an unhelpful answer or suggestions."""
    query = (select(M.c.text, TD.c.lang).join(M, M.c.id == TD.c.message_id)
             .where(or_(TD.c.decision == "escalate", TD.c.feedback.in_(GAP_FEEDBACK)))
             .order_by(TD.c.created_at, TD.c.id))
    if since is not None:
        query = query.where(TD.c.created_at >= since)
    return [Question(r.text, r.lang) for r in await conn.execute(query)]


async def gaps(conn: AsyncConnection, since: datetime | None = None) -> list[Cluster]:
    """Unanswered questions grouped by similarity, biggest group first."""
    return cluster_questions(await gap_questions(conn, since))
