"""Calendars that apply at once: a closed day added or removed, or new working hours, move the stored
deadlines of open tickets, and a second process follows without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.config import ServiceConfig, load_config
from bot.core.calendar_changes import change_closed_day
from bot.db.models import Audit, Ticket, table
from bot.scheduler import sla_round
from bot.settings import Settings
from tests.desk import Desk, start_desk

EAT = ZoneInfo("Africa/Nairobi")
T, A = table(Ticket), table(Audit)
SOLAR = "We need advice on solar irrigation pumping tariffs for remote farms"
GRID = "How should a distribution grid code treat rooftop solar export limits?"
TUESDAY = date(2026, 3, 3)


@pytest.fixture
async def desk(any_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(any_settings, with_kb=False)
    yield d
    await d.app.stop()


async def deadlines(desk: Desk, ticket_id: int = 1) -> dict[str, datetime | None]:
    async with desk.app.engine.connect() as conn:
        row = (await conn.execute(select(T.c.first_response_due, T.c.resolution_due, T.c.sla_next_at)
                                  .where(T.c.id == ticket_id))).one()
    return dict(row._mapping)


async def close_day(desk: Desk, day: date, name: str | None = "Team retreat") -> int | None:
    """What `helpdesk calendar add-holiday` (or remove-holiday, with name None) does: one transaction."""
    async with desk.app.engine.begin() as conn:
        return await change_closed_day(conn, desk.app.config, "ENERGY", day, desk.clock.now(), name)


async def test_a_holiday_added_while_a_ticket_is_open_moves_its_deadlines_and_a_second_process_sees_it(
        desk: Desk, any_settings: Settings) -> None:
    alice = desk.practitioner("alice", lang="en")
    await alice.says(SOLAR)  # Monday 12:00 in Nairobi: first response due Wednesday 12:00
    first = await deadlines(desk)
    assert first["first_response_due"] == datetime(2026, 3, 4, 12, tzinfo=EAT)
    other = await start_desk(any_settings, with_kb=False)  # a second process, running before the change
    other.clock.set(desk.clock.now())
    try:
        assert await close_day(desk, TUESDAY) == 1
        moved = await deadlines(desk)
        assert moved["first_response_due"] == datetime(2026, 3, 5, 12, tzinfo=EAT)  # Tuesday closed: Thursday
        assert moved["resolution_due"] is not None and first["resolution_due"] is not None
        assert moved["resolution_due"] - first["resolution_due"] == timedelta(days=1)
        async with desk.app.engine.connect() as conn:
            audit = (await conn.execute(select(A.c.ticket_id, A.c.detail).where(A.c.action == "sla.calendar_change"))
                     ).one()
        assert audit.ticket_id == 1 and audit.detail["reason"] == "closed day 2026-03-03 added"
        assert audit.detail["moved"]["first_response_due"][1].startswith("2026-03-05T09:00")

        assert other.app.services is not None
        wednesday = datetime(2026, 3, 4, 12, tzinfo=EAT)
        assert other.app.services.sla.due("ENERGY", "normal", "first_response", other.clock.now()) == wednesday
        await sla_round(other.app.engine, other.app.services, other.clock.now())  # its next sweep
        assert other.app.services.sla.due("ENERGY", "normal", "first_response", other.clock.now()) != wednesday
        bruno = other.practitioner("bruno", lang="en")
        await bruno.says(GRID)
        assert (await deadlines(other, 2))["first_response_due"] == datetime(2026, 3, 5, 12, tzinfo=EAT)

        assert await close_day(desk, TUESDAY, None) == 2  # open again: both tickets move back
        assert (await deadlines(desk))["first_response_due"] == datetime(2026, 3, 4, 12, tzinfo=EAT)
        assert await close_day(desk, TUESDAY, None) is None  # not a closed day any more: nothing changes
    finally:
        await other.app.stop()


async def test_a_holiday_after_every_deadline_or_on_a_resolved_ticket_moves_nothing(desk: Desk) -> None:
    alice = desk.practitioner("alice", lang="en")
    amina = await desk.staff("amina")
    await alice.says(SOLAR)
    await amina.says("/resolve 1 Use a block tariff with prepaid metering.")
    bruno = desk.practitioner("bruno", lang="en")
    await bruno.says(GRID)
    before = await deadlines(desk, 2)
    assert await close_day(desk, date(2026, 6, 1)) == 0  # far after both deadlines of ticket #2
    assert await deadlines(desk, 2) == before
    assert await close_day(desk, TUESDAY) == 1  # only the open ticket


def hours(config: ServiceConfig, spans: list[str]) -> ServiceConfig:
    calendars = dict(config.calendars)
    calendars["nairobi"] = calendars["nairobi"].model_copy(update={"hours": spans})
    return config.model_copy(update={"calendars": calendars})


async def test_new_working_hours_in_the_config_move_deadlines_at_the_next_start(sqlite_settings: Settings) -> None:
    first = await start_desk(sqlite_settings, with_kb=False)
    await first.practitioner("alice", lang="en").says(SOLAR)
    assert (await deadlines(first))["first_response_due"] == datetime(2026, 3, 4, 12, tzinfo=EAT)
    await first.app.stop()

    again = await start_desk(sqlite_settings, with_kb=False, config=hours(load_config(), ["08:00-12:30"]))
    try:  # mornings only: 4.5 business hours a day; 16 hours from Monday noon reach Friday
        moved = (await deadlines(again))["first_response_due"]
        assert moved is not None and moved > datetime(2026, 3, 5, 12, tzinfo=EAT)
        async with again.app.engine.connect() as conn:
            reasons = [r.detail["reason"] for r in await conn.execute(
                select(A.c.detail).where(A.c.action == "sla.calendar_change"))]
        assert reasons == ["working calendar changed in the config"]
    finally:
        await again.app.stop()
    unchanged = await start_desk(sqlite_settings, with_kb=False, config=hours(load_config(), ["08:00-12:30"]))
    try:
        assert (await deadlines(unchanged))["first_response_due"] == moved  # the same config again: no move
    finally:
        await unchanged.app.stop()


def test_the_cli_says_how_many_tickets_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)

    async def one_ticket() -> date:
        """A ticket opened now (the CLI runs on the system clock); the local day its first response falls due."""
        d = await start_desk(Settings(database_url=url, _env_file=None), with_kb=False)  # type: ignore[call-arg]
        d.clock.set(datetime.now(UTC))
        await d.practitioner("alice", lang="en").says(SOLAR)
        due = (await deadlines(d))["first_response_due"]
        await d.app.stop()
        assert due is not None
        return due.astimezone(EAT).date()

    day = asyncio.run(one_ticket()).isoformat()
    runner = CliRunner()

    def said(*args: str) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert f"ENERGY is closed on {day} Team retreat (open tickets whose deadlines moved: 1; running help desks " \
           "follow at their next SLA sweep)" in said("calendar", "add-holiday", "ENERGY", day, "Team retreat")
    assert "open tickets whose deadlines moved: 0" in said("calendar", "add-holiday", "MRV", day)
    assert f"ENERGY is open again on {day} (open tickets whose deadlines moved: 1" in said(
        "calendar", "remove-holiday", "ENERGY", day)
