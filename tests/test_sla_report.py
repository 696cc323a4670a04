"""The SLA report on a seeded database, checked against figures computed by hand (both databases)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.core import response_times
from bot.core.reports import sla_report
from bot.core.sla import SlaClock
from bot.db.models import Message, Person, SlaEvent, Ticket, TriageDecision, table
from bot.settings import Settings
from bot.web.data import chart_data
from tests.desk import Desk, start_desk

NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)  # a Monday
MON = datetime(2026, 3, 2, 9, tzinfo=UTC)  # tickets opened then: first response due Tue 17:00, resolution Fri 13th
TUE_17, FRI_13_17 = datetime(2026, 3, 3, 17, tzinfo=UTC), datetime(2026, 3, 13, 17, tzinfo=UTC)


def utc(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# id: queue, state, opened, first response, resolved, first response due, resolution due
TICKETS = {
    1: ("MRV", "resolved", MON, utc(3, 2, 13), utc(3, 4, 10), TUE_17, FRI_13_17),  # 4 h, both met
    2: ("MRV", "open", MON, TUE_17, None, TUE_17, FRI_13_17),  # 16 h, just in time; resolution missed (open)
    3: ("MRV", "new", MON, None, None, TUE_17, FRI_13_17),  # nobody came: both missed
    4: ("MRV", "resolved", utc(3, 6, 16), utc(3, 9, 10), utc(3, 10, 11), utc(3, 10, 16), utc(3, 20, 16)),  # 2 h
    5: ("MRV", "new", utc(3, 13, 16), None, None, utc(3, 17, 16), utc(3, 27, 16)),  # not due yet: not counted
    6: ("ENERGY", "resolved", MON, utc(3, 2, 10), utc(3, 3, 10), utc(3, 4, 10), utc(3, 16, 10)),  # 0.5 h in Nairobi
    7: ("MRV", "open", utc(1, 20, 9), None, None, utc(1, 22, 9), utc(2, 3, 9)),  # before the period: backlog only
    8: ("MRV", "closed", MON, utc(3, 2, 11), None, TUE_17, FRI_13_17),  # 2 h; auto-closed: no resolution count
    9: ("ENERGY", "new", utc(3, 15, 12), None, None, utc(3, 18, 12), utc(3, 30, 12)),  # after the period: backlog
}
# ticket: (kind, level) fired
EVENTS = {2: [("warning", 3), ("breach", 3)], 3: [("unclaimed", 1), ("warning", 1), ("breach", 1), ("unclaimed", 2),
                                                 ("unclaimed", 3), ("breach", 3)],
          6: [("warning", 1)], 7: [("breach", 1), ("unclaimed", 2)]}


@pytest.fixture
async def desk(any_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(any_settings, with_kb=False)
    await seed(d)
    yield d
    await d.app.stop()


async def seed(desk: Desk) -> None:
    P, T, E = table(Person), table(Ticket), table(SlaEvent)
    async with desk.app.engine.begin() as conn:
        person = (await conn.execute(insert(P).values(
            display_name="Asker", role="practitioner", language="en", timezone="UTC", blocked=False,
            created_at=utc(1, 1)).returning(P.c.id))).scalar_one()
        for ticket_id, (queue, state, opened, answered, resolved, first_due, resolution_due) in TICKETS.items():
            await conn.execute(insert(T).values(
                id=ticket_id, queue_id=queue, state=state, priority="normal", person_id=person, language="en",
                question=f"question {ticket_id}", channel="telegram", chat_id="dm", created_at=opened,
                updated_at=opened, first_response_at=answered, resolved_at=resolved,
                closed_at=NOW if state == "closed" else None, first_response_due=first_due,
                resolution_due=resolution_due, breached=False, sla_level=0))
        await conn.execute(insert(E), [{"ticket_id": ticket_id, "kind": kind, "level": level,
                                        "deadline": TICKETS[ticket_id][5], "fired_at": NOW}
                                       for ticket_id, fired in EVENTS.items() for kind, level in fired])


async def test_report_figures_match_the_hand_computed_ones(desk: Desk) -> None:
    services = desk.app.services
    assert services is not None
    async with desk.app.engine.connect() as conn:
        report = await sla_report(conn, services.config, services.sla, NOW, since=date(2026, 3, 1),
                                  until=date(2026, 3, 13))
    rows = {r.queue: r for r in report.rows}
    assert report.target == 90 and list(rows)[-1] == "ALL"
    mrv, energy, total = rows["MRV"], rows["ENERGY"], rows["ALL"]
    # MRV: tickets 1 2 3 4 5 8; first response counted 1 2 3 4 8, met 1 2 4 8; resolution counted 1 2 3 4, met 1 4
    assert (mrv.tickets, mrv.first_response_met, mrv.first_response_counted) == (6, 4, 5)
    assert (mrv.resolution_met, mrv.resolution_counted) == (2, 4)
    assert (mrv.first_response_pct, mrv.resolution_pct) == (80.0, 50.0)
    assert (mrv.median_hours, mrv.p90_hours) == (3.0, 16.0)  # of 2, 2, 4, 16 business hours
    assert (mrv.breaches, mrv.warnings, mrv.escalations) == (3, 2, 2)  # ticket 7's events are outside the period
    assert mrv.backlog == {"0-2d": 0, "2-5d": 1, "5-10d": 0, "10d+": 3}  # 5; 2, 3, 7
    assert (energy.tickets, energy.first_response_pct, energy.resolution_pct) == (1, 100.0, 100.0)
    assert (energy.median_hours, energy.warnings) == (0.5, 1)  # 12:00-12:30 in Nairobi, then lunch
    assert energy.backlog == {"0-2d": 1, "2-5d": 0, "5-10d": 0, "10d+": 0}  # 9, opened after the period
    assert (total.tickets, total.first_response_met, total.first_response_counted) == (7, 5, 6)
    assert (total.resolution_met, total.resolution_counted) == (3, 5)
    assert (round(total.first_response_pct or 0, 1), total.resolution_pct) == (83.3, 60.0)
    assert (total.median_hours, total.p90_hours) == (2.0, 16.0)  # of 0.5, 2, 2, 4, 16
    assert (total.breaches, total.warnings, total.escalations) == (3, 3, 2)
    assert total.backlog == {"0-2d": 1, "2-5d": 1, "5-10d": 0, "10d+": 3}
    assert rows["AFOLU"].tickets == 0 and rows["AFOLU"].first_response_pct is None

    async with desk.app.engine.connect() as conn:
        only = await sla_report(conn, services.config, services.sla, NOW, queue="ENERGY")
    assert [r.queue for r in only.rows] == ["ENERGY", "ALL"] and only.rows[0].tickets == 2


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The blocks of tickets whose first-response times are measured, call by call."""
    calls: list[list[int]] = []
    measure = response_times._measure

    async def counted(conn: AsyncConnection, sla: SlaClock, blocks: Sequence[int]) -> Any:
        calls.append(sorted(blocks))
        return await measure(conn, sla, blocks)

    monkeypatch.setattr(response_times, "_measure", counted)
    return calls


