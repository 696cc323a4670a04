"""Run Alembic migrations programmatically (used by the CLI, the app and the tests)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

Progress = Callable[[int, int], None]
# The `migrations` package ships in the wheel (env.py, script.py.mako, versions/*.py): found where it is installed.
MIGRATIONS_DIR = Path(str(resources.files("migrations")))


def alembic_config(url: str = "") -> Config:
    """An Alembic config pointing at the project's migrations directory."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _command(connection: Connection, action: str, revision: str, progress: Progress | None = None) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    if progress is not None:  # migrations/env.py reports each applied revision (Alembic's on_version_apply)
        current = _current(connection)
        steps = len(list(ScriptDirectory.from_config(cfg).iterate_revisions(revision, current)))
        applied = 0

        def one_more() -> None:
            nonlocal applied
            applied += 1
            progress(applied, steps)

        cfg.attributes["on_version_apply"] = one_more
        progress(0, steps)
    getattr(command, action)(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head", progress: Progress | None = None) -> None:
    """Upgrade the schema to `revision` (`progress(done, total)` after each revision applied)."""
    async with engine.begin() as conn:
        await conn.run_sync(_command, "upgrade", revision, progress)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Downgrade the schema to `revision`."""
    async with engine.begin() as conn:
        await conn.run_sync(_command, "downgrade", revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def is_current(engine: AsyncEngine) -> bool:
    """True when the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with engine.connect() as conn:
        return await conn.run_sync(_current) == head
