"""Alembic environment. `bot.db.migrate` hands it an open connection; plain `alembic` gets a URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy.engine import Connection

from bot.db.engine import create_engine
from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    """Run the migrations on one synchronous connection."""
    report: Callable[[], None] | None = config.attributes.get("on_version_apply")  # bot.db.migrate's progress

    def applied(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any],
                run_args: Mapping[str, Any]) -> None:
        if report is not None:
            report()

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=applied if report is not None else None,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    """Open an engine on the URL and migrate."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(run_on)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; use `helpdesk db upgrade`")
given = config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(run_from_url(config.get_main_option("sqlalchemy.url") or ""))
