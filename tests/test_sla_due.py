"""What a ticket is owed and when the sweep looks next: examples and a property (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import load_config
from bot.core.sla import SlaClock
from bot.core.sla_due import next_check, pending

SLA = SlaClock(load_config())
MON = datetime(2026, 3, 2, 9, tzinfo=UTC)  # MRV works 09:00-17:00 UTC, Monday to Friday


def ticket(**changes: Any) -> dict[str, Any]:
    """An unclaimed MRV ticket opened on Monday 09:00."""
    row = {"queue_id": "MRV", "priority": "normal", "state": "new", "assignee_id": None, "created_at": MON,
           "first_response_at": None, "next_response_due": None, "claim_expires_at": None, "sla_paused_at": None,
           "sla_level": 0, **SLA.on_open("MRV", "normal", MON)}
    return row | changes


def test_a_new_ticket_is_next_looked_at_for_its_queue_reminder() -> None:
    assert next_check(ticket(), SLA, MON) == MON + timedelta(hours=4)
    assert next_check(ticket(sla_level=1), SLA, MON) == datetime(2026, 3, 2, 17, tzinfo=UTC)  # lead: 1 day
    owed = pending(ticket(sla_level=1), SLA, MON)
    assert {(d.kind, d.level, d.at) for d in owed} >= {("warning", 1, datetime(2026, 3, 3, 13, tzinfo=UTC)),
                                                         ("breach", 1, datetime(2026, 3, 3, 17, tzinfo=UTC))}


def test_after_downtime_only_the_last_step_and_the_breach_are_owed() -> None:
    late = datetime(2026, 3, 9, 9, tzinfo=UTC)
    due = sorted((d.kind, d.level) for d in pending(ticket(), SLA, late) if d.at <= late)
    assert due == [("breach", 1), ("unclaimed", 3)]  # no reminder, no lead escalation, no warning


def test_a_warning_already_sent_is_not_owed_again_but_without_events_the_check_comes_early() -> None:
    row = ticket(sla_level=2)
    warned_at = datetime(2026, 3, 3, 13, tzinfo=UTC)
    assert next_check(row, SLA, warned_at) == warned_at  # conservative: may look again, never late
    fired = {("warning", 1, row["first_response_due"])}
    assert next_check(row, SLA, warned_at, fired) == row["first_response_due"]


def test_claimed_tickets_owe_the_claim_expiry_and_waiting_ones_only_the_waiting_ladder() -> None:
    claimed = ticket(state="open", assignee_id=7, **SLA.on_claim("MRV", "normal", MON))
    assert [d.kind for d in pending(claimed, SLA, MON)].count("unclaimed") == 0
    assert claimed["claim_expires_at"] in {d.at for d in pending(claimed, SLA, MON)}
    waiting = claimed | {"state": "waiting"} | SLA.on_wait("MRV", "normal", MON)
    assert [(d.kind, d.level) for d in pending(waiting, SLA, MON)] == [("waiting", 1)]


def test_resume_keeps_deadlines_already_past_at_the_pause() -> None:
    row = ticket(state="waiting", assignee_id=7, sla_paused_at=datetime(2026, 3, 4, 9, tzinfo=UTC))
    resumed = SLA.on_resume(row, datetime(2026, 3, 6, 9, tzinfo=UTC))
    assert "first_response_due" not in resumed  # breached on Tuesday: no second breach for a new deadline
    assert resumed["resolution_due"] == datetime(2026, 3, 17, 17, tzinfo=UTC)  # two business days later


moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(opened=moments, after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
       queue=st.sampled_from(["MRV", "ENERGY", "AFOLU"]), priority=st.sampled_from(["normal", "urgent"]),
       state=st.sampled_from(["new", "open", "waiting"]), answered=st.booleans())
def test_after_firing_what_is_due_the_next_check_is_in_the_future(opened: datetime, after: timedelta, queue: str,
                                                                  priority: str, state: str, answered: bool) -> None:
    """The sweep never loops: once everything due at `now` has fired, nothing is owed at or before `now`."""
    now = opened + after
    row = {"queue_id": queue, "priority": priority, "state": state, "assignee_id": None if state == "new" else 7,
           "created_at": opened, "first_response_at": opened if answered else None, "next_response_due": None,
           "claim_expires_at": None, "sla_paused_at": None, "sla_level": 0, **SLA.on_open(queue, priority, opened)}
    if state != "new":
        row |= SLA.on_claim(queue, priority, opened)
    if state == "waiting":
        row |= SLA.on_wait(queue, priority, opened)
    due = [d for d in pending(row, SLA, now) if d.at <= now]
    for d in due:
        if d.kind in ("unclaimed", "waiting"):
            row["sla_level"] = d.level
        if d.kind == "claim_expired":
            row |= {"state": "new", "assignee_id": None} | SLA.on_release(now)
    following = next_check(row, SLA, now, {d.key for d in due})
    assert following is None or following > now
