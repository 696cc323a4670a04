"""The `helpdesk` command line as an administrator uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import event_loop
from bot.app import build_app
from bot.cli.main import app
from bot.config import DEFAULT_CONFIG
from bot.settings import Settings

KB = Path(__file__).resolve().parents[1] / "kb" / "content"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    return CliRunner()


def ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


def test_fresh_database_upgrade_import_list_show(cli: CliRunner) -> None:
    ok(cli, "db", "upgrade")
    out = ok(cli, "kb", "import", str(KB))
    assert "added" in out
    again = ok(cli, "kb", "import", str(KB))
    assert "added 0" in again and "updated 0" in again
    listing = ok(cli, "kb", "list")
    count = int(listing.strip().splitlines()[-1].split()[0])
    assert count >= 40
    spanish = ok(cli, "kb", "list", "--lang", "es")
    assert int(spanish.strip().splitlines()[-1].split()[0]) >= 10
    shown = ok(cli, "kb", "show", "btr-contents")
    assert "source: https://" in shown


def test_kb_import_versions_changes_and_retires_removed_entries(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, "db", "upgrade")
    folder = tmp_path / "kbsrc"
    folder.mkdir()
    (folder / "one.yaml").write_text(
        "- id: first\n  question: What is one?\n  answer: One.\n  queue: MRV\n  lang: en\n"
        "  source: https://example.org/one\n"
        "- id: second\n  question: What is two?\n  answer: Two.\n  queue: MRV\n  lang: en\n"
        "  source: https://example.org/two\n")
    assert "added 2" in ok(cli, "kb", "import", str(folder))
    (folder / "one.yaml").write_text(
        "- id: first\n  question: What is one?\n  answer: One, revised.\n  queue: MRV\n  lang: en\n"
        "  source: https://example.org/one\n")
    out = ok(cli, "kb", "import", str(folder))
    assert "updated 1" in out and "retired 1" in out
    assert "One, revised." in ok(cli, "kb", "show", "first")
    assert cli.invoke(app, ["kb", "show", "second"]).exit_code != 0


def test_malformed_kb_file_names_file_and_line_and_imports_nothing(cli: CliRunner, tmp_path: Path) -> None:
    ok(cli, "db", "upgrade")
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "good.yaml").write_text(
        "- id: fine\n  question: Q?\n  answer: A.\n  queue: MRV\n  lang: en\n  source: https://example.org\n")
    (folder / "broken.yaml").write_text("- id: x\n  question: [unclosed\n")
    result = cli.invoke(app, ["kb", "import", str(folder)])
    assert result.exit_code != 0
    assert "broken.yaml:" in result.output
    assert "0 entries" in ok(cli, "kb", "list")


def test_triage_explains_without_storing(cli: CliRunner) -> None:
    out = ok(cli, "triage", "What does a Biennial Transparency Report contain?", "--kb-dir", str(KB), "--json")
    data = json.loads(out)
    assert data["decision"] == "answer"
    assert data["candidates"][0]["entry_id"] == "btr-contents"
    assert set(data["thresholds"]) == {"answer", "margin", "suggest"}
    assert data["route"]["queue"] == "MRV"
    human = ok(cli, "triage", "hola, ¿cómo diseñar una subasta de energías renovables?", "--kb-dir", str(KB))
    assert "language: es" in human and "decision:" in human


@pytest.mark.parametrize("text", ["4", "ok", "merci", "👍"])
def test_triage_does_not_answer_what_is_not_a_question(cli: CliRunner, text: str) -> None:
    data = json.loads(ok(cli, "triage", text, "--kb-dir", str(KB), "--json"))
    assert data["decision"] == "chatter" and data["candidates"] == [] and data["route"]["queue"] is None


def test_kb_routing_reports_both_sets(cli: CliRunner, tmp_path: Path) -> None:
    out = ok(cli, "kb", "routing", "--kb-dir", str(KB))
    assert "routing.jsonl:" in out and "routing_heldout.jsonl:" in out and "routed as expected" in out
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"text": "How do we reduce deforestation?", "lang": "en", "queue": "MRV"}\n', encoding="utf-8")
    out = ok(cli, "kb", "routing", str(wrong), "--kb-dir", str(KB), "--misses")
    assert "0/1 routed as expected (0.0%)" in out and "expected MRV, got AFOLU" in out
    wrong.write_text("not json\n", encoding="utf-8")
    assert cli.invoke(app, ["kb", "routing", str(wrong), "--kb-dir", str(KB)]).exit_code != 0


def test_staff_named_in_the_config_are_people_after_db_upgrade(cli: CliRunner, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    out = ok(cli, "db", "upgrade")
    assert "staff from the config added as people:" in out and "lena" in out and "sam" in out
    listing = ok(cli, "users", "list")
    assert "lena" in listing and "secretariat" in listing
    assert "/login?token=" in ok(cli, "users", "login-link", "lena")  # no `/as expert:lena` needed first
    assert "added as people" not in ok(cli, "users", "sync")  # idempotent
    config = tmp_path / "more.toml"
    config.write_text(DEFAULT_CONFIG.read_text().replace('leads = ["lena"]', 'leads = ["lena", "noor"]'))
    monkeypatch.setenv("HELPDESK_CONFIG", str(config))
    assert "added as people: noor" in ok(cli, "users", "sync")
    assert "noor*" in ok(cli, "queues", "list")


def test_login_links_point_at_the_running_help_desk(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """A link printed from another shell uses the address the help desk serves at, not this shell's defaults."""
    ok(cli, "db", "upgrade")
    monkeypatch.setenv("HELPDESK_HTTP_PORT", "9123")
    assert ok(cli, "users", "login-link", "lena").startswith("http://127.0.0.1:9123/login?token=")
    desk = build_app(Settings())
    event_loop.run(desk.served_at())  # what `helpdesk run` and `helpdesk console` record once they listen
    event_loop.run(desk.engine.dispose())
    monkeypatch.delenv("HELPDESK_HTTP_PORT")
    assert ok(cli, "users", "login-link", "lena").startswith("http://127.0.0.1:9123/login?token=")
    monkeypatch.setenv("HELPDESK_PUBLIC_URL", "https://desk.example.org")
    assert ok(cli, "users", "login-link", "lena").startswith("https://desk.example.org/login?token=")