async def test_measured_first_response_times_follow_changes(desk: Desk, measured: list[list[int]]) -> None:
    """Reports keep the business hours they measured; an answer, a transfer or a new ticket shows at once."""
    services = desk.app.services
    assert services is not None

    async def hours() -> dict[str, list[float]]:
        async with desk.app.engine.connect() as conn:
            report = await sla_report(conn, services.config, services.sla, NOW, since=date(2026, 3, 1),
                                      until=date(2026, 3, 13))
        return {r.queue: sorted(r.first_response_hours) for r in report.rows if r.queue in ("MRV", "ENERGY")}

    assert await hours() == {"MRV": [2.0, 2.0, 4.0, 16.0], "ENERGY": [0.5]}
    assert await hours() == {"MRV": [2.0, 2.0, 4.0, 16.0], "ENERGY": [0.5]} and len(measured) == 1  # kept
    T = table(Ticket)
    async with desk.app.engine.begin() as conn:  # ticket 3 answered Tuesday 10:00: 8 + 1 business hours
        await conn.execute(update(T).where(T.c.id == 3).values(first_response_at=utc(3, 3, 10), updated_at=NOW))
    assert (await hours())["MRV"] == [2.0, 2.0, 4.0, 9.0, 16.0]
    async with desk.app.engine.begin() as conn:  # ticket 1 moves to ENERGY (Nairobi hours, a lunch break)
        await conn.execute(update(T).where(T.c.id == 1).values(queue_id="ENERGY", updated_at=NOW + timedelta(1)))
    moved = await hours()
    assert moved["MRV"] == [2.0, 2.0, 9.0, 16.0] and len(moved["ENERGY"]) == 2 and 4.0 not in moved["ENERGY"]
    async with desk.app.engine.begin() as conn:
        asker = (await conn.execute(select(T.c.person_id).where(T.c.id == 1))).scalar_one()
        await conn.execute(insert(T).values(
            id=10, queue_id="MRV", state="open", priority="normal", person_id=asker, language="en", question="q",
            channel="telegram", chat_id="dm", created_at=utc(3, 2, 10), updated_at=utc(3, 2, 10),
            first_response_at=utc(3, 2, 11), first_response_due=TUE_17, resolution_due=FRI_13_17, breached=False,
            sla_level=0))
    assert (await hours())["MRV"] == [1.0, 2.0, 2.0, 9.0, 16.0]
    assert len(measured) == 4 and all(len(blocks) == 1 for blocks in measured[1:])  # only the changed block


