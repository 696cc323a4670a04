"""Layering rules: the import-linter contracts of pyproject.toml (run by `make lint` too) hold and bite."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _contract(name_start: str) -> dict[str, Any]:
    return next(c for c in CONTRACTS if c["name"].startswith(name_start))


def test_the_chat_library_contract_covers_every_module_outside_bot_channels() -> None:
    """A module added to `bot/` falls under the contract too (import-linter lists sources, it cannot exclude)."""
    listed = set(_contract("Telegram and Slack")["source_modules"])
    modules = {f"bot.{p.stem if p.is_file() else p.name}" for p in (ROOT / "bot").iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert modules - {"bot.channels"} <= listed, f"add to the contract: {sorted(modules - listed - {'bot.channels'})}"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(root)})


def test_contracts_hold_and_a_new_violation_breaks_them(tmp_path: Path) -> None:
    assert _lint(ROOT).returncode == 0, _lint(ROOT).stdout
    for name in ("bot", "handlers", "kb"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "handlers" / "newcomer.py").write_text("from sqlalchemy import select\nimport telegram\n")
    (tmp_path / "kb" / "leaky.py").write_text("import bot.config\n")
    (tmp_path / "bot" / "core" / "upward.py").write_text("import handlers.asker\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "5 kept" not in out.stdout and "BROKEN" in out.stdout
    for line in ("handlers.newcomer -> sqlalchemy", "handlers.newcomer -> telegram", "kb.leaky -> bot.config",
                 "bot.core.upward -> handlers.asker"):
        assert line in out.stdout, out.stdout


def test_nothing_connects_at_import_time() -> None:
    """Modules build engines and read settings only inside functions (the composition root)."""
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/*.py")]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.Expr) and isinstance(getattr(node, "value", None), ast.Call):
                name = ast.unparse(node.value.func)  # type: ignore[union-attr]
                assert not any(word in name for word in ("create_engine", "Settings", "connect")), \
                    f"{path.relative_to(ROOT)}: {name}() at import time"
