"""Business calendars: examples (holidays, split hours, DST, 24/7, quiet hours) and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.calendar import (
    BusinessCalendar,
    CalendarError,
    QuietHours,
    add_business_time,
    business_days,
    business_time_between,
)

NAIROBI = ZoneInfo("Africa/Nairobi")
PARIS = ZoneInfo("Europe/Paris")
SANTIAGO = ZoneInfo("America/Santiago")
BERLIN = ZoneInfo("Europe/Berlin")
US = timedelta(microseconds=1)
ALL_DAY = ((time(0), time(0)),)  # 00:00-24:00


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local wall time (first occurrence if ambiguous)."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# --- examples -----------------------------------------------------------------------------------


def test_friday_evening_question_over_kenyan_holiday_lands_on_wednesday_same_clock_time() -> None:
    cal = BusinessCalendar.build("Africa/Nairobi", hours=[(time(9), time(18))], holiday_country="KE")
    friday = local(NAIROBI, 2023, 4, 28, 17, 55)  # Monday 1 May 2023 is Labour Day in Kenya
    assert cal.is_closed_day(date(2023, 5, 1))
    deadline = add_business_time(friday, business_days(2, cal), cal)
    assert deadline == local(NAIROBI, 2023, 5, 3, 17, 55)
    assert deadline.tzinfo is UTC
    assert business_time_between(friday, deadline, cal) == timedelta(hours=18)


def test_custom_closed_day_counts_like_a_holiday() -> None:
    cal = BusinessCalendar.build("Africa/Nairobi", hours=[(time(9), time(18))], extra_closed=[date(2025, 6, 9)])
    friday = local(NAIROBI, 2025, 6, 6, 17, 55)
    assert add_business_time(friday, business_days(2, cal), cal) == local(NAIROBI, 2025, 6, 11, 17, 55)


def test_four_business_hours_from_friday_afternoon_is_monday_noon() -> None:
    cal = BusinessCalendar.build("Europe/Paris")
    friday = local(PARIS, 2025, 3, 7, 16)
    assert add_business_time(friday, timedelta(hours=4), cal) == local(PARIS, 2025, 3, 10, 12)
    assert add_business_time(friday, timedelta(hours=1), cal) == local(PARIS, 2025, 3, 7, 17)  # end of day
    assert not cal.is_open(local(PARIS, 2025, 3, 7, 17))
    assert cal.next_open(local(PARIS, 2025, 3, 8, 12)) == local(PARIS, 2025, 3, 10, 9)


def test_split_hours_skip_the_lunch_break() -> None:
    cal = BusinessCalendar.build("Europe/Paris", hours=[(time(13, 30), time(17)), (time(9), time(12, 30))])
    assert cal.hours == ((time(9), time(12, 30)), (time(13, 30), time(17)))
    assert business_days(1, cal) == timedelta(hours=7)
    monday_noon = local(PARIS, 2025, 3, 10, 12)
    assert add_business_time(monday_noon, timedelta(minutes=30), cal) == local(PARIS, 2025, 3, 10, 12, 30)
    assert add_business_time(monday_noon, timedelta(hours=1), cal) == local(PARIS, 2025, 3, 10, 14)
    assert not cal.is_open(local(PARIS, 2025, 3, 10, 12, 45))
    assert cal.next_open(local(PARIS, 2025, 3, 10, 12, 45)) == local(PARIS, 2025, 3, 10, 13, 30)
    assert business_time_between(monday_noon, local(PARIS, 2025, 3, 11, 10), cal) == timedelta(hours=5)


def test_year_end_christmas_and_new_year_in_france_with_holidays_computed_on_demand() -> None:
    cal = BusinessCalendar.build("Europe/Paris", holiday_country="fr", years=[2025])
    assert date(2025, 12, 25) in cal.closed_days
    assert date(2026, 1, 1) not in cal.closed_days  # not precomputed ...
    assert cal.is_closed_day(date(2026, 1, 1))  # ... but still known
    two_days = business_days(2, cal)
    assert add_business_time(local(PARIS, 2025, 12, 31, 15), two_days, cal) == local(PARIS, 2026, 1, 5, 15)
    assert add_business_time(local(PARIS, 2025, 12, 24, 16), two_days, cal) == local(PARIS, 2025, 12, 29, 16)
    assert not cal.is_open(local(PARIS, 2030, 12, 25, 10))  # far outside the precomputed years
    moselle = BusinessCalendar.build("Europe/Paris", holiday_country="FR", holiday_subdivision="57")
    assert add_business_time(local(PARIS, 2025, 12, 24, 16), two_days, moselle) == local(PARIS, 2025, 12, 30, 16)


def test_default_years_list_this_years_holidays() -> None:
    this_year = datetime.now(UTC).year
    cal = BusinessCalendar.build("Europe/Paris", holiday_country="FR")
    assert date(this_year, 12, 25) in cal.closed_days
    assert date(this_year + 5, 12, 25) in cal.closed_days


def test_dst_days_in_paris_are_measured_in_real_time() -> None:
    every_day = BusinessCalendar.build("Europe/Paris", working_days=range(7), hours=ALL_DAY)
    spring, autumn = local(PARIS, 2025, 3, 29), local(PARIS, 2025, 10, 25)
    assert business_time_between(spring, local(PARIS, 2025, 3, 31), every_day) == timedelta(hours=47)
    assert business_time_between(autumn, local(PARIS, 2025, 10, 27), every_day) == timedelta(hours=49)
    # 24 business hours from Saturday noon: the Sunday has only 23 hours.
    assert add_business_time(local(PARIS, 2025, 3, 29, 12), timedelta(hours=24), every_day) == local(
        PARIS, 2025, 3, 30, 13
    )
    night = BusinessCalendar.build("Europe/Paris", working_days=[6], hours=[(time(1), time(4))])
    assert business_time_between(spring, local(PARIS, 2025, 3, 31), night) == timedelta(hours=2)
    assert business_time_between(autumn, local(PARIS, 2025, 10, 27), night) == timedelta(hours=4)
    in_the_gap = BusinessCalendar.build("Europe/Paris", working_days=[6], hours=[(time(2, 30), time(5))])
    transition = datetime(2025, 3, 30, 1, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST
    assert in_the_gap.next_open(spring) == transition
    assert business_time_between(spring, local(PARIS, 2025, 3, 31), in_the_gap) == timedelta(hours=2)
    office = BusinessCalendar.build("Europe/Paris")
    friday = local(PARIS, 2025, 3, 28, 16)
    assert add_business_time(friday, timedelta(hours=2), office) == datetime(2025, 3, 31, 8, tzinfo=UTC)


def test_dst_at_midnight_in_santiago() -> None:
    # 2025-09-07 00:00 does not exist (clocks jump to 01:00); 2025-04-05 23:00-24:00 happens twice.
    every_day = BusinessCalendar.build("America/Santiago", working_days=range(7), hours=ALL_DAY)
    sept = local(SANTIAGO, 2025, 9, 6, 12)
    assert every_day.next_open(local(SANTIAGO, 2025, 9, 7, 0, 30)) == datetime(2025, 9, 7, 4, 30, tzinfo=UTC)
    for start in (sept.astimezone(UTC), local(SANTIAGO, 2025, 4, 5, 12).astimezone(UTC)):
        end = start + timedelta(days=2)  # real time: UTC arithmetic
        assert business_time_between(start, end, every_day) == end - start
        assert add_business_time(start, end - start, every_day) == end
    sunday = local(SANTIAGO, 2025, 9, 7, 1)
    assert business_time_between(sunday, local(SANTIAGO, 2025, 9, 8), every_day) == timedelta(hours=23)
    saturday = local(SANTIAGO, 2025, 4, 5)
    assert business_time_between(saturday, local(SANTIAGO, 2025, 4, 6), every_day) == timedelta(hours=25)
    office = BusinessCalendar.build("America/Santiago", hours=[(time(9), time(18))])
    friday = local(SANTIAGO, 2025, 9, 5, 17)
    assert add_business_time(friday, timedelta(hours=2), office) == datetime(2025, 9, 8, 13, tzinfo=UTC)
    first_hour = BusinessCalendar.build("America/Santiago", working_days=[6], hours=[(time(0), time(1))])
    assert first_hour.next_open(sept) == local(SANTIAGO, 2025, 9, 14)  # 7 Sept has no first hour


def test_always_open_calendar() -> None:
    cal = BusinessCalendar.build("Africa/Nairobi", holiday_country="KE", always_open=True)
    christmas = local(NAIROBI, 2025, 12, 25, 3)
    assert cal.is_open(christmas)
    assert cal.next_open(christmas) == christmas
    assert add_business_time(christmas, timedelta(hours=4), cal) == christmas + timedelta(hours=4)
    assert business_time_between(christmas + timedelta(days=3), christmas, cal) == -timedelta(days=3)
    assert business_days(2, cal) == timedelta(days=2)


def test_measuring_backwards_is_negative_and_zero_duration_waits_for_opening() -> None:
    cal = BusinessCalendar.build("Europe/Paris")
    monday, tuesday = local(PARIS, 2025, 3, 10, 10), local(PARIS, 2025, 3, 11, 11)
    assert business_time_between(tuesday, monday, cal) == -timedelta(hours=9)
    assert add_business_time(monday, timedelta(0), cal) == monday
    assert add_business_time(local(PARIS, 2025, 3, 8), timedelta(0), cal) == local(PARIS, 2025, 3, 10, 9)


def test_long_durations_cross_years() -> None:
    cal = BusinessCalendar.build("Europe/Paris", holiday_country="FR")
    start = local(PARIS, 2025, 3, 3, 9)
    deadline = add_business_time(start, business_days(600, cal), cal)
    assert deadline.year == 2027
    assert business_time_between(start, deadline, cal) == business_days(600, cal)


def test_calendar_is_hashable_and_compares_by_value() -> None:
    first = BusinessCalendar.build("Europe/Paris", holiday_country="FR", years=[2025])
    second = BusinessCalendar.build("Europe/Paris", holiday_country="FR", years=[2025])
    first.is_open(local(PARIS, 2031, 1, 2, 10))  # fills first's caches only
    assert first == second
    assert len({first, second}) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"timezone": ""}, "unknown time zone"),
        ({"holiday_country": "XX"}, "unknown holiday country"),
        ({"holiday_country": "FR", "holiday_subdivision": "ZZ"}, "subdivision"),
        ({"holiday_subdivision": "57"}, "without holiday_country"),
        ({"hours": [(time(9), time(13)), (time(12), time(17))]}, "overlapping"),
        ({"hours": [(time(17), time(9))]}, "inverted"),
        ({"hours": [(time(9), time(9))]}, "inverted"),
        ({"hours": []}, "hours is empty"),
        ({"hours": [(time(9, tzinfo=UTC), time(17))]}, "naive local times"),
        ({"working_days": []}, "working_days is empty"),
        ({"working_days": [1, 7]}, "within 0..6"),
    ],
)
def test_invalid_calendars_are_rejected(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"timezone": "Europe/Paris", **kwargs}
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.build(**arguments)  # type: ignore[arg-type]


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(CalendarError, match="unsorted"):
        BusinessCalendar("UTC", frozenset({0}), ((time(13), time(17)), (time(9), time(12))), frozenset())


def test_naive_datetimes_and_negative_durations_are_rejected() -> None:
    cal = BusinessCalendar.build("Europe/Paris")
    naive = datetime(2025, 3, 10, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(naive, timedelta(hours=1), cal)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(local(PARIS, 2025, 3, 10), naive, cal)
    with pytest.raises(ValueError, match="timezone-aware"):
        QuietHours("Europe/Paris").is_quiet(naive)
    with pytest.raises(ValueError, match="negative"):
        add_business_time(local(PARIS, 2025, 3, 10), -timedelta(hours=1), cal)


def test_a_calendar_that_never_opens_is_reported() -> None:
    mondays = [date(2025, 1, 6) + timedelta(weeks=n) for n in range(52 * 16)]
    cal = BusinessCalendar.build("UTC", working_days=[0], extra_closed=mondays)
    with pytest.raises(CalendarError, match="no open time"):
        cal.next_open(datetime(2025, 1, 1, tzinfo=UTC))


def test_quiet_hours_wrap_midnight_and_cover_weekends() -> None:
    quiet = QuietHours("Europe/Berlin")  # 20:00-08:00 and weekends
    assert quiet.is_quiet(local(BERLIN, 2025, 3, 12, 21))
    assert quiet.is_quiet(local(BERLIN, 2025, 3, 12, 7, 59))
    assert not quiet.is_quiet(local(BERLIN, 2025, 3, 12, 8))
    assert quiet.next_allowed(local(BERLIN, 2025, 3, 12, 21)) == local(BERLIN, 2025, 3, 13, 8)
    assert quiet.next_allowed(local(BERLIN, 2025, 3, 12, 3)) == local(BERLIN, 2025, 3, 12, 8)
    noon = local(BERLIN, 2025, 3, 12, 12)
    assert quiet.next_allowed(noon) == noon
    assert quiet.next_allowed(local(BERLIN, 2025, 3, 14, 20, 30)) == local(BERLIN, 2025, 3, 17, 8)
    assert quiet.is_quiet(local(BERLIN, 2025, 3, 15, 12))
    weekdays_too = QuietHours("Europe/Berlin", weekend_quiet=False)
    assert not weekdays_too.is_quiet(local(BERLIN, 2025, 3, 15, 12))
    assert weekdays_too.next_allowed(local(BERLIN, 2025, 3, 15, 23)) == local(BERLIN, 2025, 3, 16, 8)
    lunch = QuietHours("Europe/Berlin", start=time(12), end=time(13), weekend_quiet=False)
    assert lunch.next_allowed(local(BERLIN, 2025, 3, 12, 12, 10)) == local(BERLIN, 2025, 3, 12, 13)
    assert not QuietHours("UTC", start=time(9), end=time(9)).is_quiet(local(BERLIN, 2025, 3, 12, 9))


def test_quiet_hours_across_the_autumn_fold() -> None:
    # Berlin, 2025-10-26: 03:00 CEST -> 02:00 CET, so 02:10 happens twice (00:10 and 01:10 UTC).
    quiet = QuietHours("Europe/Berlin", start=time(22), end=time(2, 30), weekend_quiet=False)
    first, second = datetime(2025, 10, 26, 0, 10, tzinfo=UTC), datetime(2025, 10, 26, 1, 10, tzinfo=UTC)
    assert quiet.next_allowed(first) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert quiet.next_allowed(second) == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


def test_quiet_hours_reject_unknown_zones() -> None:
    with pytest.raises(CalendarError, match="unknown time zone"):
        QuietHours("Nowhere/Special")


# --- properties ---------------------------------------------------------------------------------

DST_ZONES = [
    "Europe/Paris",
    "America/Santiago",
    "America/New_York",
    "America/Havana",
    "Australia/Lord_Howe",
    "Africa/Casablanca",
    "Pacific/Chatham",
    "Pacific/Apia",
    "America/St_Johns",
    "Asia/Tehran",
]
zones = st.one_of(st.sampled_from(DST_ZONES), st.sampled_from(sorted(available_timezones())))
moments = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC))
clock_times = st.one_of(st.times(), st.sampled_from([time(0), time(1), time(2, 30), time(3)]))
# Working-interval bounds in minutes, biased towards the hours where clocks change.
minutes = st.one_of(st.integers(0, 24 * 60), st.sampled_from([0, 30, 60, 120, 150, 180, 23 * 60, 24 * 60]))


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC offset changes of a zone in 2024-2026 (to within six hours)."""
    zone, start = ZoneInfo(zone_name), datetime(2024, 1, 1, tzinfo=UTC)
    steps = [start + timedelta(hours=6 * n) for n in range(3 * 366 * 4)]
    offsets = [step.astimezone(zone).utcoffset() for step in steps]
    return tuple(steps[n] for n in range(1, len(steps)) if offsets[n] != offsets[n - 1])


