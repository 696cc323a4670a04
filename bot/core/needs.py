"""The needs report: who asks and what they need, for the secretariat (`helpdesk report needs`, /dashboard/needs).

Counted in a period (UTC days, both included), by the practitioner's country, region, sector and institution
type (the profile's role: government, adviser, NGO, …), by language and by queue, and by month:

* *questions*: questions the FAQ triaged (each has a triage decision);
* *tickets*: tickets opened (with or without an FAQ attempt first, e.g. after /new);
* *unanswered*: questions the FAQ did not answer — escalated at once, or after suggestions or an answer that
  did not help (the definition of `kb gaps`);
* *escalated*: tickets the SLA escalated to a queue lead or the secretariat (as in `helpdesk report sla`).

*Topics*: the unanswered questions grouped by similarity (`kb.gaps`), biggest first, leaving out those the
current FAQ now answers (a topic whose first example the matcher would answer at once).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.kb_metrics import GAP_FEEDBACK
from bot.core.knowledge import KnowledgeBase
from bot.db.models import Message, Person, SlaEvent, Ticket, TriageDecision, table
from kb.gaps import Question, cluster_questions

TD, T, P, E, M = table(TriageDecision), table(Ticket), table(Person), table(SlaEvent), table(Message)
NOT_GIVEN = "—"
DIMENSIONS = ("country", "region", "sector", "institution_type", "language", "queue")
FIGURES = ("questions", "tickets", "unanswered", "escalated")
CSV_FIELDS = ("by", "key", *FIGURES)
TOPICS = 20
Answered = Callable[[str, str], bool]  # (question, language) -> does the FAQ answer it now?


@dataclass
class NeedsRow:
    """The figures of one value of a dimension (or one month)."""

    key: str
    questions: int = 0
    tickets: int = 0
    unanswered: int = 0
    escalated: int = 0


@dataclass(frozen=True)
class Topic:
    """Unanswered questions alike: how many, their most frequent words, a few examples."""

    questions: int
    keywords: tuple[str, ...]
    examples: tuple[str, ...]


@dataclass
class NeedsReport:
    """The needs report of a period."""

    since: date | None
    until: date | None
    total: NeedsRow = field(default_factory=lambda: NeedsRow("all"))
    by: dict[str, list[NeedsRow]] = field(default_factory=dict)  # dimension -> rows, most questions first
    by_month: list[NeedsRow] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since and self.since.isoformat(), "until": self.until and self.until.isoformat(),
                "total": asdict(self.total), "by": {d: [asdict(r) for r in rows] for d, rows in self.by.items()},
                "by_month": [asdict(r) for r in self.by_month],
                "topics": [{"questions": t.questions, "keywords": list(t.keywords), "examples": list(t.examples)}
                           for t in self.topics]}


class _Tally:
    """Rows per dimension value, filled one question or ticket at a time."""

    def __init__(self) -> None:
        self.total = NeedsRow("all")
        self.rows: dict[str, dict[str, NeedsRow]] = {d: {} for d in (*DIMENSIONS, "month")}

    def add(self, keys: dict[str, str | None], figure: str) -> None:
        setattr(self.total, figure, getattr(self.total, figure) + 1)
        for dimension, key in keys.items():
            name = key or NOT_GIVEN
            row = self.rows[dimension].setdefault(name, NeedsRow(name))
            setattr(row, figure, getattr(row, figure) + 1)


def _bounds(query: Any, column: Any, since: date | None, until: date | None) -> Any:
    if since is not None:
        query = query.where(column >= datetime.combine(since, time(), UTC))
    if until is not None:
        query = query.where(column < datetime.combine(until + timedelta(days=1), time(), UTC))
    return query


def _profile(row: Any) -> dict[str, str | None]:
    return {"country": row.country, "region": row.region, "sector": row.sector, "institution_type": row.job_title,
            "month": row.created_at.strftime("%Y-%m")}


async def needs_report(conn: AsyncConnection, since: date | None = None, until: date | None = None,
                       answered: Answered | None = None) -> NeedsReport:
    """The report of the questions asked and tickets opened from `since` to `until`; `answered` tells which
    unanswered topics the FAQ answers by now (they are left out)."""
    tally = _Tally()
    profile = (P.c.country, P.c.region, P.c.sector, P.c.job_title)
    gap = TD.c.decision.in_(("escalate",)) | TD.c.feedback.in_(GAP_FEEDBACK)
    questions = _bounds(select(TD.c.created_at, TD.c.lang, TD.c.queue_id, gap.label("gap"), M.c.text, *profile)
                        .join(P, P.c.id == TD.c.person_id).join(M, M.c.id == TD.c.message_id)
                        .order_by(TD.c.created_at, TD.c.id), TD.c.created_at, since, until)
    unanswered: list[Question] = []
    for r in await conn.execute(questions):
        keys = _profile(r) | {"language": r.lang, "queue": r.queue_id}
        tally.add(keys, "questions")
        if r.gap:
            tally.add(keys, "unanswered")
            unanswered.append(Question(r.text, r.lang))
    escalated = exists().where(E.c.ticket_id == T.c.id, E.c.kind == "unclaimed", E.c.level >= 2)
    tickets = _bounds(select(T.c.created_at, T.c.language, T.c.queue_id, escalated.label("escalated"), *profile)
                      .join(P, P.c.id == T.c.person_id), T.c.created_at, since, until)
    for r in await conn.execute(tickets):
        keys = _profile(r) | {"language": r.language, "queue": r.queue_id}
        tally.add(keys, "tickets")
        if r.escalated:
            tally.add(keys, "escalated")
    report = NeedsReport(since, until, total=tally.total)
    for dimension in DIMENSIONS:
        report.by[dimension] = sorted(tally.rows[dimension].values(), key=lambda r: (-r.questions, -r.tickets, r.key))
    report.by_month = [tally.rows["month"][k] for k in sorted(tally.rows["month"])]
    report.topics = open_topics(unanswered, answered)
    return report


def faq_answers(kb: KnowledgeBase) -> Answered:
    """`answered` for `needs_report`: the current FAQ would answer the question at once."""
    return lambda text, lang: kb.triage(text, lang).decision == "answer"


def open_topics(questions: list[Question], answered: Answered | None, most: int = TOPICS) -> list[Topic]:
    """The biggest groups of unanswered questions the FAQ still does not answer."""
    topics = []
    for cluster in cluster_questions(questions):
        first = questions[cluster.members[0]]
        if answered is not None and answered(first.text, first.lang):
            continue
        topics.append(Topic(cluster.size, cluster.keywords, cluster.examples))
        if len(topics) == most:
            break
    return topics


def needs_csv(report: NeedsReport) -> str:
    """The report as CSV: one line per dimension value and month (`by`, `key`, the four figures), then one per
    topic (`by` = topic, `key` its words, `questions` its size)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    writer.writerow(["all", "all", *(getattr(report.total, f) for f in FIGURES)])
    for dimension, rows in [*report.by.items(), ("month", report.by_month)]:
        for row in rows:
            writer.writerow([dimension, row.key, *(getattr(row, f) for f in FIGURES)])
    for topic in report.topics:
        writer.writerow(["topic", " ".join(topic.keywords), topic.questions, "", "", ""])
    return out.getvalue()
