"""SLA configuration: clear errors and warnings in `config check`; custom holidays kept in the database."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.config import DEFAULT_CONFIG, ConfigError, parse_config
from bot.settings import Settings
from tests.desk import start_desk

EXAMPLE = DEFAULT_CONFIG.read_text(encoding="utf-8")
EAT = ZoneInfo("Africa/Nairobi")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    return CliRunner()


def check(cli: CliRunner, tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "helpdesk.toml"
    path.write_text(text, encoding="utf-8")
    result = cli.invoke(app, ["config", "check", str(path)])
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


def test_config_check_warns_of_past_holidays_and_queues_without_a_lead(cli: CliRunner, tmp_path: Path) -> None:
    text = EXAMPLE.replace("closed_days = []", 'closed_days = ["2020-12-24"]')
    text = text.replace('leads = ["sofia"]', "leads = []")
    code, out = check(cli, tmp_path, text)
    assert code == 0 and "OK" in out
    assert "warning: calendars.default.closed_days: 2020-12-24 is in the past" in out
    assert "warning: queues[AFOLU].leads: no lead, so escalations go straight to the secretariat" in out
    assert "warning" not in check(cli, tmp_path, EXAMPLE)[1]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('hours = ["08:00-17:00"]', 'hours = ["17:00-08:00"]', "'17:00-08:00' ends before it starts"),
    ('hours = ["08:00-12:30", "13:30-17:00"]', 'hours = ["08:00-13:00", "12:00-17:00"]', "working hours overlap"),
    ('holiday_country = "KE"', 'holiday_country = "ZZ"', "unknown holiday country code"),
    ("closed_days = []", 'closed_days = ["2026-02-30"]', "'2026-02-30' is not a date"),
    ("pre_breach_percent = 75", "pre_breach_percent = 0", "pre_breach_percent: must be between 1 and 99"),
    ('quiet_hours = "20:00-08:00"', 'quiet_hours = "25:00-08:00"', "'25:00-08:00' has an impossible time"),
    ("compliance_target = 90", "compliance_target = 120", "compliance_target: must be between 1 and 100"),
])
def test_config_check_names_the_key_and_the_problem(cli: CliRunner, tmp_path: Path, old: str, new: str,
                                                    expected: str) -> None:
    assert old in EXAMPLE
    code, out = check(cli, tmp_path, EXAMPLE.replace(old, new, 1))
    assert code == 2 and expected in out, out


def test_quiet_hours_may_wrap_midnight_but_working_hours_may_not() -> None:
    config = parse_config(EXAMPLE.replace('quiet_hours = "20:00-08:00"', 'quiet_hours = "22:00-06:30"'))
    assert config.service_levels.quiet_hours == "22:00-06:30"
    with pytest.raises(ConfigError, match="ends before it starts"):
        parse_config(EXAMPLE.replace('hours = ["09:00-17:00"]', 'hours = ["22:00-06:30"]', 1))


def test_custom_holidays_are_stored_listed_removed_and_move_deadlines(cli: CliRunner, tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = cli.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    ok("db", "upgrade")
    assert "ENERGY is closed on 2026-03-03 Team retreat" in ok("calendar", "add-holiday", "energy", "2026-03-03",
                                                              "Team retreat")
    assert cli.invoke(app, ["calendar", "add-holiday", "ENERGY", "2026-03-03"]).exit_code == 2
    assert cli.invoke(app, ["calendar", "add-holiday", "COOKING", "2026-03-03"]).exit_code == 2
    assert "in the past" in ok("calendar", "add-holiday", "MRV", "2020-01-02")
    listing = ok("calendar", "list")
    assert "Team retreat" in listing and "2020-01-02" in listing
    assert "2020-01-02" not in ok("calendar", "list", "--queue", "ENERGY")
    ok("calendar", "remove-holiday", "MRV", "2020-01-02")
    assert cli.invoke(app, ["calendar", "remove-holiday", "MRV", "2020-01-02"]).exit_code == 2

    async def deadline() -> datetime:
        desk = await start_desk(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
                                         _env_file=None), with_kb=False)  # type: ignore[call-arg]
        try:
            assert desk.app.services is not None
            return desk.app.services.sla.due("ENERGY", "normal", "first_response", datetime(2026, 3, 2, 9, tzinfo=EAT))
        finally:
            await desk.app.stop()

    assert asyncio.run(deadline()) == datetime(2026, 3, 5, 9, tzinfo=EAT)  # Tuesday closed: Thursday, not Wednesday