def test_users_and_queues(cli: CliRunner) -> None:
    ok(cli, "db", "upgrade")  # amina is a person already (the config names her); this gives her a console identity
    ok(cli, "users", "add", "amina", "--role", "expert", "--name", "Amina K.")
    assert cli.invoke(app, ["users", "add", "amina"]).exit_code != 0
    ok(cli, "users", "add", "zoe", "--role", "practitioner")
    ok(cli, "queues", "add-member", "TRANSPORT", "zoe", "--lead")
    listing = ok(cli, "queues", "list")
    assert "amina*" in listing  # lead of ENERGY in the example config
    assert "zoe*" in listing
    ok(cli, "users", "set-role", "zoe", "secretariat")
    assert "secretariat" in ok(cli, "users", "list")
    assert cli.invoke(app, ["users", "set-role", "zoe", "king"]).exit_code != 0
    assert cli.invoke(app, ["queues", "add-member", "COOKING", "zoe"]).exit_code != 0


def test_config_check(cli: CliRunner, tmp_path: Path) -> None:
    assert "OK" in ok(cli, "config", "check")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[queues]]\nid = "ENERGY"\nname = "Energy"\ncalendar = "mars"\n')
    result = cli.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: " in result.output and "unknown calendar 'mars'" in result.output
    holiday = tmp_path / "holiday.toml"
    holiday.write_text('[calendars.default]\nholiday_country = "XX"\n[[queues]]\nid = "ENERGY"\nname = "E"\n')
    result = cli.invoke(app, ["config", "check", str(holiday)])
    assert result.exit_code == 2 and "XX" in result.output


def test_unreachable_database_is_one_clear_line(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody:secret@127.0.0.1:1/none")
    result = cli.invoke(app, ["kb", "list"])
    assert result.exit_code == 2
    assert "cannot connect to postgresql+asyncpg://nobody:***@127.0.0.1:1/none" in result.output
    assert "Traceback" not in result.output and "secret" not in result.output


def test_app_refuses_to_start_on_an_invalid_config(cli: CliRunner, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[service]\nreopen_days = -1\n")
    monkeypatch.setenv("HELPDESK_CONFIG", str(bad))
    result = cli.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "service.reopen_days: must be greater than zero" in result.output


def test_every_command_has_help(cli: CliRunner) -> None:
    for args in (["--help"], ["kb", "--help"], ["users", "add", "--help"], ["queues", "--help"], ["db", "--help"],
                 ["config", "check", "--help"], ["triage", "--help"], ["console", "--help"]):
        assert "Usage" in ok(cli, *args)
