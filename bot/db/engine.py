"""Engine creation: a pooled engine on PostgreSQL, one serialised writer connection on SQLite."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says where and why (never the password)."""


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs."""
    return make_url(url).get_backend_name() == "sqlite"


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def to_json(value: Any) -> str:
    """JSON columns are written with orjson: every batch stores buttons, triage candidates and state."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, pool_size: int = 10, schema: str | None = None) -> AsyncEngine:
    """An async engine tuned for the message path.

    SQLite gets ONE connection (a single writer in WAL mode with synchronous=NORMAL):
    many aiosqlite connections fight over the write lock and end in "database is locked".
    """
    json = {"json_serializer": to_json, "json_deserializer": orjson.loads}
    if is_sqlite(url):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60, **json)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    # LIFO: the connection used last is handed out again, so the hot path keeps to a few connections whose
    # prepared statements are warm (FIFO would cycle through all of them, preparing each statement on each).
    # Pre-ping: a pooled connection the server dropped (restart, outage, a proxy cut) is found when it is checked
    # out and replaced, so the first statement after the database comes back succeeds (one short round trip).
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_use_lifo=True,
                               pool_pre_ping=True, connect_args=connect_args, **json)
