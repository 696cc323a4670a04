"""Long CLI work shows progress: a rich bar on a terminal, plain periodic lines when not."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli.main import app
from bot.cli.progress import progress

ROOT = Path(__file__).resolve().parents[1]


def test_plain_lines_at_most_every_few_seconds_and_one_at_the_end() -> None:
    out = io.StringIO()
    with progress("kb eval: queries", Console(file=out, force_terminal=False), every=3600) as report:
        for done in range(1, 1001):
            report(done, 1000)
    assert out.getvalue().splitlines() == ["kb eval: queries: 1000/1000 (100%), 0 s"]
    out = io.StringIO()
    with progress("kb eval: queries", Console(file=out, force_terminal=False), every=0) as report:
        for done in (1, 2):
            report(done, 4)
    assert out.getvalue().splitlines()[0] == "kb eval: queries: 1/4 (25%), 0 s"


def test_a_terminal_gets_a_bar() -> None:
    out = io.StringIO()
    with progress("kb tune: queries", Console(file=out, force_terminal=True, width=100)) as report:
        report(50, 100)
    assert "kb tune: queries" in out.getvalue() and "50/100" in out.getvalue()


def test_db_upgrade_kb_import_and_kb_eval_report_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", "LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    revisions = len(list((ROOT / "migrations" / "versions").glob("0*.py")))
    assert upgraded.exit_code == 0, upgraded.output
    assert f"db upgrade: revisions: {revisions}/{revisions} (100%)" in upgraded.output, upgraded.output
    imported = runner.invoke(app, ["kb", "import"], env=env)
    assert imported.exit_code == 0 and "kb import: entries: 70/70 (100%)" in imported.output, imported.output
    evaluated = runner.invoke(app, ["kb", "eval", str(ROOT / "kb" / "eval"), "--kb", str(ROOT / "kb" / "content")],
                              env=env)
    assert evaluated.exit_code == 0 and "kb eval: queries: 154/154 (100%)" in evaluated.output, evaluated.output
