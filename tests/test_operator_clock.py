"""The operator's clock: `helpdesk sla preview --at` lists exactly what the SLA job then sends, and
`helpdesk report sla --as-of` computes the figures as at a given time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.db.models import Outbox, SlaEvent, table
from bot.scheduler import sla_round
from bot.settings import Settings
from tests.desk import start_desk

O = table(Outbox)  # noqa: E741
AT = "2026-03-04T12:00"
SOLAR = "We need advice on solar irrigation pumping tariffs for remote farms"
GRID = "How should a distribution grid code treat rooftop solar export limits?"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HELPDESK_FILES_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    return CliRunner()


def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",  # type: ignore[call-arg]
                    helpdesk_files_dir=tmp_path / "files", _env_file=None)


async def two_tickets(tmp_path: Path) -> None:
    """Monday 09:00 UTC: one ENERGY ticket left unclaimed, one claimed by Amina and not answered."""
    desk = await start_desk(settings(tmp_path), with_kb=False)
    try:
        amina = await desk.staff("amina")
        await desk.practitioner("alice", lang="en").says(SOLAR)
        await desk.practitioner("bruno", lang="es").says(GRID)
        await amina.says("/claim 2")
    finally:
        await desk.app.stop()


async def what_the_sweep_sends(tmp_path: Path, at: datetime) -> tuple[int, list[dict[str, Any]]]:
    """Events recorded before the job runs, then the outbox rows one SLA round at `at` writes."""
    desk = await start_desk(settings(tmp_path), with_kb=False)
    try:
        async with desk.app.engine.connect() as conn:
            events = (await conn.execute(select(func.count()).select_from(table(SlaEvent)))).scalar_one()
            before = (await conn.execute(select(func.max(O.c.id)))).scalar_one()
        assert desk.app.services is not None
        await sla_round(desk.app.engine, desk.app.services, at)
        async with desk.app.engine.connect() as conn:
            rows = await conn.execute(select(O.c.channel, O.c.chat_id, O.c.ticket_id, O.c.kind, O.c.text)
                                      .where(O.c.id > before).order_by(O.c.id))
            return events, [dict(r._mapping) for r in rows]
    finally:
        await desk.app.stop()


def test_sla_preview_lists_exactly_what_the_sweep_then_sends(runner: CliRunner, tmp_path: Path) -> None:
    asyncio.run(two_tickets(tmp_path))
    result = runner.invoke(cli, ["sla", "preview", "--at", AT, "--json"])
    assert result.exit_code == 0, result.output
    planned = json.loads(result.output)
    again = json.loads(runner.invoke(cli, ["sla", "preview", "--at", AT, "--json"]).output)
    assert again == planned  # nothing was sent or recorded: the same answer twice

    texts = [p["text"] for p in planned]
    assert any("Escalation: ticket #1 has been unclaimed" in t for t in texts)  # to the secretariat
    assert any(t.startswith("Help desk reminders") and "claim on ticket #2" in t for t in texts)  # Amina's digest
    assert {p["to"] for p in planned} >= {"", "amina"}

    events, sent = asyncio.run(what_the_sweep_sends(tmp_path, datetime.fromisoformat(AT).replace(tzinfo=UTC)))
    assert events == 0
    assert [{k: p[k] for k in ("channel", "chat_id", "ticket_id", "kind", "text")} for p in planned] == sent

    text = runner.invoke(cli, ["sla", "preview", "--at", AT]).output  # now it has all been sent
    assert ": 0; nothing was sent" in text


def test_sla_preview_prints_each_message_and_refuses_a_bad_time(runner: CliRunner, tmp_path: Path) -> None:
    asyncio.run(two_tickets(tmp_path))
    out = runner.invoke(cli, ["sla", "preview", "--at", "2026-03-04T15:00+03:00"]).output
    assert "Messages the SLA job would send at 2026-03-04 15:00+03:00" in out
    assert "to console secretariat · ticket #1" in out and "to amina (telegram dm-amina)" in out
    assert "to console queue:ENERGY · ticket #2 · edits its card" in out  # the claim expired: the card changes
    bad = runner.invoke(cli, ["sla", "preview", "--at", "next tuesday"])
    assert bad.exit_code == 2 and "is not a time" in bad.output


def test_report_sla_as_of_counts_deadlines_passed_by_then(runner: CliRunner, tmp_path: Path) -> None:
    asyncio.run(two_tickets(tmp_path))

    def energy(*extra: str) -> dict[str, Any]:
        result = runner.invoke(cli, ["report", "sla", "--format", "json", "--queue", "energy", *extra])
        assert result.exit_code == 0, result.output
        return next(q for q in json.loads(result.output)["queues"] if q["queue"] == "ENERGY")

    early, late = energy("--as-of", "2026-03-02T10:00"), energy("--as-of", "2026-03-20T10:00")
    assert early["tickets"] == late["tickets"] == 2
    assert early["first_response_pct"] is None  # nothing was due yet
    assert late["first_response_pct"] == 0.0  # both first-response deadlines missed by then
    assert "as of 2026-03-20 10:00+00:00" in runner.invoke(cli, ["report", "sla", "--as-of", "2026-03-20T10:00"]).output
    assert runner.invoke(cli, ["report", "sla", "--as-of", "soon"]).exit_code == 2


async def test_the_preview_matches_the_sweep_on_both_databases(any_settings: Settings) -> None:
    from bot.core.sla_preview import preview

    desk = await start_desk(any_settings, with_kb=False)
    try:
        amina = await desk.staff("amina")
        await desk.practitioner("alice", lang="en").says(SOLAR)
        await desk.practitioner("bruno", lang="es").says(GRID)
        await amina.says("/claim 2")
        assert desk.app.services is not None
        at = datetime.fromisoformat(AT).replace(tzinfo=UTC)
        planned = await preview(desk.app.engine, desk.app.services, at)
        assert planned == await preview(desk.app.engine, desk.app.services, at)  # rolled back: the same again
        async with desk.app.engine.connect() as conn:
            before = (await conn.execute(select(func.max(O.c.id)))).scalar_one()
        await sla_round(desk.app.engine, desk.app.services, at)
        async with desk.app.engine.connect() as conn:
            sent = [tuple(r) for r in await conn.execute(select(O.c.channel, O.c.chat_id, O.c.ticket_id, O.c.kind,
                                                                O.c.text).where(O.c.id > before).order_by(O.c.id))]
        assert len(planned) >= 3 and [(p.channel, p.chat_id, p.ticket_id, p.kind, p.text) for p in planned] == sent
        assert await preview(desk.app.engine, desk.app.services, at) == []  # sent now: nothing left to send
    finally:
        await desk.app.stop()
