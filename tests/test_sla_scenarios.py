"""Transcripts of the SLA engine on a fake clock: deadlines, reminders, escalations, digests, quiet hours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select, update

from bot.app import build_app
from bot.channels.memory import MemoryChannel, Post
from bot.clock import FakeClock
from bot.config import ServiceConfig, load_config
from bot.core.calendar import business_time_between
from bot.core.sla_sweep import SweepResult
from bot.db.models import Outbox, Person, Queue, SlaEvent, Ticket, table
from bot.scheduler import sla_round
from bot.settings import Settings
from tests.desk import Actor, Desk, start_desk

EAT = ZoneInfo("Africa/Nairobi")
BOGOTA = "America/Bogota"
T, P = table(Ticket), table(Person)
SOLAR = "We need advice on solar irrigation pumping tariffs for remote farms"


def eat(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A wall time in Nairobi in 2026 (March unless told)."""
    return datetime(2026, month, day, hour, minute, tzinfo=EAT)


async def at(desk: Desk, moment: datetime) -> SweepResult:
    """Move the clock to `moment`, run the SLA job once, deliver what it wrote."""
    desk.clock.set(moment)
    result = await sla_round(desk.app.engine, desk.app.services, desk.clock.now())
    await desk.settle()
    return result


async def ticket(desk: Desk, ticket_id: int = 1) -> dict[str, object]:
    async with desk.app.engine.connect() as conn:
        return dict((await conn.execute(select(T).where(T.c.id == ticket_id))).one()._mapping)


async def events(desk: Desk) -> list[tuple[int, str, int]]:
    e = table(SlaEvent)
    async with desk.app.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(select(e.c.ticket_id, e.c.kind, e.c.level).order_by(e.c.id))]


async def set_person(desk: Desk, handle: str, **values: object) -> None:
    async with desk.app.engine.begin() as conn:
        await conn.execute(update(P).where(P.c.handle == handle).values(**values))


def secretariat(desk: Desk) -> list[Post]:
    return desk.channel("console").posts["secretariat"]


def sent_to(actor: Actor) -> list[str]:
    return [p.text for p in actor.posts]


async def ask(desk: Desk, name: str, when: datetime, text: str = SOLAR) -> Actor:
    """A practitioner asks a question the FAQ cannot answer, at `when`; it becomes an ENERGY ticket."""
    desk.clock.set(when)
    person = desk.practitioner(name, lang="en")
    await person.says(text)
    person.sees("ENERGY")
    return person


def with_calendar(config: ServiceConfig, name: str, **changes: object) -> ServiceConfig:
    calendars = dict(config.calendars)
    calendars[name] = calendars[name].model_copy(update=changes)
    return config.model_copy(update={"calendars": calendars})


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings, with_kb=False)
    yield d
    await d.app.stop()


