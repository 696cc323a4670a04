"""Service-level figures per queue and overall, for `helpdesk report sla`, `/stats` and the dashboard.

Definitions (docs/sla.md explains them):

- *tickets*: tickets opened in [since, until) in queues of the config;
- *first response*: the first expert reply, or the resolution when it came first; a ticket counts
  once responded to or once its first-response deadline has passed; *met* when the response came
  by the deadline; *compliance* = met / counted;
- *resolution*: likewise with the resolution deadline; tickets closed unanswered by the practitioner
  (auto-closed) do not count;
- *median* and *p90* (nearest rank) of the first-response time in business hours of the queue;
- *breaches*, *warnings* (pre-breach) and *escalations* (to a lead or the secretariat): `sla_event`
  rows of those tickets;
- *backlog*: tickets open now (new, open, waiting), by calendar age, whenever they were opened.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceConfig
from bot.core.calendar import business_time_between
from bot.core.sla import SlaClock
from bot.core.tickets import OPEN_STATES
from bot.db.models import SlaEvent, Ticket, table

T, E = table(Ticket), table(SlaEvent)
ALL = "ALL"
AGES = ((2, "0-2d"), (5, "2-5d"), (10, "5-10d"), (None, "10d+"))  # backlog buckets: under N calendar days
COUNTS = ("tickets", "first_response_met", "first_response_counted", "resolution_met", "resolution_counted",
          "breaches", "warnings", "escalations")
_HOUR = timedelta(hours=1)


@dataclass
class Figures:
    """The service-level figures of one queue (or of all, `queue == "ALL"`)."""

    queue: str
    tickets: int = 0
    first_response_met: int = 0
    first_response_counted: int = 0
    resolution_met: int = 0
    resolution_counted: int = 0
    first_response_hours: list[float] = field(default_factory=list, repr=False)
    breaches: int = 0
    warnings: int = 0
    escalations: int = 0
    backlog: dict[str, int] = field(default_factory=lambda: dict.fromkeys([label for _, label in AGES], 0))

    @property
    def first_response_pct(self) -> float | None:
        """Share of counted tickets answered in time, in percent."""
        return _pct(self.first_response_met, self.first_response_counted)

    @property
    def resolution_pct(self) -> float | None:
        """Share of counted tickets resolved in time, in percent."""
        return _pct(self.resolution_met, self.resolution_counted)

    @property
    def median_hours(self) -> float | None:
        """Median first-response time in business hours."""
        return statistics.median(self.first_response_hours) if self.first_response_hours else None

    @property
    def p90_hours(self) -> float | None:
        """90th percentile (nearest rank) of the first-response time in business hours."""
        values = sorted(self.first_response_hours)
        return values[math.ceil(0.9 * len(values)) - 1] if values else None

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and CSV."""
        data = asdict(self)
        del data["first_response_hours"]
        return data | {"first_response_pct": _round(self.first_response_pct),
                       "resolution_pct": _round(self.resolution_pct), "median_hours": _round(self.median_hours),
                       "p90_hours": _round(self.p90_hours)}


@dataclass(frozen=True)
class SlaReport:
    """Figures per queue, then overall, with the compliance target."""

    since: date | None
    until: date | None
    target: int
    rows: list[Figures]

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {"since": self.since and self.since.isoformat(), "until": self.until and self.until.isoformat(),
                "target_pct": self.target, "queues": [r.as_dict() for r in self.rows]}


def percent_text(value: float | None) -> str:
    """'83.3%', or '—' when nothing was counted."""
    return "—" if value is None else f"{value:.1f}%"


def hours_text(value: float | None) -> str:
    """'5.2 h', or '—' when nothing was counted."""
    return "—" if value is None else f"{value:.1f} h"


