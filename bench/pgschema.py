"""The benchmarks' PostgreSQL server (BENCH_PG) and a throwaway schema for a run.

BENCH_PG is one URL for every benchmark, ``postgresql://user@host:port/db`` (the SQLAlchemy form
``postgresql+asyncpg://…`` is read the same): `PG_DSN` is it for asyncpg, `PG_URL` for the help desk.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

from bot.settings import Settings

PG_DSN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test").replace("postgresql+asyncpg://",
                                                                                         "postgresql://", 1)
PG_URL = PG_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)


@contextlib.asynccontextmanager
async def pg_settings() -> AsyncIterator[Settings]:
    """Settings on a fresh schema of the benchmark database, dropped afterwards."""
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_DSN)
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Settings(database_url=PG_URL, database_schema=schema, _env_file=None)  # type: ignore[call-arg]
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
