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
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Subquery, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceConfig
from bot.core.response_times import responded_at, response_times
from bot.core.sla import SlaClock
from bot.core.tickets import OPEN_STATES
from bot.db.models import SlaEvent, Ticket, table
from bot.db.sql import count_where

T, E = table(Ticket), table(SlaEvent)
ALL = "ALL"
AGES = ((2, "0-2d"), (5, "2-5d"), (10, "5-10d"), (None, "10d+"))  # backlog buckets: under N calendar days
COUNTS = ("tickets", "first_response_met", "first_response_counted", "resolution_met", "resolution_counted",
          "breaches", "warnings", "escalations")


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
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "first_response_hours"}
        return data | {"backlog": dict(self.backlog), "first_response_pct": _round(self.first_response_pct),
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


def day_start(day: date) -> datetime:
    """Midnight UTC of a day."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def _window(since: date | None, until: date | None, queues: Sequence[str]) -> list[Any]:
    """Conditions on tickets opened from `since` to `until` (both days included) in `queues`."""
    where: list[Any] = [T.c.queue_id.in_(queues)]
    if since is not None:
        where.append(T.c.created_at >= day_start(since))
    if until is not None:
        where.append(T.c.created_at < day_start(until + timedelta(days=1)))
    return where


def period_of(column: ColumnElement[datetime], starts: Sequence[date | None]) -> ColumnElement[int]:
    """SQL: the number of the period a moment falls in, periods beginning on `starts` (the last one open-ended).

    Group by it in an outer query (a subquery's column): its bound values cannot be repeated in GROUP BY.
    """
    bounds = [day_start(day) for day in starts[1:] if day is not None]
    if not bounds:
        return literal_column("0", Integer)
    return case(*[(column < bound, literal_column(str(n), Integer)) for n, bound in enumerate(bounds)],
                else_=literal_column(str(len(bounds)), Integer))


async def sla_report(conn: AsyncConnection, config: ServiceConfig, sla: SlaClock, now: datetime,
                     since: date | None = None, until: date | None = None, queue: str | None = None) -> SlaReport:
    """Compute the figures of tickets opened from `since` to `until` (UTC days, both included)."""
    return (await sla_reports(conn, config, sla, now, [since], until, queue))[0]


async def sla_reports(conn: AsyncConnection, config: ServiceConfig, sla: SlaClock, now: datetime,
                      starts: Sequence[date | None], until: date | None = None,
                      queue: str | None = None) -> list[SlaReport]:
    """The reports of consecutive periods at once (e.g. weeks): each from one of `starts` to the day before the
    next, the last to `until` (UTC days, both included); only the first start may be None (from the beginning).

    The counts are computed by the database (grouped by period and queue); the first-response times come
    from `response_times`, which measures in business hours only the tickets answered since the last call.
    """
    known = [day for day in starts if day is not None]
    if not starts or None in starts[1:] or known != sorted(set(known)):
        raise ValueError(f"period starts must be ascending dates: {starts}")
    queues = [queue] if queue else config.queue_ids
    periods = [{q: Figures(q) for q in queues} for _ in starts]
    tickets = select(T.c.id, T.c.queue_id, T.c.state, T.c.first_response_at, T.c.resolved_at,
                     T.c.first_response_due, T.c.resolution_due,
                     period_of(T.c.created_at, starts).label("period")).where(*_window(starts[0], until, queues))
    await _count_tickets(conn, periods, tickets.subquery(), now)
    await _count_events(conn, periods, tickets.subquery())
    backlog = await _backlog(conn, queues, now)
    times = await response_times(conn, sla, None if starts[0] is None else day_start(starts[0]),
                                 None if until is None else day_start(until + timedelta(days=1)))
    ends = [*starts[1:], None if until is None else until + timedelta(days=1)]
    reports = []
    for start, end, rows in zip(starts, ends, periods, strict=True):
        for figures in rows.values():
            figures.backlog |= backlog.get(figures.queue, {})
            figures.first_response_hours = times.hours(figures.queue, None if start is None else day_start(start),
                                                       None if end is None else day_start(end))
        reports.append(SlaReport(start, end and end - timedelta(days=1), config.service_levels.compliance_target,
                                 [*rows.values(), _overall(rows.values())]))
    return reports


async def _count_tickets(conn: AsyncConnection, periods: list[dict[str, Figures]], tickets: Subquery,
                         now: datetime) -> None:
    """Tickets, first responses and resolutions counted and met, per period and queue (docstring above)."""
    responded = responded_at(tickets.c.first_response_at, tickets.c.resolved_at)
    counted = select(
        tickets.c.period, tickets.c.queue_id, func.count().label("tickets"),
        count_where(or_(responded.is_not(None), tickets.c.first_response_due <= now)).label("first_response_counted"),
        count_where(responded <= tickets.c.first_response_due).label("first_response_met"),
        count_where(or_(tickets.c.resolved_at.is_not(None),
                        and_(tickets.c.state.in_(OPEN_STATES), tickets.c.resolution_due <= now))
                    ).label("resolution_counted"),
        count_where(tickets.c.resolved_at <= tickets.c.resolution_due).label("resolution_met"),
    ).group_by(tickets.c.period, tickets.c.queue_id)
    for r in await conn.execute(counted):
        figures = periods[r.period][r.queue_id]
        for name in ("tickets", "first_response_counted", "first_response_met", "resolution_counted",
                     "resolution_met"):
            setattr(figures, name, int(getattr(r, name)))


async def _count_events(conn: AsyncConnection, periods: list[dict[str, Figures]], tickets: Subquery) -> None:
    """Breaches, pre-breach warnings and escalations of the tickets counted."""
    for r in await conn.execute(select(tickets.c.period, tickets.c.queue_id, E.c.kind, E.c.level,
                                       func.count().label("n"))
                                .select_from(tickets.join(E, E.c.ticket_id == tickets.c.id))
                                .where(E.c.kind.in_(("breach", "warning", "unclaimed")))
                                .group_by(tickets.c.period, tickets.c.queue_id, E.c.kind, E.c.level)):
        figures = periods[r.period][r.queue_id]
        if r.kind == "breach":
            figures.breaches += r.n
        elif r.kind == "warning":
            figures.warnings += r.n
        elif r.kind == "unclaimed" and r.level >= 2:
            figures.escalations += r.n


async def _backlog(conn: AsyncConnection, queues: Sequence[str], now: datetime) -> dict[str, dict[str, int]]:
    """Tickets open now in the queues, by age (under N calendar days: opened after now - N days)."""
    age = case(*[(T.c.created_at > now - timedelta(days=limit), literal(label)) for limit, label in AGES if limit],
               else_=literal(AGES[-1][1]))
    open_now = select(T.c.queue_id, age.label("age")).where(T.c.state.in_(OPEN_STATES),
                                                            T.c.queue_id.in_(queues)).subquery()
    backlog: dict[str, dict[str, int]] = {}
    for r in await conn.execute(select(open_now.c.queue_id, open_now.c.age, func.count().label("n"))
                                .group_by(open_now.c.queue_id, open_now.c.age)):
        backlog.setdefault(r.queue_id, {})[r.age] = int(r.n)
    return backlog


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
