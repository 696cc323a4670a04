"""Shared fixtures: a migrated database per test (SQLite file or a fresh PostgreSQL schema)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.settings import Settings
from tests.desk import Desk, start_desk

PG_URL = os.environ.get("HELPDESK_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("HELPDESK_REQUIRE_POSTGRES") == "1"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _pg_available() -> bool:
    url = make_url(PG_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=3).close()
    except OSError:
        return False
    return True


_PG_STATE: dict[str, bool] = {}


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not reachable."""
    if "ok" not in _PG_STATE:
        _PG_STATE["ok"] = _pg_available()
    if not _PG_STATE["ok"]:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (HELPDESK_REQUIRE_POSTGRES=1) but {PG_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


async def _drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


async def _create_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HTTP proxy from the environment: subprocesses and clients talk to local fakes directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings on a fresh SQLite file (web chat uploads in the test's own folder)."""
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}",  # type: ignore[call-arg]
                    helpdesk_files_dir=tmp_path / "files", _env_file=None)


@pytest.fixture
async def pg_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings on a fresh, empty PostgreSQL schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _create_schema(schema)
    try:
        yield Settings(database_url=PG_URL, database_schema=schema,  # type: ignore[call-arg]
                       helpdesk_files_dir=tmp_path / "files", _env_file=None)
    finally:
        await _drop_schema(schema)


@pytest.fixture(params=["sqlite", "pg"])
def any_settings(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Run the test on both databases."""
    yield request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    """A help desk on SQLite with the shipped config, a fake clock and in-memory channels (tests/desk.py)."""
    d = await start_desk(sqlite_settings)
    yield d
    await d.app.stop()
