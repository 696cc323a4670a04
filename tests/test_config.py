"""The service config: the shipped example is valid; mistakes name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config

EXAMPLE = DEFAULT_CONFIG.read_text(encoding="utf-8")


def test_example_config_has_the_seven_queues_and_domain_defaults() -> None:
    cfg = load_config()
    assert cfg.queue_ids == ["STRATEGY", "MRV", "ENERGY", "TRANSPORT", "AFOLU", "FINANCE", "SUBNATIONAL"]
    policy = cfg.policy("MRV", "normal")
    assert (policy.first_response, policy.resolution, policy.unclaimed_reminder) == ("2d", "10d", "4h")
    assert (policy.lead_escalation, policy.claim_expiry, policy.pre_breach_percent) == ("1d", "2d", 75)
    assert cfg.policy("ENERGY", "urgent").calendar_time


def broken(old: str, new: str) -> str:
    assert old in EXAMPLE
    return EXAMPLE.replace(old, new, 1)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('first_response = "2d"', 'first_response = "-2d"', "sla.default.first_response: '-2d' is not a duration"),
    ("pre_breach_percent = 75", "pre_breach_percent = 120", "sla.default.pre_breach_percent: must be between 1"),
    ('calendar = "nairobi"', 'calendar = "mars"', "queue ENERGY: unknown calendar 'mars'"),
    ('id = "MRV"', 'id = "STRATEGY"', "duplicate queue ids"),
    ('hours = ["08:00-17:00"]', 'hours = ["17:00-08:00"]', "calendars.latam.hours: '17:00-08:00' ends before"),
    ('hours = ["08:00-12:30", "13:30-17:00"]', 'hours = ["08:00-12:30", "12:00-17:00"]', "overlap"),
    ("reopen_days = 14", "reopen_days = 14\nreopen_dayz = 3", "service.reopen_dayz: Extra inputs are not permitted"),
    ('[sla.urgent]', '[sla.critical]', "sla: unknown priority ['critical']"),
    ('id = "ENERGY"', 'id = "energy"', "queues[energy].id: queue ids are 2-32 capitals"),
])
def test_mistakes_are_reported_with_file_key_and_problem(old: str, new: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(broken(old, new), "helpdesk.toml")
    message = str(caught.value)
    assert message.startswith("helpdesk.toml: ")
    assert expected in message, message


def test_bad_toml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"x.toml: not valid TOML: .*line 2"):
        parse_config('[service]\nname = "unterminated\n', "x.toml")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
