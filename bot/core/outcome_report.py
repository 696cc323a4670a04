"""Knowledge applied: the answers to "did you apply it?" by queue, by FAQ entry and by month, for
`helpdesk report outcomes`, the dashboard and `kb stats`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.outcomes import ANSWERS
from bot.db.models import KnowledgeOutcome, table

KO = table(KnowledgeOutcome)
NONE = "-"  # the key of outcomes without a queue or entry
CSV_FIELDS = ("by", "key", "asked", "answered", *ANSWERS, "applied_pct")


@dataclass
class OutcomeRow:
    """Questions asked and their answers, for one queue, entry or month."""

    key: str
    asked: int = 0
    answered: int = 0
    applied: int = 0
    partly: int = 0
    not_yet: int = 0
    no: int = 0

    @property
    def applied_pct(self) -> float | None:
        """Share of the answers that say the advice was applied, fully or partly (None without answers)."""
        return round(100 * (self.applied + self.partly) / self.answered, 1) if self.answered else None

    def count(self, answer: str | None) -> None:
        self.asked += 1
        if answer in ANSWERS:
            self.answered += 1
            setattr(self, answer, getattr(self, answer) + 1)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"applied_pct": self.applied_pct}


@dataclass
class OutcomeReport:
    """Outcomes of the questions asked in a period (by when they were asked)."""

    since: date | None
    until: date | None
    total: OutcomeRow = field(default_factory=lambda: OutcomeRow("all"))
    by_queue: list[OutcomeRow] = field(default_factory=list)
    by_entry: list[OutcomeRow] = field(default_factory=list)
    by_month: list[OutcomeRow] = field(default_factory=list)

    def sections(self) -> Iterable[tuple[str, OutcomeRow]]:
        """Every row with the name of its grouping, in CSV order."""
        yield "all", self.total
        for name, rows in (("queue", self.by_queue), ("entry", self.by_entry), ("month", self.by_month)):
            for row in rows:
                yield name, row

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since and self.since.isoformat(), "until": self.until and self.until.isoformat(),
                "total": self.total.as_dict(), "by_queue": [r.as_dict() for r in self.by_queue],
                "by_entry": [r.as_dict() for r in self.by_entry], "by_month": [r.as_dict() for r in self.by_month]}


def _grouped(rows: dict[str, OutcomeRow], key: str) -> OutcomeRow:
    return rows.setdefault(key, OutcomeRow(key))


async def outcome_report(conn: AsyncConnection, since: date | None = None, until: date | None = None,
                         ) -> OutcomeReport:
    """The figures of the questions asked from `since` to `until` (UTC days, both included)."""
    query = select(KO.c.queue_id, KO.c.entry_id, KO.c.asked_at, KO.c.answer)
    if since is not None:
        query = query.where(KO.c.asked_at >= datetime.combine(since, time(), UTC))
    if until is not None:
        query = query.where(KO.c.asked_at < datetime.combine(until + timedelta(days=1), time(), UTC))
    report = OutcomeReport(since, until)
    queues: dict[str, OutcomeRow] = {}
    entries: dict[str, OutcomeRow] = {}
    months: dict[str, OutcomeRow] = {}
    for r in await conn.execute(query):
        report.total.count(r.answer)
        _grouped(queues, r.queue_id or NONE).count(r.answer)
        if r.entry_id is not None:
            _grouped(entries, r.entry_id).count(r.answer)
        _grouped(months, r.asked_at.strftime("%Y-%m")).count(r.answer)
    report.by_queue = [queues[k] for k in sorted(queues)]
    report.by_entry = sorted(entries.values(), key=lambda r: (-r.asked, r.key))
    report.by_month = [months[k] for k in sorted(months)]
    return report


def outcome_csv(report: OutcomeReport) -> str:
    """The report as CSV: one line per grouping and key, the same figures as the table and JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for name, row in report.sections():
        figures = row.as_dict()
        writer.writerow([name, row.key, *(figures[f] if figures[f] is not None else "" for f in CSV_FIELDS[2:])])
    return out.getvalue()


async def applied_by_entry(conn: AsyncConnection, since: datetime | None = None) -> dict[str, OutcomeRow]:
    """Outcomes per FAQ entry (for `kb stats`)."""
    query = select(KO.c.entry_id, KO.c.answer).where(KO.c.entry_id.is_not(None))
    if since is not None:
        query = query.where(KO.c.asked_at >= since)
    rows: dict[str, OutcomeRow] = {}
    for r in await conn.execute(query):
        _grouped(rows, r.entry_id).count(r.answer)
    return rows
