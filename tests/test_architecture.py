"""Layering rules: the core, the KB and the handlers never import a chat platform's library."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("telegram", "slack_bolt", "slack_sdk", "aiohttp", "starlette")
PURE_KB_FORBIDDEN = (*FORBIDDEN, "sqlalchemy", "bot", "httpx", "requests")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_and_handlers_do_not_know_chat_platforms() -> None:
    for folder in ("bot/core", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            bad = imports(path) & set(FORBIDDEN)
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_kb_is_pure() -> None:
    for path in (ROOT / "kb").glob("*.py"):
        bad = imports(path) & set(PURE_KB_FORBIDDEN)
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_nothing_connects_at_import_time() -> None:
    """Modules build engines and read settings only inside functions (the composition root)."""
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/*.py")]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.Expr) and isinstance(getattr(node, "value", None), ast.Call):
                name = ast.unparse(node.value.func)  # type: ignore[union-attr]
                assert not any(word in name for word in ("create_engine", "Settings", "connect")), \
                    f"{path.relative_to(ROOT)}: {name}() at import time"
