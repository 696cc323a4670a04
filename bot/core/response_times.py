"""First-response times in business hours, per answered ticket, remembered between reports.

A report's median, p90 and time distribution need the business time from each ticket's opening to its
first response (the first expert reply, or the resolution when it came first), measured on the calendar
of its queue and priority. That calendar arithmetic, ticket by ticket, is what made a report over all time
slow, and its result does not change once a ticket is answered. So the times are kept in memory, for each
SLA clock (one desk's calendars), per block of tickets opened in the same `BLOCK_DAYS` days; a block is
measured again only when its fingerprint changed: how many tickets, first responses and resolutions it
has, its latest resolution and its latest update. Whatever moves a first response changes one of these:
an answer or a resolution (the counts), a reopening and new resolution (the latest resolution), a transfer
or a new priority (the update time). The fingerprints take one grouped query; only the blocks a report
needs are checked, and a new answer costs the measure of one block.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import BigInteger, ColumnElement, and_, cast, extract, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.calendar import business_time_between
from bot.core.sla import SlaClock
from bot.db.models import Ticket, table
from bot.db.sql import count_where

T = table(Ticket)
BLOCK_DAYS = 28  # tickets opened in the same 28 days (counted from 1970-01-01 UTC) form one block
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_HOUR = timedelta(hours=1)
_REACH = timedelta(days=BLOCK_DAYS + 1)  # a block's tickets lie this close to any one of them
Times = dict[str, tuple["array[int]", "array[float]"]]  # per queue: opening times (µs, ascending), hours


def responded_at(first_response_at: ColumnElement[Any], resolved_at: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL: when a ticket got its first response (a resolution counts as the first response)."""
    return func.coalesce(first_response_at, resolved_at)


RESPONDED = responded_at(T.c.first_response_at, T.c.resolved_at)


def micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC (exact, unlike a float timestamp)."""
    return (moment - _EPOCH) // _US


def block_of(column: ColumnElement[datetime]) -> ColumnElement[int]:
    """SQL: the block of a ticket's opening time (the database decides; Python never recomputes it)."""
    return cast(extract("epoch", column), BigInteger) // literal_column(str(BLOCK_DAYS * 86400), BigInteger)


@dataclass(frozen=True)
class _Block:
    """The measured tickets of one block and the fingerprint they were measured at."""

    mark: tuple[Any, ...]
    times: Times


class ResponseTimes:
    """The first-response times of the answered tickets of some blocks (every block a report needs)."""

    def __init__(self, blocks: Iterable[_Block]) -> None:
        self._blocks = list(blocks)

    def hours(self, queue: str, start: datetime | None, end: datetime | None) -> list[float]:
        """The times of the tickets of `queue` opened from `start` (included) to `end` (excluded); None: open."""
        low = None if start is None else micros(start)
        high = None if end is None else micros(end)
        found: list[float] = []
        for block in self._blocks:
            if queue not in block.times:
                continue
            opened, hours = block.times[queue]
            first = 0 if low is None else bisect_left(opened, low)
            last = len(opened) if high is None else bisect_left(opened, high)
            found.extend(hours[first:last])
        return found


_KEPT: WeakKeyDictionary[SlaClock, dict[int, _Block]] = WeakKeyDictionary()


async def response_times(conn: AsyncConnection, sla: SlaClock, since: datetime | None,
                         until: datetime | None) -> ResponseTimes:
    """The first-response times of (at least) the tickets opened from `since` to before `until` (None: open).

    Only the blocks holding such tickets are checked, and only those whose fingerprint changed are measured.
    """
    kept = _KEPT.setdefault(sla, {})
    block = block_of(T.c.created_at).label("block")
    inside = [T.c.created_at >= since] if since is not None else []
    inside += [T.c.created_at < until] if until is not None else []
    near = [T.c.created_at >= since - _REACH] if since is not None else []  # whole blocks: a mark covers its block
    near += [T.c.created_at < until + _REACH] if until is not None else []
    wanted = count_where(and_(*inside)) if inside else func.count()
    marks = {r.block: tuple(r)[2:] for r in await conn.execute(
        select(block, wanted.label("wanted"), func.count(), func.count(T.c.first_response_at),
               func.count(T.c.resolved_at), func.max(T.c.resolved_at), func.max(T.c.updated_at))
        .where(*near).group_by(block)) if r.wanted}
    stale = [b for b, mark in marks.items() if b not in kept or kept[b].mark != mark]
    if stale:
        measured = await _measure(conn, sla, stale)
        kept.update({b: _Block(marks[b], measured.get(b, {})) for b in stale})
    return ResponseTimes(kept[b] for b in sorted(marks))


async def _measure(conn: AsyncConnection, sla: SlaClock, blocks: Sequence[int]) -> dict[int, Times]:
    """The first-response times of the answered tickets of `blocks`, by block and queue."""
    block = block_of(T.c.created_at).label("block")
    query = select(block, T.c.queue_id, T.c.priority, T.c.created_at, RESPONDED.label("responded")).where(
        RESPONDED.is_not(None), T.c.queue_id.in_(sla.queue_ids), block_of(T.c.created_at).in_(blocks))
    found: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for r in await conn.execute(query):
        hours = business_time_between(r.created_at, r.responded, sla.calendar(r.queue_id, r.priority)) / _HOUR
        found.setdefault(r.block, {}).setdefault(r.queue_id, []).append((micros(r.created_at), hours))
    return {b: {q: (array("q", [o for o, _ in pairs]), array("d", [h for _, h in pairs]))
                for q, pairs in ((q, sorted(pairs)) for q, pairs in queues.items())}
            for b, queues in found.items()}