@pytest.fixture
async def nine_to_six(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    """ENERGY on Nairobi time 09:00-18:00, Kenyan public holidays."""
    d = await start_desk(sqlite_settings, with_kb=False,
                         config=with_calendar(load_config(), "nairobi", hours=["09:00-18:00"]))
    yield d
    await d.app.stop()


async def test_friday_evening_question_over_a_kenyan_holiday_climbs_the_ladder(nine_to_six: Desk) -> None:
    desk = nine_to_six
    amina = await desk.staff("amina")  # lead of ENERGY
    await set_person(desk, "amina", timezone="Africa/Nairobi")
    # Friday 29 May 2026, 17:55 in Nairobi; Monday 1 June is Madaraka Day.
    await ask(desk, "alice", eat(29, 17, 55, month=5))
    row = await ticket(desk)
    assert row["first_response_due"] == eat(3, 17, 55, month=6)  # Wednesday, same business time
    assert row["sla_next_at"] == eat(2, 12, 55, month=6)  # 4 business hours: 5 min on Friday, 3 h 55 on Tuesday
    card_only = len(desk.queue("ENERGY").posts)

    await at(desk, eat(1, 12, 55, month=6))  # the holiday: nothing is due
    await at(desk, eat(2, 12, 54, month=6))
    assert len(desk.queue("ENERGY").posts) == card_only

    await at(desk, eat(2, 12, 55, month=6))
    desk.queue("ENERGY").sees("Reminder: ticket #1 has waited 4 business hours")

    await at(desk, eat(2, 17, 55, month=6))  # one business day unclaimed: the lead hears of it
    assert "Ticket #1 in ENERGY, a queue you lead, is still unclaimed" in sent_to(amina)[-1]

    await at(desk, eat(3, 13, 25, month=6))  # 75% of the first-response time
    desk.queue("ENERGY").sees("Pre-breach warning: ticket #1 (ENERGY) needs a first response by 2026-06-03 17:55 EAT")
    assert not secretariat(desk)

    await at(desk, eat(3, 17, 55, month=6))  # the deadline: escalation and breach, one message
    assert len(secretariat(desk)) == 1
    report = secretariat(desk)[0].text
    assert "unclaimed in ENERGY for 2 business days" in report
    assert "missed its first-response target (2026-06-03 17:55 EAT)" in report
    assert (await ticket(desk))["breached"] is True

    again = await at(desk, eat(3, 17, 55, month=6))
    assert again.events == 0 and len(secretariat(desk)) == 1
    assert await events(desk) == [(1, "unclaimed", 1), (1, "unclaimed", 2), (1, "warning", 1),
                                  (1, "breach", 1), (1, "unclaimed", 3)]


async def test_claimed_but_silent_the_claim_expires_and_the_ticket_returns_to_the_queue(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    await set_person(desk, "lucas", timezone="Africa/Nairobi")
    await ask(desk, "alice", eat(2, 9))
    await lucas.says("/claim 1")
    row = await ticket(desk)
    assert row["claim_expires_at"] == eat(4, 9)  # 2 business days of 8 h (08:00-12:30, 13:30-17:00)

    await at(desk, eat(3, 14))  # 75% of the first response: the warning goes to the assignee only
    assert "needs a first response by 2026-03-04 09:00 EAT" in sent_to(lucas)[-1]

    await at(desk, eat(4, 9))
    row = await ticket(desk)
    assert (row["state"], row["assignee_id"], row["claim_expires_at"]) == ("new", None, None)
    desk.queue("ENERGY").sees("Ticket #1 is back in the queue and needs an expert (claim expired without a reply)")
    assert "Your claim on ticket #1 (ENERGY) expired without a reply" in sent_to(lucas)[-1]
    assert "unclaimed" in desk.queue("ENERGY").posts[0].text  # the card offers it again
    assert "missed its first-response target" in secretariat(desk)[-1].text

    assert row["sla_next_at"] == eat(4, 14)  # the ladder starts again: 4 business hours
    await at(desk, eat(4, 14))
    desk.queue("ENERGY").sees("Reminder: ticket #1 has waited 4 business hours")


async def test_waiting_pauses_the_clock_and_the_reply_resumes_it_with_the_time_left(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    bob = await ask(desk, "bob", eat(2, 9))
    await lucas.says("/claim 1")
    desk.clock.set(eat(2, 10))
    await lucas.says("/reply 1 What is the pump size?")
    await lucas.says("/wait 1")
    before = await ticket(desk)
    assert before["sla_paused_at"] == eat(2, 10) and before["claim_expires_at"] is None

    result = await at(desk, eat(5, 10))  # three business days later, still paused
    assert result.events == 0 and await events(desk) == []

    await bob.says("Pumps of 5 kW, six hours a day.")
    lucas.sees("Bob wrote")
    after = await ticket(desk)
    calendar = desk.app.services.sla.calendar("ENERGY")
    assert after["state"] == "open" and after["sla_paused_at"] is None
    left = business_time_between(eat(2, 10), before["resolution_due"], calendar)
    assert business_time_between(eat(5, 10), after["resolution_due"], calendar) == left
    assert business_time_between(before["resolution_due"], after["resolution_due"], calendar) == timedelta(hours=24)
    assert after["first_response_due"] == before["first_response_due"]  # met before the pause: kept for reports
    assert after["claim_expires_at"] == eat(9, 10)  # the claim runs again from the reply
    assert after["next_response_due"] == eat(9, 10)


async def test_waiting_reminder_then_auto_close_then_a_reply_reopens(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    await set_person(desk, "lucas", timezone="Africa/Nairobi")
    bob = await ask(desk, "bob", eat(2, 9))
    await lucas.says("/claim 1")
    await lucas.says("/wait 1")
    sla = desk.app.services.sla
    reminder = sla.due("ENERGY", "normal", "waiting_reminder", eat(2, 9))
    close = sla.due("ENERGY", "normal", "waiting_autoclose", eat(2, 9))
    assert reminder == eat(9, 9)  # 5 business days

    await at(desk, reminder - timedelta(minutes=1))
    assert not any("still waiting" in text for text in sent_to(bob))
    await at(desk, reminder)
    assert "We are still waiting for your reply on ticket #1" in sent_to(bob)[-1]

    await at(desk, close)
    assert "Ticket #1 is closed because we did not hear back. Reply here within 14 days" in sent_to(bob)[-1]
    assert "Ticket #1 (ENERGY) was closed: the practitioner did not reply" in sent_to(lucas)[-1]
    row = await ticket(desk)
    assert (row["state"], row["closed_at"], row["sla_next_at"]) == ("closed", close, None)

    desk.clock.set(close + timedelta(days=3))
    await bob.says("Sorry for the delay: pumps of 5 kW.")
    bob.sees("Ticket #1 is open again")
    lucas.sees("reopened ticket #1")
    lucas.sees("Bob wrote", "5 kW")
    row = await ticket(desk)
    assert (row["state"], row["closed_at"]) == ("open", None)
    assert row["next_response_due"] is not None and row["claim_expires_at"] is not None


async def test_three_due_items_reach_the_expert_in_one_digest_at_most_hourly(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    await set_person(desk, "lucas", timezone="Africa/Nairobi")
    for n, name in enumerate(("ana", "ben", "chloe"), 1):
        await ask(desk, name, eat(2, 9))
        await lucas.says(f"/claim {n}")
    await ask(desk, "dan", eat(2, 9, 30))
    await lucas.says("/claim 4")
    digests_before = len(lucas.posts)

    result = await at(desk, eat(3, 14))  # the three first-response warnings fall due together
    assert result.reminders == 3
    assert len(lucas.posts) == digests_before + 1
    digest = lucas.posts[-1].text
    assert digest.startswith("Help desk reminders (3):")
    assert all(f"ticket #{n} (ENERGY) needs a first response" in digest for n in (1, 2, 3))

    await at(desk, eat(3, 14, 30))  # ticket #4's warning: the last digest went out half an hour ago
    assert len(lucas.posts) == digests_before + 1
    await at(desk, eat(3, 15))
    assert len(lucas.posts) == digests_before + 2
    assert lucas.posts[-1].text.startswith("Help desk reminders (1):") and "#4" in lucas.posts[-1].text


async def test_nothing_reaches_an_expert_in_quiet_hours_but_the_secretariat_hears_at_once(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    amina = await desk.staff("amina")  # lead of ENERGY
    for handle in ("lucas", "amina"):
        await set_person(desk, handle, timezone=BOGOTA)  # Nairobi 16:00 is 08:00 in Bogotá
    await ask(desk, "alice", eat(2, 9))
    await lucas.says("/claim 1")
    await ask(desk, "bob", eat(2, 9), "Which grid code applies to rooftop solar in secondary cities?")
    quiet_from = (len(lucas.posts), len(amina.posts))

    await at(desk, eat(3, 9))  # lead escalation of #2 (01:00 in Bogotá)
    await at(desk, eat(3, 14))  # pre-breach warning of #1 (06:00 in Bogotá)
    await at(desk, eat(3, 15, 59))
    assert (len(lucas.posts), len(amina.posts)) == quiet_from

    await at(desk, eat(3, 16))  # 08:00 in Bogotá
    assert "needs a first response by 2026-03-04 01:00 -05" in lucas.posts[-1].text
    assert "Ticket #2 in ENERGY, a queue you lead, is still unclaimed" in amina.posts[-1].text

    await at(desk, eat(4, 9))  # 01:00 in Bogotá: the secretariat is told now, the expert later
    assert any("Escalation: ticket #2" in p.text for p in secretariat(desk))
    assert any("ticket #1 (ENERGY) missed its first-response target" in p.text for p in secretariat(desk))
    assert not any("Your claim on ticket #1" in p.text for p in lucas.posts)
    await at(desk, eat(4, 16))
    assert "Your claim on ticket #1 (ENERGY) expired" in lucas.posts[-1].text


async def test_a_queue_without_a_lead_escalates_to_the_secretariat_and_says_so(desk: Desk) -> None:
    await ask(desk, "alice", eat(2, 9))  # amina leads ENERGY in the config but never wrote: unreachable
    await at(desk, eat(3, 9))
    assert len(secretariat(desk)) == 1
    assert "The queue has no lead, so this escalation comes to the secretariat" in secretariat(desk)[0].text


async def test_after_downtime_each_ticket_gets_one_message_not_one_per_missed_step(desk: Desk) -> None:
    await ask(desk, "alice", eat(2, 9))
    await ask(desk, "bob", eat(2, 9), "Which grid code applies to rooftop solar in secondary cities?")
    queue_posts = len(desk.queue("ENERGY").posts)
    result = await at(desk, eat(6, 9))  # the bot was down from Monday to Friday
    assert (result.tickets, result.messages) == (2, 2)
    assert len(desk.queue("ENERGY").posts) == queue_posts  # the reminder and warning are superseded
    assert [len(p.text.split("\n\n")) for p in secretariat(desk)] == [2, 2]  # escalation + breach, together
    assert await events(desk) == [(1, "breach", 1), (1, "unclaimed", 3), (2, "breach", 1), (2, "unclaimed", 3)]
    assert (await ticket(desk))["sla_level"] == 3
    assert (await at(desk, eat(6, 9, 1))).events == 0


async def test_a_failing_ticket_is_logged_and_skipped_and_the_sweep_goes_on(desk: Desk,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    await ask(desk, "alice", eat(2, 9))
    first = await ticket(desk)
    async with desk.app.engine.begin() as conn:  # a ticket of a queue the config no longer has
        await conn.execute(insert(table(Queue)).values(id="GONE", name="Retired queue", auto_assign=False))
        await conn.execute(insert(T).values({k: v for k, v in first.items() if k != "id"} | {"queue_id": "GONE"}))
    with caplog.at_level(logging.ERROR, logger="bot.core.sla_sweep"):
        result = await at(desk, eat(2, 14))
    assert result.failed == [2]
    assert "ticket 2 failed" in caplog.text
    desk.queue("ENERGY").sees("Reminder: ticket #1")
    assert (await ticket(desk, 2))["sla_next_at"] == eat(2, 14) + timedelta(minutes=10)
    async with desk.app.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(table(Outbox))
                                   .where(table(Outbox).c.ticket_id == 2))).scalar_one() == 0


async def test_the_help_desk_runs_the_sla_job_from_start_to_stop_and_catches_up_at_once(
        sqlite_settings: Settings) -> None:
    desk = await start_desk(sqlite_settings, with_kb=False)  # tests drive the sweep: no job runs
    assert desk.app.scheduler is not None and not desk.app.scheduler.running
    await ask(desk, "alice", eat(2, 9))
    await desk.app.stop()

    channels = {name: MemoryChannel(name) for name in ("console", "telegram", "slack")}
    app = build_app(sqlite_settings, clock=FakeClock(eat(2, 15)), channels=channels)  # back after the reminder
    await app.start()
    try:
        assert app.scheduler is not None and app.scheduler.running
        for _ in range(100):
            if any("Reminder: ticket #1" in p.text for p in channels["console"].posts["queue:ENERGY"]):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the SLA job did not run at start")
    finally:
        await app.stop()
    assert not app.scheduler.running


async def test_experts_set_their_own_quiet_hours_and_time_zone(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    await lucas.says("/quiet")
    lucas.sees("Your quiet hours: 20:00-08:00 (UTC) and weekends", "at most one digest every 60 minutes")
    for wrong in ("25:00-06:00", "Mars/Olympus"):
        await lucas.says(f"/quiet {wrong}")
        lucas.sees("Usage: /quiet")
    await lucas.says("/quiet 22:00-06:00 America/Bogota")
    lucas.sees("Your quiet hours: 22:00-06:00 (America/Bogota)")

    await ask(desk, "alice", eat(2, 9))
    await lucas.says("/claim 1")
    await at(desk, eat(3, 14))  # 06:00 in Bogotá: the default (08:00) would still be quiet
    assert "needs a first response" in lucas.posts[-1].text
    await lucas.says("/quiet default")
    lucas.sees("Your quiet hours: 20:00-08:00 (America/Bogota)")


async def test_releasing_a_waiting_ticket_gives_back_the_time_waited(desk: Desk) -> None:
    lucas = await desk.staff("lucas")
    await ask(desk, "alice", eat(2, 9))
    await lucas.says("/claim 1")
    await lucas.says("/wait 1")
    before = await ticket(desk)
    desk.clock.set(eat(5, 9))  # three business days later
    await lucas.says("/release 1 on leave")
    after = await ticket(desk)
    calendar = desk.app.services.sla.calendar("ENERGY")
    assert (after["state"], after["sla_paused_at"], after["queued_at"]) == ("new", None, eat(5, 9))
    assert business_time_between(before["first_response_due"], after["first_response_due"],
                                 calendar) == timedelta(hours=24)
