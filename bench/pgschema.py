"""A throwaway PostgreSQL schema for a benchmark run."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

from bot.settings import Settings

PG_DSN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.asynccontextmanager
async def pg_settings() -> AsyncIterator[Settings]:
    """Settings on a fresh schema of the benchmark database, dropped afterwards."""
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_DSN)
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        url = PG_DSN.replace("postgresql://", "postgresql+asyncpg://")
        yield Settings(database_url=url, database_schema=schema, _env_file=None)  # type: ignore[call-arg]
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