async def test_chart_figures_per_week(desk: Desk) -> None:
    """The charts' weekly figures: tickets per queue, compliance as the weekly reports say, response times, FAQ use."""
    services = desk.app.services
    assert services is not None
    M, D = table(Message), table(TriageDecision)
    async with desk.app.engine.begin() as conn:
        people = table(Person)
        asker = (await conn.execute(select(people.c.id).where(people.c.role == "practitioner"))).scalar_one()
        for n, (decision, feedback, day) in enumerate([("answer", None, 2), ("answer", "false_deflection", 3),
                                                       ("escalate", None, 4), ("answer", None, 10)]):
            message = (await conn.execute(insert(M).values(
                channel="telegram", direction="in", person_id=asker, chat_id="dm", text=f"q{n}",
                created_at=utc(3, day, 10)).returning(M.c.id))).scalar_one()
            await conn.execute(insert(D).values(
                message_id=message, person_id=asker, lang="en", decision=decision, feedback=feedback,
                top_entry_id="btr-contents" if decision == "answer" else None, candidates=[], thresholds={},
                created_at=utc(3, day, 10)))
        figures = await chart_data(conn, services.config, services.sla, NOW)
        week = await sla_report(conn, services.config, services.sla, NOW, since=date(2026, 3, 2),
                                until=date(2026, 3, 8))
    assert figures["labels"][-3:] == ["03-02", "03-09", "03-16"]
    assert figures["per_queue"]["MRV"][-3:] == [5.0, 1.0, 0.0] and figures["per_queue"]["MRV"][-9] == 1.0  # Jan 19
    assert figures["per_queue"]["ENERGY"][-3:] == [1.0, 1.0, 0.0]
    assert figures["trend"]["first_response"][-3] == week.rows[-1].first_response_pct
    assert figures["trend"]["resolution"][-3] == week.rows[-1].resolution_pct
    assert dict(figures["spread"]) == {"<4 h": 3.0, "4-8 h": 1.0, "8-16 h": 0.0, "16-24 h": 1.0, "24-48 h": 0.0,
                                       "48 h+": 0.0}  # 0.5, 2, 2 · 4 · 16
    assert figures["rates"]["deflected"][-3:] == [200 / 3, 100.0, None]
    assert figures["rates"]["false_deflection"][-3:] == [50.0, 0.0, None]
    assert figures["top"] == [("btr-contents", 3.0)]


async def test_secretariat_stats_show_the_same_figures(desk: Desk) -> None:
    sam = await desk.staff("sam", role="secretariat")
    desk.clock.set(NOW)
    await sam.says("/stats")
    sam.sees("Service levels of tickets opened in the last 30 days (target 90% on time)",
             "MRV: 6 tickets · first response 80.0% · resolution 50.0% · median 3.0 h · p90 16.0 h · breaches 3 "
             "· warnings 2 · escalations 2 · open 4",
             "All queues: 8 tickets")


def test_report_command_prints_table_csv_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    runner = CliRunner()

    async def prepare() -> None:
        desk = await start_desk(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
                                         _env_file=None), with_kb=False)  # type: ignore[call-arg]
        await seed(desk)
        await desk.app.stop()

    asyncio.run(prepare())
    args = ["report", "sla", "--since", "2026-03-01", "--until", "2026-03-13"]
    data = json.loads(runner.invoke(cli, [*args, "--format", "json"]).output)
    mrv = next(q for q in data["queues"] if q["queue"] == "MRV")
    assert (data["target_pct"], mrv["tickets"], mrv["breaches"], mrv["median_hours"]) == (90, 6, 3, 3.0)
    table = list(csv.DictReader(io.StringIO(runner.invoke(cli, [*args, "--format", "csv", "--queue", "mrv"]).output)))
    assert [r["queue"] for r in table] == ["MRV", "ALL"]
    assert sum(int(v) for k, v in table[0].items() if k.startswith("backlog_")) == 4  # ages depend on today
    out = runner.invoke(cli, args).output
    assert "MRV" in out and "target 90%" in out and "3.0 h" in out
    assert runner.invoke(cli, [*args, "--queue", "COOKING"]).exit_code == 2


async def test_report_figures_are_measured_soon_after_start_not_at_the_first_report(
        desk: Desk, measured: list[list[int]]) -> None:
    services = desk.app.services
    assert services is not None and desk.app.scheduler is not None
    await desk.app.scheduler.warm_reports()  # what the scheduler runs WARM_REPORTS_AFTER seconds after start
    assert len(measured) == 1
    async with desk.app.engine.connect() as conn:  # the dashboard's all-time report then measures nothing
        await sla_report(conn, services.config, services.sla, NOW)
    assert len(measured) == 1
