"""Business-time arithmetic: working calendars per queue and quiet hours per expert.

Pure: no database, no I/O, no global state. Every datetime going in must be
timezone-aware; every datetime coming out is in UTC.

Model. On an open day (a working day that is not closed) each local working
interval is mapped to a real UTC interval, so on a DST day its length is the real
elapsed time. A local wall time that does not exist (DST gap) maps to the moment
of the transition; an ambiguous one (DST fold) to its first occurrence; this
mapping never goes backwards, so the intervals of successive days never overlap.
Open intervals are half-open ``[start, end)``.

Efficiency. Per calendar and year, the UTC intervals of every day and the running
total of open time are computed once (cache keyed by year), so adding or measuring
business time is a binary search plus a year-by-year walk, whatever the duration.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
_YEARS_AHEAD = 5  # default eager holiday years: this year and the next five
_MAX_EMPTY_YEARS = 10  # an open-time search gives up after this many years without open time

_Span = tuple[datetime, datetime, int]  # UTC start, UTC end, length in microseconds


class CalendarError(ValueError):
    """A calendar or quiet-hours definition that cannot be used."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


def _utc(moment: datetime, what: str = "moment") -> datetime:
    """``moment`` in UTC; ValueError if it is naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _wall_to_utc(zone: ZoneInfo, wall: datetime) -> datetime:
    """The UTC moment of a naive local wall time (gap: the transition; fold: first occurrence)."""
    before = zone.utcoffset(wall)
    after = zone.utcoffset(wall.replace(fold=1))
    assert before is not None and after is not None  # a ZoneInfo always has an offset
    if before >= after:
        return (wall - before).replace(tzinfo=UTC)
    # Nonexistent wall time: the transition lies in (wall - after, wall - before]; bisect for it.
    low, high = wall - after, wall - before
    while high - low > _US:
        middle = low + (high - low) // 2
        if zone.utcoffset(middle.replace(tzinfo=UTC).astimezone(zone)) == before:
            low = middle
        else:
            high = middle
    return high.replace(tzinfo=UTC)


def _clock(value: time) -> timedelta:
    """A time of day as an offset from midnight."""
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond)


def _segment(start: time, end: time) -> tuple[timedelta, timedelta]:
    """Offsets from local midnight of one working interval; an end of 00:00 means 24:00."""
    return _clock(start), (_DAY if end == _MIDNIGHT else _clock(end))


@dataclass(frozen=True, slots=True)
class _Year:
    """The open UTC intervals of every day of one year and their running total."""

    first: int  # ordinal of 1 January
    spans: tuple[tuple[_Span, ...], ...]  # per day of the year
    cumulative: tuple[int, ...]  # open microseconds before each day; last item = whole year


@dataclass(frozen=True)
class BusinessCalendar:
    """When a queue is open: working days and hours in a time zone, minus closed days.

    ``hours`` are naive local times; an end of ``time(0)`` means 24:00. Public holidays of
    ``holiday_country`` (and ``holiday_subdivision``) are closed for every year, computed on
    demand; ``closed_days`` holds the holidays computed up front plus custom closed days.
    ``always_open`` makes the calendar open 24/7 (everything else is then ignored).
    """

    timezone: str
    working_days: frozenset[int]
    hours: tuple[tuple[time, time], ...]
    closed_days: frozenset[date]
    always_open: bool = False
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _zoneinfo: ZoneInfo = field(init=False, repr=False, compare=False)
    _segments: tuple[tuple[timedelta, timedelta], ...] = field(init=False, repr=False, compare=False)
    _holidays: dict[int, frozenset[date]] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    _years: dict[int, _Year] = field(init=False, repr=False, compare=False, hash=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zoneinfo", _zone(self.timezone))
        if not self.working_days:
            raise CalendarError("working_days is empty: at least one day (0=Monday … 6=Sunday) is needed")
        if not self.working_days <= frozenset(range(7)):
            days = sorted(self.working_days)
            raise CalendarError(f"working_days must be within 0..6 (0=Monday), got {days}")
        object.__setattr__(self, "_segments", _validated_segments(self.hours))
        if self.holiday_country is None and self.holiday_subdivision is not None:
            raise CalendarError("holiday_subdivision given without holiday_country")
        if self.holiday_country is not None:
            try:
                holidays.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
            except NotImplementedError as exc:
                raise CalendarError(f"unknown holiday country code or subdivision: {exc}") from exc

    @classmethod
    def build(
        cls,
        timezone: str,
        working_days: Iterable[int] = range(5),
        hours: Iterable[tuple[time, time]] = ((time(9), time(17)),),
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
        years: Iterable[int] | None = None,
        extra_closed: Iterable[date] = (),
        always_open: bool = False,
    ) -> BusinessCalendar:
        """Validated calendar; ``hours`` may come in any order, the country code in any case.

        ``years`` (default: the current year and the next five) are the years whose public
        holidays are listed in ``closed_days`` up front; other years are computed on demand.
        """
        country = holiday_country.upper() if holiday_country is not None else None
        calendar = cls(
            timezone=timezone,
            working_days=frozenset(working_days),
            hours=tuple(sorted(hours)),
            closed_days=frozenset(extra_closed),
            always_open=always_open,
            holiday_country=country,
            holiday_subdivision=holiday_subdivision,
        )
        if country is None:
            return calendar
        if years is None:
            this_year = datetime.now(UTC).year
            years = range(this_year, this_year + _YEARS_AHEAD + 1)
        public = frozenset().union(*(calendar._public_holidays(year) for year in years))
        object.__setattr__(calendar, "closed_days", calendar.closed_days | public)
        return calendar

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside working hours."""
        moment = _utc(moment)
        if self.always_open:
            return True
        day = self._day_of(moment)
        return any(start <= moment < end for start, end, _ in self._spans(day))

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` itself (in UTC) if open, else the start of the next working interval."""
        moment = _utc(moment)
        if self.always_open:
            return moment
        return self._moment_at(*self._position(moment), at_end=False)

    def is_closed_day(self, day: date) -> bool:
        """Whether the local date ``day`` is a public holiday or a custom closed day."""
        return day in self.closed_days or day in self._public_holidays(day.year)

    def _public_holidays(self, year: int) -> frozenset[date]:
        if self.holiday_country is None:
            return frozenset()
        if year not in self._holidays:
            found = holidays.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision, years=year)
            self._holidays[year] = frozenset(found)
        return self._holidays[year]

    def _year(self, year: int) -> _Year:
        if year not in self._years:
            first = date(year, 1, 1)
            days = (date(year + 1, 1, 1) - first).days
            spans = tuple(self._day_spans(first + timedelta(days=n)) for n in range(days))
            cumulative = [0]
            for day_spans in spans:
                cumulative.append(cumulative[-1] + sum(length for _, _, length in day_spans))
            self._years[year] = _Year(first.toordinal(), spans, tuple(cumulative))
        return self._years[year]

    def _day_spans(self, day: date) -> tuple[_Span, ...]:
        """The open UTC intervals of a local date (computed, not cached)."""
        if day.weekday() not in self.working_days or self.is_closed_day(day):
            return ()
        midnight = datetime.combine(day, _MIDNIGHT)
        spans = []
        for start_offset, end_offset in self._segments:
            start = _wall_to_utc(self._zoneinfo, midnight + start_offset)
            end = _wall_to_utc(self._zoneinfo, midnight + end_offset)
            if end > start:
                spans.append((start, end, (end - start) // _US))
        return tuple(spans)

    def _spans(self, day: date) -> tuple[_Span, ...]:
        table = self._year(day.year)
        return table.spans[day.toordinal() - table.first]

    def _day_of(self, moment: datetime) -> date:
        """The local date whose day (from its mapped midnight to the next) contains ``moment``."""
        local = moment.astimezone(self._zoneinfo)
        day = local.date()
        # The second occurrence of a folded wall time can lie past the next day's midnight.
        if local.fold and moment >= _wall_to_utc(self._zoneinfo, datetime.combine(day + _DAY, _MIDNIGHT)):
            return day + _DAY
        return day

    def _position(self, moment: datetime) -> tuple[int, int]:
        """(year, open microseconds in that year before ``moment``)."""
        day = self._day_of(moment)
        table = self._year(day.year)
        index = day.toordinal() - table.first
        within = sum(min(max((moment - start) // _US, 0), length) for start, _, length in table.spans[index])
        return day.year, table.cumulative[index] + within

    def _moment_at(self, year: int, position: int, *, at_end: bool) -> datetime:
        """The moment with ``position`` open microseconds of ``year`` before it.

        Several moments share a position (closed time does not count): ``at_end`` picks the
        earliest (possibly the end of an interval), otherwise the first open one.
        """
        empty_years = 0
        while True:
            table = self._year(year)
            total = table.cumulative[-1]
            if position < total or (at_end and position == total > 0):
                break
            empty_years = empty_years + 1 if total == 0 else 0
            if empty_years > _MAX_EMPTY_YEARS:
                raise CalendarError(f"calendar has no open time in {_MAX_EMPTY_YEARS} years up to {year}")
            position -= total
            year += 1
        search = bisect_left if at_end else bisect_right
        index = search(table.cumulative, position) - 1
        remaining = position - table.cumulative[index]
        *earlier, last = table.spans[index]
        for start, _, length in earlier:
            if remaining < length or (at_end and remaining == length):
                return start + remaining * _US
            remaining -= length
        return last[0] + remaining * _US


def _validated_segments(hours: tuple[tuple[time, time], ...]) -> tuple[tuple[timedelta, timedelta], ...]:
    """Working intervals as offsets from midnight; CalendarError unless sorted, valid and disjoint."""
    if not hours:
        raise CalendarError("hours is empty: at least one working interval is needed")
    segments: list[tuple[timedelta, timedelta]] = []
    for start, end in hours:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise CalendarError(f"hours must be naive local times between 00:00 and 24:00, got {start}-{end}")
        segment = _segment(start, end)
        if segment[0] >= segment[1]:
            raise CalendarError(f"inverted working interval {start:%H:%M}-{end:%H:%M} (start >= end)")
        if segments and segment[0] < segments[-1][1]:
            raise CalendarError(f"overlapping or unsorted working intervals around {start:%H:%M}-{end:%H:%M}")
        segments.append(segment)
    return tuple(segments)


def business_days(n: float, calendar: BusinessCalendar) -> timedelta:
    """``n`` business days as business time: n times a full working day of ``calendar``."""
    segments = calendar._segments
    day = _DAY if calendar.always_open else sum((end - start for start, end in segments), timedelta())
    return timedelta(microseconds=round(n * (day // _US)))


def add_business_time(start: datetime, duration: timedelta, calendar: BusinessCalendar) -> datetime:
    """The earliest moment after ``duration`` of open time counted from ``start``.

    A zero duration gives ``calendar.next_open(start)``; a positive one may end exactly at
    the end of a working interval.
    """
    start = _utc(start, "start")
    if duration < timedelta():
        raise ValueError(f"duration must not be negative, got {duration}")
    if calendar.always_open:
        return start + duration
    year, position = calendar._position(start)
    return calendar._moment_at(year, position + duration // _US, at_end=duration > timedelta())


def business_time_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> timedelta:
    """Open time from ``a`` to ``b``; negative if ``b`` is before ``a``."""
    a, b = _utc(a, "a"), _utc(b, "b")
    if calendar.always_open:
        return b - a
    if b < a:
        return -business_time_between(b, a, calendar)
    (year_a, position_a), (year_b, position_b) = calendar._position(a), calendar._position(b)
    whole_years = sum(calendar._year(year).cumulative[-1] for year in range(year_a, year_b))
    return (whole_years + position_b - position_a) * _US


@dataclass(frozen=True)
class QuietHours:
    """When an expert must not be pinged: nightly ``start``–``end`` (may wrap midnight) and weekends.

    ``start == end`` means no nightly quiet hours; an ``end`` of 00:00 means midnight.
    """

    timezone: str
    start: time = time(20)
    end: time = time(8)
    weekend_quiet: bool = True
    _zoneinfo: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zoneinfo", _zone(self.timezone))
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise CalendarError("quiet hours must be naive local times")

    def is_quiet(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in quiet hours (local time of the expert)."""
        local = _utc(moment).astimezone(self._zoneinfo)
        if self.weekend_quiet and local.weekday() >= 5:
            return True
        now = local.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` itself (in UTC) if not quiet, else the first moment after the quiet period."""
        moment = _utc(moment)
        while self.is_quiet(moment):
            moment = self._quiet_period_end(moment)
        return moment

    def _quiet_period_end(self, moment: datetime) -> datetime:
        """The end of the weekend or nightly stretch containing the quiet ``moment``."""
        local = moment.astimezone(self._zoneinfo)
        day = local.date()
        if self.weekend_quiet and local.weekday() >= 5:
            wall = datetime.combine(day + timedelta(days=7 - local.weekday()), _MIDNIGHT)
        else:
            wraps_past_midnight = self.start > self.end and local.time() >= self.start
            wall = datetime.combine(day + _DAY if wraps_past_midnight else day, self.end)
        end = _wall_to_utc(self._zoneinfo, wall)
        if end <= moment:  # ``moment`` is the second occurrence of a folded wall time
            end = wall.replace(tzinfo=self._zoneinfo, fold=1).astimezone(UTC)
        return end
