"""The built wheel works alone: installed into a fresh venv outside the checkout, as an operator would.

The wheel is built from the files the Dockerfile copies (offline: `--no-build-isolation`, the dev venv's
setuptools), installed with `--no-deps` into a new venv that sees the dev venv's third-party packages
through a `.pth` path line (a path line only: the checkout's editable install is not activated there), and
run from an empty folder: `db upgrade`, `kb import` of the shipped KB, a login link for a configured
expert, a console question, `run` until SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.desk_process import free_port

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "bot", "handlers", "kb", "migrations")  # what the Dockerfile copies

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("no_proxy")]


def _sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the venv it is installed in), both outside the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(path, src / name)
    _sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "--wheel-dir", base / "dist", src, cwd=base)
    wheel = next((base / "dist").glob("leds_helpdesk-*.whl"))
    venv = base / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    site = Path(_sh(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=base).strip())
    (site / "dev_venv_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _sh(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
        "-q", wheel, cwd=base)
    yield wheel, venv


def test_the_wheel_ships_config_migrations_and_kb_but_no_fakes(installed: tuple[Path, Path]) -> None:
    names = set(zipfile.ZipFile(installed[0]).namelist())
    for shipped in ("bot/helpdesk.example.toml", "migrations/env.py", "migrations/script.py.mako",
                    "migrations/versions/0001_initial_schema.py", "kb/content/energy.yaml", "bot/locales/fr.toml",
                    "bot/web/templates/dashboard.html"):
        assert shipped in names
    assert not [n for n in names if "fakes" in n or n.startswith("tests/") or n.startswith("bench/")]


def test_installed_wheel_migrates_imports_the_starter_kb_answers_and_runs(installed: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    venv = installed[1]
    helpdesk = venv / "bin" / "helpdesk"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HELPDESK_"))}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}", "LOG_LEVEL": "WARNING",
            "HELPDESK_HTTP_PORT": str(port), "HELPDESK_FILES_DIR": str(tmp_path / "files"), "COLUMNS": "300"}
    where = _sh(venv / "bin" / "python", "-c", "import bot, migrations; print(bot.__file__, migrations.__file__)",
                cwd=tmp_path, env=env)
    assert str(ROOT) not in where and where.count(str(venv)) == 2, where

    assert "database upgraded to head" in _sh(helpdesk, "db", "upgrade", cwd=tmp_path, env=env)
    imported = _sh(helpdesk, "kb", "import", cwd=tmp_path, env=env)
    assert "site-packages/kb/content" in imported and "added 70" in imported.replace(",", ""), imported
    assert "/login?token=" in _sh(helpdesk, "users", "login-link", "lena", cwd=tmp_path, env=env)
    assert "[service]" in _sh(helpdesk, "config", "example", cwd=tmp_path, env=env)

    chat = _sh(helpdesk, "console", cwd=tmp_path, env=env,
               stdin="What does a Biennial Transparency Report contain?\n/quit\n")
    assert "Source: https://unfccc.int" in chat, chat

    with (tmp_path / "run.log").open("w") as log:
        proc = subprocess.Popen([str(helpdesk), "run"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/chat", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, (tmp_path / "run.log").read_text()