def _pct(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _window(since: date | None, until: date | None, queues: Sequence[str]) -> list[Any]:
    """Conditions on tickets opened from `since` to `until` (both days included) in `queues`."""
    where: list[Any] = [T.c.queue_id.in_(queues)]
    if since is not None:
        where.append(T.c.created_at >= datetime.combine(since, time(0), tzinfo=UTC))
    if until is not None:
        where.append(T.c.created_at < datetime.combine(until + timedelta(days=1), time(0), tzinfo=UTC))
    return where


async def sla_report(conn: AsyncConnection, config: ServiceConfig, sla: SlaClock, now: datetime,
                     since: date | None = None, until: date | None = None, queue: str | None = None) -> SlaReport:
    """Compute the figures of tickets opened from `since` to `until` (UTC days, both included)."""
    queues = [queue] if queue else config.queue_ids
    rows = {q: Figures(q) for q in queues}
    where = _window(since, until, queues)
    for r in await conn.execute(select(T.c.queue_id, T.c.priority, T.c.state, T.c.created_at, T.c.first_response_at,
                                       T.c.resolved_at, T.c.first_response_due, T.c.resolution_due).where(*where)):
        _count_ticket(rows[r.queue_id], r, sla, now)
    await _count_events(conn, rows, where)
    await _count_backlog(conn, rows, now)
    return SlaReport(since, until, config.service_levels.compliance_target, [*rows.values(), _overall(rows.values())])


async def _count_events(conn: AsyncConnection, rows: dict[str, Figures], where: list[Any]) -> None:
    """Breaches, pre-breach warnings and escalations of the tickets counted."""
    for r in await conn.execute(select(T.c.queue_id, E.c.kind, E.c.level, func.count().label("n"))
                                .join(T, T.c.id == E.c.ticket_id).where(*where)
                                .group_by(T.c.queue_id, E.c.kind, E.c.level)):
        figures = rows[r.queue_id]
        if r.kind == "breach":
            figures.breaches += r.n
        elif r.kind == "warning":
            figures.warnings += r.n
        elif r.kind == "unclaimed" and r.level >= 2:
            figures.escalations += r.n


async def _count_backlog(conn: AsyncConnection, rows: dict[str, Figures], now: datetime) -> None:
    """Tickets open now in the queues, by age."""
    for r in await conn.execute(select(T.c.queue_id, T.c.created_at)
                                .where(T.c.state.in_(OPEN_STATES), T.c.queue_id.in_(list(rows)))):
        age = (now - r.created_at) / timedelta(days=1)
        label = next(label for limit, label in AGES if limit is None or age < limit)
        rows[r.queue_id].backlog[label] += 1


def _count_ticket(figures: Figures, r: Any, sla: SlaClock, now: datetime) -> None:
    """Add one ticket's first response and resolution to its queue's figures."""
    figures.tickets += 1
    responded = r.first_response_at or r.resolved_at
    if responded is not None or r.first_response_due <= now:
        figures.first_response_counted += 1
        figures.first_response_met += int(responded is not None and responded <= r.first_response_due)
    if responded is not None:
        spent = business_time_between(r.created_at, responded, sla.calendar(figures.queue, r.priority))
        figures.first_response_hours.append(spent / _HOUR)
    if r.resolved_at is not None or (r.state in OPEN_STATES and r.resolution_due <= now):
        figures.resolution_counted += 1
        figures.resolution_met += int(r.resolved_at is not None and r.resolved_at <= r.resolution_due)


def _overall(rows: Iterable[Figures]) -> Figures:
    """The sum of every queue's figures."""
    total = Figures(ALL)
    backlog: Counter[str] = Counter()
    for figures in rows:
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(figures, name))
        total.first_response_hours += figures.first_response_hours
        backlog.update(figures.backlog)
    total.backlog = {label: backlog[label] for _, label in AGES}
    return total


def sla_csv(report: SlaReport) -> str:
    """One line per queue (and ALL); the backlog as one column per age (`helpdesk report sla --format csv`)."""
    out = io.StringIO()
    rows = [r.as_dict() for r in report.rows]
    for row in rows:
        row |= {f"backlog_{label}": n for label, n in row.pop("backlog").items()} | {"target_pct": report.target}
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