def moments_in(zone_name: str) -> st.SearchStrategy[datetime]:
    """Any moment, or one within two days of a clock change in the zone."""
    changes = transitions(zone_name)
    if not changes:
        return moments
    offsets = st.integers(-48 * 3600 * 10**6, 48 * 3600 * 10**6).map(lambda n: n * US)
    return st.one_of(moments, st.builds(lambda at, offset: at + offset, st.sampled_from(changes), offsets))


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    """Random zone, working days, 1-3 working intervals (minute precision) and closed days."""
    bounds = sorted(draw(st.sets(minutes, min_size=2, max_size=6)))
    bounds = bounds[: len(bounds) // 2 * 2]

    def clock(minutes: int) -> time:
        return time(minutes // 60 % 24, minutes % 60)

    return BusinessCalendar.build(
        draw(zones),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        hours=[(clock(bounds[i]), clock(bounds[i + 1])) for i in range(0, len(bounds), 2)],
        holiday_country=draw(st.sampled_from([None, "FR", "CL", "US"])),
        years=[],
        extra_closed=draw(st.frozensets(st.dates(date(2010, 1, 1), date(2033, 12, 31)), max_size=30)),
    )


def durations(cal: BusinessCalendar) -> st.SearchStrategy[timedelta]:
    """From zero to 15 business days, in microseconds."""
    return st.integers(0, business_days(15, cal) // US).map(lambda n: n * US)


PROPERTY = settings(max_examples=120, deadline=None)


@PROPERTY
@given(data=st.data(), cal=calendars())
def test_adding_is_monotone(data: st.DataObject, cal: BusinessCalendar) -> None:
    start = data.draw(moments_in(cal.timezone))
    first, second = sorted([data.draw(durations(cal)), data.draw(durations(cal))])
    assert add_business_time(start, first, cal) <= add_business_time(start, second, cal)


@PROPERTY
@given(data=st.data(), cal=calendars())
def test_measuring_what_was_added_gives_the_duration(data: st.DataObject, cal: BusinessCalendar) -> None:
    start = data.draw(moments_in(cal.timezone))
    duration = data.draw(durations(cal))
    end = add_business_time(start, duration, cal)
    assert business_time_between(cal.next_open(start), end, cal) == duration
    assert business_time_between(start, end, cal) == duration
    assert business_time_between(end, start, cal) == -duration


@PROPERTY
@given(data=st.data(), cal=calendars())
def test_result_is_open_or_the_end_of_an_open_interval(data: st.DataObject, cal: BusinessCalendar) -> None:
    start = data.draw(moments_in(cal.timezone))
    duration = data.draw(durations(cal))
    end = add_business_time(start, duration, cal)
    assert end.tzinfo is UTC
    if duration:
        assert cal.is_open(end) or cal.is_open(end - US)
    else:
        assert end == cal.next_open(start)
        assert cal.is_open(end)


@PROPERTY
@given(data=st.data(), cal=calendars())
def test_next_open_skips_only_closed_time(data: st.DataObject, cal: BusinessCalendar) -> None:
    moment = data.draw(moments_in(cal.timezone))
    opening = cal.next_open(moment)
    assert opening >= moment
    assert cal.is_open(opening)
    assert business_time_between(moment, opening, cal) == timedelta(0)
    assert (opening == moment) == cal.is_open(moment)
    assert (opening == moment) or not cal.is_open(opening - US)


@PROPERTY
@given(data=st.data(), cal=calendars())
def test_measuring_is_additive_and_agrees_with_is_open(data: st.DataObject, cal: BusinessCalendar) -> None:
    a, b, c = (data.draw(moments_in(cal.timezone)) for _ in range(3))
    assert business_time_between(a, b, cal) + business_time_between(b, c, cal) == business_time_between(a, c, cal)
    low, high = sorted([a, b])
    assert timedelta(0) <= business_time_between(low, high, cal) <= high - low
    assert (business_time_between(a, a + US, cal) == US) == cal.is_open(a)


@PROPERTY
@given(data=st.data(), zone=zones, start=clock_times, end=clock_times, weekend_quiet=st.booleans())
def test_next_allowed_is_the_end_of_quiet_time(
    data: st.DataObject, zone: str, start: time, end: time, weekend_quiet: bool
) -> None:
    quiet = QuietHours(zone, start, end, weekend_quiet)
    moment = data.draw(moments_in(zone))
    allowed = quiet.next_allowed(moment)
    assert allowed >= moment
    assert not quiet.is_quiet(allowed)
    assert (allowed == moment) == (not quiet.is_quiet(moment))
    assert allowed == moment or quiet.is_quiet(allowed - US)
