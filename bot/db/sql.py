"""Small dialect-aware Core helpers for PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Table, case, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SQL aggregate: how many rows of the group meet `condition` (no bound values: safe in any GROUP BY query)."""
    return func.sum(case((condition, literal_column("1", Integer)), else_=literal_column("0", Integer)))


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT for this connection's database."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(conn: AsyncConnection, table: Table, keys: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING."""
    stmt: Insert = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys))
    return stmt


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Insert] = {}


async def upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, updating the non-key columns of rows that already exist (the statement is built once
    per table and columns: every batch that changes a conversation runs it)."""
    if not rows:
        return
    key = (conn.dialect.name, table.name, tuple(rows[0]), tuple(keys))
    if key not in _UPSERTS:
        stmt = dialect_insert(conn, table)
        updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        _UPSERTS[key] = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    await conn.execute(_UPSERTS[key], rows)


def skip_locked(conn: AsyncConnection) -> dict[str, Any]:
    """`with_for_update` arguments: SKIP LOCKED on PostgreSQL, nothing on SQLite (one writer)."""
    return {"skip_locked": True} if conn.dialect.name == "postgresql" else {}
